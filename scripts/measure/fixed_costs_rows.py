#!/usr/bin/env python3
"""Rows for workloads/validation/h200_measured.csv from the raw files of one fixed-costs session
(workloads/validation/h200_fixed_costs/: fixed_costs.py's fixed_costs.csv and blocks.csv, t1_profile.py's
kernels.csv, mixed.csv, mixed_small.csv and the Nsight Compute exports). Every value is computed here from
those files; nothing is typed in by hand.

Usage: python3 scripts/measure/fixed_costs_rows.py --start 500 [--append workloads/validation/h200_measured.csv]
"""
import argparse
import csv
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RAW = os.path.join(HERE, "..", "..", "workloads", "validation", "h200_fixed_costs")
SETUP = ("measured on NVIDIA H200 (143771 MiB), driver 580.159.04, CUDA 13.0, 2026-12-04, clocks not locked "
         "(SM clock read from clock64 over globaltimer during the runs: {mhz} MHz)")


def probes():
    out, clocks = {}, []
    for line in open(os.path.join(RAW, "fixed_costs.csv")):
        f = line.strip().split(",")
        if f[0] == "probe":
            g, t, s = int(f[1]), int(f[2]), int(f[3])
            out[(g, t, s)] = dict(per=float(f[4]), span=float(f[5]), ramp=float(f[6]), last=float(f[7]),
                                  gap=float(f[8]), sms=int(f[9]), per_sm=int(f[10]), first_cyc=float(f[12]),
                                  later_cyc=float(f[13]))
        elif f[0] == "clock":
            clocks.append(float(f[4]))
    return out, clocks


def icache():
    out = {}
    for line in open(os.path.join(RAW, "fixed_costs.csv")):
        f = line.strip().split(",")
        if f[0] == "icache":
            out.setdefault((int(f[3]), int(f[4]), int(f[5])), {})[int(f[2])] = [float(x) for x in f[6:12]]
    return out


