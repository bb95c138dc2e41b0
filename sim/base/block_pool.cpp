// The huge-page block pool (see block_pool.h for what it serves and its bounds).
#include "sim/base/block_pool.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>
#include <cstdio>

namespace xpu::block_pool {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kReturnBytes = std::size_t{8} << 20;  // blocks whose pages are given back when freed
constexpr int kMinShift = 10;                       // kMinBlock = 2^10
constexpr int kMaxShift = 25;                       // blocks up to kChunkBytes = 2^25
constexpr int kSteps = 8;                           // size classes per octave
constexpr int kClasses = (kMaxShift - kMinShift + 1) * kSteps;

// The class of a request and the block size it gets: `bytes` rounded up to a multiple of an eighth of
// its octave.
struct SizeClass {
  int index;
  std::size_t bytes;
};
SizeClass size_class(std::size_t bytes) {
  const int e = 63 - __builtin_clzll(bytes);
  const std::size_t step = std::size_t{1} << (e - 3);
  const std::size_t r = (bytes + step - 1) & ~(step - 1);
  const int er = 63 - __builtin_clzll(r);  // r may reach the next octave
  return {(er - kMinShift) * kSteps + static_cast<int>(r >> (er - 3)) - kSteps, r};
}

bool pool_enabled() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;  // the sanitizers check every block of their own allocator
#else
  const char* off = std::getenv("XPUSIM_NO_BLOCK_POOL");
  return !(off && *off && std::strcmp(off, "0") != 0);
#endif
}

struct Pool {
  std::mutex mutex;
  bool enabled = pool_enabled();
  char* chunks[kMaxChunks] = {};
  std::size_t count = 0;
  char* top = nullptr;  // bump pointer in the last chunk
  char* end = nullptr;
  std::vector<void*> free_list[kClasses];  // blocks kept for reuse
  Usage use;

  bool owns(const void* p) const {
    for (std::size_t i = 0; i < count; ++i)
      if (p >= chunks[i] && p < chunks[i] + kChunkBytes) return true;
    return false;
  }
  // A fresh chunk, 2 MiB-aligned, advised onto huge pages (a hint: without THP it is plain memory).
  bool add_chunk() {
    if (count == kMaxChunks) return false;
    void* m = mmap(nullptr, kChunkBytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return false;
    char* raw = static_cast<char*>(m);
    char* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHugePage - 1) & ~(kHugePage - 1));
    if (base > raw) munmap(raw, static_cast<std::size_t>(base - raw));
    const std::size_t tail = static_cast<std::size_t>(raw + kChunkBytes + kHugePage - (base + kChunkBytes));
    if (tail > 0) munmap(base + kChunkBytes, tail);
    madvise(base, kChunkBytes, MADV_HUGEPAGE);
    chunks[count++] = base;
    top = base;
    end = base + kChunkBytes;
    ++use.chunks;
    return true;
  }
};

thread_local int t_scopes = 0;  // scopes open on this thread (coroutines of one thread share it)

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: blocks may be released during static destruction
  return *p;
}

}  // namespace

Scope::Scope() { ++t_scopes; }
Scope::~Scope() {
  if (t_scopes > 0) --t_scopes;  // none left once close_scopes() ran
}
void close_scopes() { t_scopes = 0; }

void* allocate(std::size_t bytes) noexcept {
  if (t_scopes == 0 || bytes < kMinBlock || bytes > kChunkBytes) return nullptr;
  Pool& p = pool();
  if (!p.enabled) return nullptr;
  const SizeClass c = size_class(bytes);
  std::lock_guard<std::mutex> lock(p.mutex);
  std::vector<void*>& kept = p.free_list[c.index];
  if (!kept.empty()) {
    void* b = kept.back();
    kept.pop_back();
    p.use.free -= c.bytes;
    p.use.in_use += c.bytes;
    return b;
  }
  if (static_cast<std::size_t>(p.end - p.top) < c.bytes && !p.add_chunk()) return nullptr;
  void* b = p.top;
  p.top += c.bytes;
  p.use.in_use += c.bytes;
  return b;
}

bool release(void* b, std::size_t bytes) noexcept {
  if (!b || bytes < kMinBlock || bytes > kChunkBytes) return false;
  Pool& p = pool();
  if (!p.enabled) return false;
  std::lock_guard<std::mutex> lock(p.mutex);
  if (!p.owns(b)) return false;  // taken from operator new once the pool was full
  const SizeClass c = size_class(bytes);
  p.use.in_use -= c.bytes;
  try {
    p.free_list[c.index].push_back(b);
  } catch (...) {
    return true;  // no memory to note it in: the block stays unused
  }
  // A large block's whole huge pages go back to the system (one that held an unusually long task need
  // not stay resident); its next user faults them in again, one fault per 2 MiB. Smaller blocks, such
  // as the L2 model's tables that every kernel rebuilds, stay resident for the next request.
  if (c.bytes >= kReturnBytes) {
    const std::uintptr_t lo = (reinterpret_cast<std::uintptr_t>(b) + kHugePage - 1) & ~(kHugePage - 1);
    const std::uintptr_t hi = (reinterpret_cast<std::uintptr_t>(b) + c.bytes) & ~(kHugePage - 1);
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }
  p.use.free += c.bytes;
  return true;
}

Usage usage() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.use;
}

}  // namespace xpu::block_pool
