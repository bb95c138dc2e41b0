// The huge-page block pool: blocks reused by size class, requests it does not take, its bound, and
// nothing taken outside a scope.
#include <gtest/gtest.h>

#include "sim/base/block_pool.h"

#include <cstdint>
#include <cstring>
#include <vector>

using namespace xpu;

namespace {
// The pool is off in sanitizer builds and with XPUSIM_NO_BLOCK_POOL: these tests then have nothing to check.
bool pool_on() {
  block_pool::Scope pooled;
  void* p = block_pool::allocate(block_pool::kMinBlock);
  if (!p) return false;
  block_pool::release(p, block_pool::kMinBlock);
  return true;
}
}  // namespace

TEST(BlockPool, AFreedBlockServesTheNextRequestOfItsSizeClass) {
  block_pool::Scope pooled;
  if (!pool_on()) GTEST_SKIP() << "block pool off";
  // 40,000 and 40,900 bytes round to the same eighth of an octave (40,960); 41,000 to the next.
  void* a = block_pool::allocate(40000);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  std::memset(a, 0xab, 40000);
  const block_pool::Usage held = block_pool::usage();
  EXPECT_TRUE(block_pool::release(a, 40000));
  const block_pool::Usage freed = block_pool::usage();
  EXPECT_EQ(freed.in_use + 40960, held.in_use);
  EXPECT_EQ(freed.free, held.free + 40960);
  EXPECT_GE(held.in_use, 40960u);
  void* b = block_pool::allocate(40900);
  EXPECT_EQ(b, a);
  EXPECT_TRUE(block_pool::release(b, 40900));
  void* c = block_pool::allocate(41000);
  EXPECT_NE(c, a);
  EXPECT_TRUE(block_pool::release(c, 41000));
}

TEST(BlockPool, SmallAndHugeRequestsAndForeignBlocksAreNotTaken) {
  block_pool::Scope pooled;
  if (!pool_on()) GTEST_SKIP() << "block pool off";
  EXPECT_EQ(block_pool::allocate(block_pool::kMinBlock - 1), nullptr);
  EXPECT_EQ(block_pool::allocate(block_pool::kChunkBytes + 1), nullptr);
  std::vector<char> mine(block_pool::kMinBlock);
  EXPECT_FALSE(block_pool::release(mine.data(), mine.size()));
}

TEST(BlockPool, IsBoundedAndFallsBackWhenFull) {
  block_pool::Scope pooled;
  if (!pool_on()) GTEST_SKIP() << "block pool off";
  // Whole-chunk blocks (address space only: none is touched) until the pool refuses: never more than
  // kMaxChunks chunks, and containers still get memory (operator new) once it is full.
  std::vector<void*> taken;
  for (std::size_t i = 0; i <= block_pool::kMaxChunks; ++i) {
    void* p = block_pool::allocate(block_pool::kChunkBytes);
    if (!p) break;
    taken.push_back(p);
  }
  EXPECT_LE(taken.size(), block_pool::kMaxChunks);
  EXPECT_EQ(block_pool::usage().chunks, block_pool::kMaxChunks);
  EXPECT_EQ(block_pool::allocate(block_pool::kChunkBytes), nullptr);
  std::vector<std::uint64_t, PoolAllocator<std::uint64_t>> v(1 << 20, 7);  // 8 MiB: a class with no free block
  EXPECT_EQ(v[12345], 7u);
  for (void* p : taken) EXPECT_TRUE(block_pool::release(p, block_pool::kChunkBytes));
}

TEST(BlockPool, ContainersKeepTheirContentsThroughGrowthAndMoves) {
  block_pool::Scope pooled;
  std::vector<std::uint32_t, PoolAllocator<std::uint32_t>> v;
  for (std::uint32_t i = 0; i < 100000; ++i) v.push_back(i);  // grows through pool classes
  std::vector<std::uint32_t, PoolAllocator<std::uint32_t>> w = std::move(v);
  for (std::uint32_t i = 0; i < 100000; i += 997) EXPECT_EQ(w[i], i);
  w.clear();
  w.shrink_to_fit();
  EXPECT_TRUE(w.empty());
}

TEST(BlockPool, TakesNothingOutsideAScope) {
  if (!pool_on()) GTEST_SKIP() << "block pool off";
  const block_pool::Usage before = block_pool::usage();
  EXPECT_EQ(block_pool::allocate(40000), nullptr);
  std::vector<std::uint64_t, PoolAllocator<std::uint64_t>> v(100000, 1);  // operator new
  EXPECT_EQ(block_pool::usage().in_use, before.in_use);
  {
    block_pool::Scope outer;
    block_pool::Scope inner;
  }
  EXPECT_EQ(block_pool::allocate(40000), nullptr);  // scopes nest
  block_pool::Scope open;
  block_pool::close_scopes();
  EXPECT_EQ(block_pool::allocate(40000), nullptr);
}
