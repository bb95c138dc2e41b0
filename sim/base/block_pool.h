// A pool of large blocks on transparent huge pages for the simulator's working arrays that are filled
// once and then reused from kernel to kernel (each slot thread's task buffer, the L2 model's tables).
#pragma once
#include <cstddef>
#include <new>

namespace xpu {

// Why: a 70B decode step (b64, 4k, one B200) took some 5,900 minor page faults, about 10 us each in
// this VM: half of them first touches of the 592 slot threads' instruction buffers, a fifth the L2
// model's hash table rebuilt for every kernel. Blocks carved from 2 MiB-aligned chunks advised
// MADV_HUGEPAGE fault once per 2 MiB, and a block freed is kept for the next request of its size class
// (1/8 octave: at most 12.5% rounding), so a later kernel's buffers are already resident.
//
// Bounds (scripts/bench/README.md, the block pool): blocks of 1 KiB to 32 MiB (others, and everything once
// kMaxChunks chunks of kChunkBytes are taken, come from operator new); a freed block below 8 MiB stays
// resident for the next request of its class (larger ones give their pages back), so the pool's
// resident size is at most what its blocks held at once per size class. Sanitizer builds and
// XPUSIM_NO_BLOCK_POOL=1 (read once) use operator new throughout. No simulated figure depends on where
// a block lives.
namespace block_pool {
constexpr std::size_t kMinBlock = std::size_t{1} << 10;
constexpr std::size_t kChunkBytes = std::size_t{32} << 20;
constexpr std::size_t kMaxChunks = 32;  // 1 GiB of address space at most

// The pool serves only while a Scope is open on the calling thread: an executor's slot thread opens
// one while it runs a whole task (Executor::slot_thread), so the pool holds that task's buffers and
// what the memory models grow during it; per-core streams, whose buffers grow by doubling with the
// stream, and everything outside simulations keep operator new (blocks are not split or merged, so
// the pool would keep every smaller block such a buffer leaves behind: a 32k-token Maia prefill
// peaked at 116 MiB instead of 59).
class Scope {
 public:
  Scope();
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};
// Closes every scope of this thread (a fresh simulation kernel: coroutines of the old one that were
// dropped without unwinding no longer run a task).
void close_scopes();

// A block of at least `bytes` from the pool, or nullptr where the pool does not take it.
void* allocate(std::size_t bytes) noexcept;
// Returns a block that allocate(bytes) gave (the same `bytes`); false: `p` is not the pool's.
bool release(void* p, std::size_t bytes) noexcept;
// The pool's figures (tests): chunks taken and bytes in blocks handed out / waiting on free lists.
struct Usage {
  std::size_t chunks = 0, in_use = 0, free = 0;
};
Usage usage();
}  // namespace block_pool

// std::allocator's interface over block_pool: stateless, so containers that use it move and swap
// as with std::allocator.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= 64, "pool blocks are aligned to 64 bytes");
    if (void* p = block_pool::allocate(n * sizeof(T))) return static_cast<T*>(p);
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (!block_pool::release(p, n * sizeof(T))) ::operator delete(p);
  }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const PoolAllocator<U>&) const noexcept { return false; }
};

}  // namespace xpu
