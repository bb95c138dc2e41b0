// Linked into the CLI only (CMakeLists.txt): the libraries' large start-up arrays on huge pages.
//
// libsystemc's static initializers allocate a 3 MiB scratch heap (sc_dt's sc_temp_heap) with new[] and
// zero it at every start: 768 first-touch page faults, about 10 ms of CPU time in this VM (a 4 KiB fault
// costs some 13 us here), where the same bytes on two 2 MiB transparent huge pages cost two faults (1 MiB
// more resident). This replacement of operator new[] takes only blocks of at least 2 MiB requested
// while the shared libraries' initializers run (before this program's own, which end that stretch) this
// way, at most kMaxHuge of them, and frees them alike; every other new[] is the library's operator new,
// so nothing that grows with a run lands on huge pages (a streamed trace's memory stays flat, README
// "Simulation speed", rounds in scripts/bench/README.md). Sanitizer builds keep their allocator's operators. No simulated figure depends
// on this.
#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr int kMaxHuge = 4;
bool g_libraries_starting = true;  // constant-initialized: valid while the libraries' initializers run
void* g_huge[kMaxHuge] = {};       // blocks taken on huge pages (freed with free())
int g_huge_count = 0;

// The program's own static initialization runs after its libraries': the stretch ends here.
struct EndOfLibraryStart {
  EndOfLibraryStart() { g_libraries_starting = false; }
} g_end_of_library_start;

void* huge_block(std::size_t n) {
  if (!g_libraries_starting || n < kHugePage || g_huge_count == kMaxHuge) return nullptr;
  const std::size_t len = (n + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, len);
  if (!p) return nullptr;
  madvise(p, len, MADV_HUGEPAGE);  // a hint: no effect where transparent huge pages are off
  g_huge[g_huge_count++] = p;
  return p;
}

void release(void* p) noexcept {
  for (int i = 0; p && i < g_huge_count; ++i)
    if (g_huge[i] == p) {
      g_huge[i] = nullptr;
      std::free(p);
      return;
    }
  ::operator delete(p);
}

}  // namespace

void* operator new[](std::size_t n) {
  if (void* p = huge_block(n)) return p;
  return ::operator new(n);
}
void operator delete[](void* p) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
#endif