def turnover(rows, clock_mhz):
    """us between a block's end and the start of the next block in the same slot: blocks spinning 2000 cycles,
    more blocks than slots; each slot runs per_sm / resident blocks one after another."""
    out = []
    for (g, t, s), r in sorted(rows.items()):
        if s != 2000 or g < 8 * 132 or t < 256:
            continue
        resident = 2048 // t  # threads per SM (2048) over the block's threads: these blocks use few registers
        seq = r["per_sm"] / resident
        block_us = r["later_cyc"] / clock_mhz
        out.append((g, t, r["span"] / seq - block_us, seq, block_us))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", type=int, required=True)
    ap.add_argument("--append")
    a = ap.parse_args()
    pr, clocks = probes()
    mhz = statistics.median(clocks)
    setup = SETUP.replace("{mhz}", "%.0f-%.0f" % (min(clocks), max(clocks)))
    probe_how = ("scripts/measure/fixed_costs.py: a kernel whose blocks record globaltimer (32 ns steps) at start "
                 "and end, launched 100 times back to back in one CUDA graph; %s; medians over launches 5-98 of "
                 "the graph, graph time by CUDA events over 7 replays; " + setup.replace("%", "%%"))
    rows = []

    def add(level, workload, dtype, shape, metric, value, unit, source):
        rows.append([level, workload, dtype, shape, metric, value, unit, source])

    for g in (1, 132, 1056):
        for t in (32, 256, 1024):
            r = pr[(g, t, 0)]
            add("micro", "empty kernel in a CUDA graph (time per launch)", "-", "grid %d block %d" % (g, t),
                "latency", "%.3f" % r["per"], "us", probe_how % "no work in the blocks")
            add("micro", "empty kernel in a CUDA graph (gap: last block end to the next launch's first block start)",
                "-", "grid %d block %d" % (g, t), "latency", "%.3f" % r["gap"], "us", probe_how % "no work in the blocks")
            add("micro", "empty kernel in a CUDA graph (span: first block start to last block end)", "-",
                "grid %d block %d" % (g, t), "latency", "%.3f" % r["span"], "us", probe_how % "no work in the blocks")
    for t in (32, 256, 1024):
        r = pr[(132, t, 0)]
        add("micro", "grid start spread (first block start on every SM after the grid's first block)", "-",
            "grid 132 block %d" % t, "latency", "%.3f" % r["ramp"], "us", probe_how % "no work in the blocks")
    r = pr[(1056, 256, 0)]
    add("micro", "first wave dispatch (8 blocks per SM, all resident: the last block start after the grid's first)",
        "-", "grid 1056 block 256", "latency", "%.3f" % r["last"], "us", probe_how % "no work in the blocks")
    for g, t, us, seq, block_us in turnover(pr, mhz):
        add("micro", "block slot turnover (a block's end to the next block's start in the same slot)", "-",
            "grid %d block %d" % (g, t), "latency", "%.3f" % us, "us",
            probe_how % ("blocks spin 2000 cycles; derived as span / %.1f blocks in a row per slot - one block's "
                         "%.3f us (its clock64 cycles at %.0f MHz)" % (seq, block_us, mhz)))
    ic = icache()
    ic_how = ("scripts/measure/fixed_costs.py: straight-line kernels of N independent-chain FFMAs run three times "
              "in a loop by one warp per block, clock64 read after each pass; median over blocks of one launch; " + setup)
    for n in (256, 1024, 4096):
        for g in (1, 132):
            d = ic[(n, g, 32)]
            cases = (("first pass, the kernel launched right after a different kernel (16384 FFMAs)",
                      statistics.mean([d[0][0], d[2][0]])),
                     ("first pass, the kernel launched right after itself", d[1][0]),
                     ("second pass (the code already fetched by this block)", statistics.mean([d[0][1], d[2][1]])))
            for what, cyc in cases:
                add("micro", "instruction fetch: %s" % what, "fp32", "N%d grid %d block 32" % (n, g), "cycles",
                    "%.0f" % cyc, "cycles", ic_how)
    mixed_how = ("scripts/measure/t1_profile.py mixed_small: 13 PyTorch kernels (x.add_, softmax, rms_norm, SwiGLU, "
                 "matmul 64^3 and 512^3, SDPA decode; their data fit L2 together) each alone in a CUDA graph of 64 "
                 "calls, and all 13 one after another in one graph (x%s); extra per kernel = (sequence - sum of the "
                 "alone times) / 13; " + setup.replace("%", "%%"))
    for line in csv.reader(open(os.path.join(RAW, "mixed_small.csv"))):
        if line[0].startswith("sequence of 13 cases x"):
            reps = line[0].split(" x")[1].split(":")[0]
            add("micro", "distinct small kernels one after another in a CUDA graph (extra per kernel over each alone)",
                "bf16", "13 kernels x%s" % reps, "latency", "%.3f" % float(line[3]), "us", mixed_how % reps)
    names_how = ("scripts/measure/t1_profile.py names: torch.profiler device time per kernel, mean of 5 eager calls "
                 "after 3 warm-ups, inputs L2-resident, PyTorch 2.11.0+cu130 (cuBLAS of CUDA 13.0); " + setup)
    for r in csv.DictReader(open(os.path.join(RAW, "kernels.csv"))):
        if not (r["case"].startswith("bf16") or r["case"].startswith("fp32")) or r["kernel"].startswith("Memset"):
            continue
        k = r["kernel"]
        short = k.split("<")[0].replace("void ", "")
        if "cutlass" in k:
            short = k.split("<")[1].split(">")[0]
        add("micro", "GEMM torch.matmul: kernel %s" % short, r["case"].split()[0], "b1 " + " ".join(r["case"].split()[1:]),
            "latency", "%.3f" % float(r["mean_us"]), "us", names_how)
    rows += ncu_rows(setup)
    rows += width_rows(setup)
    rows += cluster_rows(setup)
    rows += latency_rows(setup)
    rows += tma_rows(setup)
    w = csv.writer(sys.stdout if not a.append else open(a.append, "a", newline=""), lineterminator="\n")
    for i, r in enumerate(rows):
        w.writerow(["G%03d" % (a.start + i), "H200"] + r)
    print("%d rows from G%03d" % (len(rows), a.start), file=sys.stderr)


