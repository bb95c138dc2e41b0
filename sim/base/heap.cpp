#include "sim/base/heap.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace xpu {

void heap_on_huge_pages() {
  constexpr std::size_t kTopPad = std::size_t{64} << 20, kMmapMax = std::size_t{32} << 20;
  constexpr std::size_t kHuge = std::size_t{2} << 20;  // x86-64's THP size
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapMax));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(4 * kTopPad));
  mallopt(M_TOP_PAD, static_cast<int>(kTopPad));
  const auto lo = reinterpret_cast<std::uintptr_t>(sbrk(0));
  void* volatile grow = malloc(kTopPad / 4);  // grows the heap by the pad now (below kMmapMax: from the heap)
  free(grow);
  const auto hi = reinterpret_cast<std::uintptr_t>(sbrk(0));
  const std::uintptr_t a = (lo + kHuge - 1) & ~(kHuge - 1), b = hi & ~(kHuge - 1);
  if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE);
}

}  // namespace xpu
