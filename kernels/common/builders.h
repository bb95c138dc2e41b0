// Family-independent instruction and program builders: every lowering emits its transactions through
// these (DMA, tile compute, vector op, sync), so an instruction's fields are filled in one place and
// functional-mode semantics are attached by one emitter instead of by hand at every site.
// Family wrappers (kernels/<family>_builders.h) fix the engine and level encodings of each ISA.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "sim/base/program.h"
#include "workloads/op.h"

namespace xpu::build {

// An instruction of `kind` on `engine` at memory `level` (the fields every kind sets).
inline Instr instr(TxKind kind, std::uint8_t engine, std::uint8_t level, DType d) {
  Instr in;
  in.kind = kind, in.engine = engine, in.level = level, in.dtype = d;
  return in;
}

// A DMA: `kind` DmaRead or DmaWrite on `engine`, touching memory `level`; m x n is the transfer's
// shape as the family's ISA defines it (rows, runs, partitions).
inline Instr dma(TxKind kind, std::uint8_t engine, std::uint8_t level, DType d, std::uint64_t addr, std::uint64_t bytes,
                 std::uint32_t m = 0, std::uint32_t n = 0) {
  Instr in = instr(kind, engine, level, d);
  in.addr = addr, in.bytes = bytes, in.m = m, in.n = n;
  return in;
}

// Tile compute (MMA, systolic fold, matmul tile): shape m x n x k, useful `flops`, operand `bytes`.
inline Instr mma(std::uint8_t engine, DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops,
                 std::uint64_t bytes, std::uint8_t level = 0) {
  Instr in = instr(TxKind::TileCompute, engine, level, d);
  in.m = m, in.n = n, in.k = k, in.flops = flops, in.bytes = bytes;
  return in;
}

// A vector op over m x n elements (k: the family's per-element extra, e.g. special functions).
inline Instr vec(std::uint8_t engine, DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops,
                 std::uint64_t bytes, std::uint8_t level = 0) {
  Instr in = mma(engine, d, m, n, k, flops, bytes, level);
  in.kind = TxKind::VectorOp;
  return in;
}

// A sync on `engine` (n: the family's count, e.g. TPU grid steps).
inline Instr sync(std::uint8_t engine, std::uint32_t n = 0) {
  Instr in = instr(TxKind::Sync, engine, 0, Instr{}.dtype);
  in.n = n;
  return in;
}

// `in` waiting for up to three earlier instructions (kNoDep: none).
inline Instr after(Instr in, std::uint32_t a, std::uint32_t b = kNoDep, std::uint32_t c = kNoDep) {
  in.dep[0] = a, in.dep[1] = b, in.dep[2] = c;
  return in;
}

// Makes copy `in` complete, as its dependants see it, no earlier than `prev`, an earlier copy (Instr::k of
// a DMA): a chain of copies that one consumer waits for as a whole, through the chain's last.
inline void join(Instr& in, std::uint32_t prev) { in.k = prev + 1; }

// Appends instructions to a task and attaches functional-mode semantics in one place: `func` is a
// FuncOp or a callable that returns one, built (and attached) only when the program is functional.
class Emitter {
 public:
  Emitter(Task& task, bool functional) : m_task(task), m_functional(functional) {}
  std::uint32_t operator()(const Instr& in) { return m_task.add(in); }
  template <class F>
  std::uint32_t operator()(const Instr& in, F&& func) {
    if (!m_functional) return m_task.add(in);
    if constexpr (std::is_invocable_v<F>) return m_task.add(in, std::forward<F>(func)());
    else return m_task.add(in, std::forward<F>(func));
  }
  bool functional() const { return m_functional; }
  Task& task() { return m_task; }

 private:
  Task& m_task;
  bool m_functional;
};

using MakeTask = std::function<void(std::uint64_t index, Task& out)>;

// A kernel launch of `tasks` tasks whose roofline is the op's (FLOPs and compulsory bytes).
inline Program program(const std::string& name, const OpSpec& op, const std::string& strategy, std::uint64_t tasks,
                       MakeTask make, bool functional = false) {
  Program p;
  p.name = name;
  p.op = op.label;
  p.strategy = strategy;
  p.num_tasks = tasks;
  p.make_task = std::move(make);
  p.roofline = {op.flops(), op.min_bytes()};
  p.functional = functional;
  return p;
}

// A helper launch that adds no useful work of its own (split-K reduction, split combine): roofline 0.
inline Program helper_program(const std::string& name, const OpSpec& op, const std::string& strategy, std::uint64_t tasks,
                              MakeTask make, bool functional = false) {
  Program p = program(name, op, strategy, tasks, std::move(make), functional);
  p.roofline = {0, 0};
  return p;
}

// A launch of one task per executor (per-core instruction streams): task i runs on executor i mod E.
inline Program static_program(Program p) {
  p.static_placement = true;
  return p;
}

}  // namespace xpu::build

namespace xpu::fop {
// buf[dst] = zeros(rows, cols): an accumulator cleared at the start of a tile.
inline FuncOp zero(int dst, int rows, int cols) {
  FuncOp f;
  f.code = FuncCode::Zero;
  f.dst = dst;
  f.rows = rows;
  f.cols = cols;
  return f;
}
// buf[dst] = buf[a] with the (query, key) pairs that `pos` hides set to -inf.
inline FuncOp mask(int dst, int a, const FuncOp::PosArgs& pos) {
  FuncOp f;
  f.code = FuncCode::Mask;
  f.dst = dst, f.a = a;
  f.pos = pos;
  return f;
}
// buf[dst] = rotary embedding of buf[a] (heads of `head_dim` columns), inverse frequencies buf[b],
// positions buf[c].
inline FuncOp rope(int dst, int a, int b, int c, int head_dim) {
  FuncOp f;
  f.code = FuncCode::Rope;
  f.dst = dst, f.a = a, f.b = b, f.c = c;
  f.pos.head_dim = head_dim;
  return f;
}
// tensor[view] += buf[a], rounded as a store to `d` (split-K partial sums).
inline FuncOp store_add(int a, int tensor, int row0, int col0, int rows, int cols, DType d) {
  FuncOp f = store(a, tensor, row0, col0, rows, cols, d);
  f.code = FuncCode::StoreAdd;
  return f;
}
}  // namespace xpu::fop