def ncu_export(name):
    """(case, {column: value}, threads per block, blocks) for each kernel of a trimmed Nsight Compute export, its
    case the NVTX range t1_profile.py named it by ("softmax bf16 T1 D4096")."""
    rows = list(csv.reader(open(os.path.join(RAW, name))))
    hdr = rows[0]
    nv = [i for i, h in enumerate(hdr) if h.startswith("thread Domain")][0]

    def product(dims):
        n = 1
        for x in dims.strip("()").split(","):
            n *= int(x)
        return n

    for row in rows[2:]:
        case = (row[nv].split(":")[1] if ":" in row[nv] else row[nv]).split(":none")[0]
        col = dict(zip(hdr, row))
        yield case, col, product(col["Block Size"]), product(col["Grid Size"])


def ncu_rows(setup):
    """Warp instructions per block of the row kernels, as Nsight Compute counts them."""
    how = ("Nsight Compute 2025.3.1 (--clock-control none --cache-control none, metrics smsp__inst_executed.sum and "
           "smsp__inst_executed_pipe_{alu,fma,xu,lsu,cbu,adu}.sum, in ncu_pipes.csv) on scripts/measure/"
           "t1_profile.py ncu, third of three profiled calls; per block = sum / blocks; PyTorch 2.11.0+cu130; " + setup)
    out, seen = [], set()
    for case, col, threads, blocks in ncu_export("ncu_pipes.csv"):
        if not any(k in case for k in ("softmax bf16 T1 ", "rms_norm bf16 T1 ", "x.add_(1) fp32 n=1024")):
            continue
        key = (case, col["Kernel Name"])
        if key in seen:
            continue
        seen.add(key)
        inst = float(col["smsp__inst_executed.sum"].replace(",", "")) / blocks
        label = case.replace("bf16 ", "").replace("fp32 ", "")
        dtype = "bf16" if "bf16" in case else "fp32"
        shape = label.split(" ", 1)[1] if " " in label else label
        out.append(["micro", "%s kernel: warp instructions executed per block (%d threads)" % (label.split(" ")[0], threads),
                    dtype, shape, "instructions", "%.0f" % inst, "inst", how])
    return out


def width_rows(setup):
    """Softmax and RMSNorm on one row of several widths (t1_profile.py rows_time and rows_ncu): time per call
    in a CUDA graph with the row L2-resident, and Nsight Compute's instructions and registers per block."""
    how_t = ("scripts/measure/t1_profile.py rows_time: one row, one buffer (L2-resident), a CUDA graph of 64 calls, "
             "median of 7 replays; PyTorch 2.11.0+cu130; " + setup)
    out = []
    for r in csv.reader(open(os.path.join(RAW, "rows_time.csv"))):
        if r[0] == "case":
            continue
        op, dtype, t, d = r[0].split()
        wl = "softmax torch.softmax(dim=-1)" if op == "softmax" else "RMSNorm F.rms_norm"
        out.append(["micro", wl + " on one L2-resident row in a CUDA graph", dtype, "%s %s" % (t, d), "latency",
                    "%.3f" % float(r[1]), "us", how_t])
    how_n = ("Nsight Compute 2025.3.1 (--clock-control none --cache-control none, smsp__inst_executed.sum per block, "
             "launch__registers_per_thread; ncu_rows.csv) on scripts/measure/t1_profile.py rows_ncu, one call per "
             "width after 3 warm-ups; PyTorch 2.11.0+cu130; " + setup)
    for case, col, threads, _ in ncu_export("ncu_rows.csv"):
        op, dtype, t, d = case.split()
        kname = col["Kernel Name"].split("(")[0].split("<")[0].replace("void ", "").split("::")[-1]
        inst = float(col["smsp__inst_executed.sum"].replace(",", ""))
        out.append(["micro", "%s kernel %s: warp instructions executed per block (%d threads)" % (op, kname, threads),
                    dtype, "%s %s" % (t, d), "instructions", "%.0f" % inst, "inst", how_n])
        out.append(["micro", "%s kernel %s: registers per thread" % (op, kname), dtype, "%s %s" % (t, d),
                    "registers", col["launch__registers_per_thread"], "registers", how_n])
    return out


def cluster_rows(setup):
    """cluster_probe.py: a block's start to the end of its mbarrier set-up and to its cluster barrier."""
    how = ("scripts/measure/cluster_probe.py: blocks of %d threads read clock64 at entry, thread 0 initializes 8 "
           "mbarriers and fences them (fence.mbarrier_init), then the cluster meets at cluster.sync() (size 1: "
           "__syncthreads); a CUDA graph of 100 launches of a %d-block grid, medians over blocks and launches 5-98; "
           + setup.replace("%", "%%"))
    out = []
    for line in open(os.path.join(RAW, "cluster_probe.csv")):
        f = line.strip().split(",")
        if f[0] != "cluster":
            continue
        cs, grid, threads = int(f[1]), int(f[2]), int(f[3])
        if grid != 132:
            continue
        shape = "cluster %d grid %d block %d" % (cs, grid, threads)
        out.append(["micro", "kernel prologue: block start to its cluster barrier passed (mbarrier set-up included)", "-",
                    shape, "cycles", f[7], "cycles", how % (threads, grid)])
        out.append(["micro", "kernel prologue: block start to 8 mbarriers initialized and fenced", "-", shape, "cycles",
                    f[9], "cycles", how % (threads, grid)])
        out.append(["micro", "cluster kernel in a CUDA graph (time per launch)", "-", shape, "latency", f[4], "us",
                    how % (threads, grid)])
    return out


def latency_rows(setup):
    """latency_probe.py: one thread's dependent loads (pointer chase) hitting L1, L2 and, after a scrub, HBM."""
    how = ("scripts/measure/latency_probe.py: one thread chases a random cyclic chain of %s; %s; clock64 and "
           "globaltimer over 4096 dependent loads; " + setup.replace("%", "%%"))
    out = []
    for line in open(os.path.join(RAW, "latency_probe.csv")):
        f = line.strip().split(",")
        if f[0] not in ("chase", "cold"):
            continue
        size, stride, ld = int(f[1]), int(f[2]), f[3]
        fp = "%d KiB" % (size >> 10) if size < (1 << 20) else "%d MiB" % (size >> 20)
        chain = "lines %d bytes apart over %s" % (stride, fp)
        if f[0] == "chase":
            level = "L1" if float(f[4]) < 100 else "L2"
            what = "load-to-use latency, %s hit (ld.%s, chain warmed by one pass)" % (level, ld)
            cond = "the chain walked once before timing"
        else:
            what = "load-to-use latency, HBM (ld.cg, first touch after L2 was scrubbed)"
            cond = "512 MiB of writes first evict it from L2; each timed load is a first touch"
        for metric, v, unit in (("latency", f[5], "ns"), ("cycles", f[4], "cycles")):
            out.append(["micro", what, "-", "%s stride %d" % (fp, stride), metric, v, unit, how % (chain, cond)])
    return out


def tma_rows(setup):
    """tma_probe.py: one cp.async.bulk (global -> shared, completing on an mbarrier) at a time, by size."""
    how = ("scripts/measure/tma_probe.py: one thread issues a bulk copy of %s bytes to shared memory "
           "(cp.async.bulk ... mbarrier::complete_tx::bytes), waits on the mbarrier, issues the next; %s; "
           "mean over the copies (clock64, globaltimer); " + setup.replace("%", "%%"))
    src_how = {"l2": "64 sources 64 KiB apart, read once before timing (L2 hits)",
               "hbm": "256 sources 1 MiB apart, first touches after 512 MiB of writes scrubbed L2"}
    out = []
    for line in open(os.path.join(RAW, "tma_probe.csv")):
        f = line.strip().split(",")
        if f[0] not in ("tma", "ld"):
            continue
        src, nbytes = f[1], f[2]
        if f[0] == "tma":
            what = "TMA bulk copy latency (issue to mbarrier completion) from %s" % src.upper()
            cond = how % (nbytes, src_how[src])
        else:
            what = "ld.global.cg 16 B latency in the same loop (dependent address) from %s" % src.upper()
            cond = how.replace("issues a bulk copy of %s bytes to shared memory (cp.async.bulk ... "
                               "mbarrier::complete_tx::bytes), waits on the mbarrier, issues the next",
                               "loads 16 bytes (ld.global.cg), the next address depending on it%s") % ("", src_how[src])
        out.append(["micro", what, "-", "%s bytes" % nbytes, "latency", f[4], "ns", cond])
    return out


if __name__ == "__main__":
    main()
