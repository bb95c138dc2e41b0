#!/usr/bin/env python3
"""Latency of one bulk asynchronous copy (the TMA unit's cp.async.bulk, global -> shared, completing on an
mbarrier) on Hopper, by size, from L2 and from HBM: a CUDA C++ program this script writes, builds with nvcc
(sm_90a) and runs; CSV on stdout and in $OUT/tma_probe.csv:

  tma,<source>,<bytes>,<cycles_per_copy>,<ns_per_copy>

One thread issues a copy, waits on the mbarrier, issues the next (n copies, clock64 and %globaltimer around
them). source l2: 64 copies from a 4 MiB region walked once before timing; hbm: first touches 1 MiB apart over
1 GiB after 512 MiB of writes scrubbed L2. Also `ld` rows: one 16-byte ld.global.cg per copy position, for
comparison with the load latency of latency_probe.py.

Usage (device machine): OUT=dir python3 scripts/measure/tma_probe.py
Here: python3 scripts/measure/tma_probe.py --emit /tmp/tp.cu && nvcc -arch=sm_90a -std=c++17 -o /tmp/tp /tmp/tp.cu
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_probe  # noqa: E402

SRC = r"""
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cuda_runtime.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

__global__ void tma(const char* src, size_t stride, int n, unsigned bytes, int warm, long long* out) {
  extern __shared__ __align__(128) char buf[];
  __shared__ __align__(8) unsigned long long bar;
  if (threadIdx.x != 0) return;
  const unsigned b = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(buf));
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(b));
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  unsigned phase = 0;
  long long c0 = 0, g0 = 0;
  for (int i = 0; i < warm + n; ++i) {
    if (i == warm) {
      c0 = clock64();
      unsigned long long g; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g)); g0 = (long long)g;
    }
    const char* g = src + (size_t)(i % (warm > 0 ? warm : n + 1)) * stride;
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(b), "r"(bytes) : "memory");
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                 :: "r"(dst), "l"(g), "r"(bytes), "r"(b) : "memory");
    asm volatile("{\n .reg .pred p;\n WAIT_%=:\n mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n @!p bra WAIT_%=;\n}"
                 :: "r"(b), "r"(phase) : "memory");
    phase ^= 1;
  }
  long long c1 = clock64();
  unsigned long long g1; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g1));
  out[0] = c1 - c0; out[1] = (long long)g1 - g0;
}

__global__ void ld(const char* src, size_t stride, int n, int warm, long long* out) {
  if (threadIdx.x != 0) return;
  uint4 acc = make_uint4(0, 0, 0, 0);
  long long c0 = 0, g0 = 0;
  unsigned off = 0;
  for (int i = 0; i < warm + n; ++i) {
    if (i == warm) {
      c0 = clock64();
      unsigned long long g; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g)); g0 = (long long)g;
    }
    const uint4* p = reinterpret_cast<const uint4*>(src + (size_t)(i % (warm > 0 ? warm : n + 1)) * stride + off);
    uint4 v = __ldcg(p);
    acc.x += v.x; off = v.y & ~15u;  // the next address depends on this load (the buffer is zero: off stays 0)
    acc.y ^= v.z;
  }
  long long c1 = clock64();
  unsigned long long g1; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g1));
  out[0] = c1 - c0; out[1] = (long long)g1 - g0; out[2] = acc.x + acc.y;
}

__global__ void scrub(uint4* p, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = make_uint4(1, 2, 3, 4);
}

int main() {
  const size_t big = (size_t)1 << 30, scrub_bytes = (size_t)512 << 20;
  char* src; CK(cudaMalloc(&src, big)); CK(cudaMemset(src, 0, big));
  uint4* sb; CK(cudaMalloc(&sb, scrub_bytes));
  long long* o; CK(cudaMalloc(&o, 64));
  CK(cudaFuncSetAttribute(tma, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10));
  printf("# tma|ld,source,bytes,cycles_per_copy,ns_per_copy\n");
  for (unsigned bytes : {128u, 1024u, 4096u, 16384u, 32768u, 65536u}) {
    for (int src_kind = 0; src_kind < 2; ++src_kind) {
      const int n = src_kind ? 256 : 64;
      long long h[3];
      for (int rep = 0; rep < 3; ++rep) {
        if (src_kind) scrub<<<1056, 256>>>(sb, scrub_bytes / sizeof(uint4));
        if (src_kind) tma<<<1, 32, 64 << 10>>>(src, 1 << 20, n, bytes, 0, o);
        else tma<<<1, 32, 64 << 10>>>(src, 65536, n, bytes, 64, o);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(h, o, 16, cudaMemcpyDeviceToHost));
      }
      printf("tma,%s,%u,%.1f,%.1f\n", src_kind ? "hbm" : "l2", bytes, (double)h[0] / n, (double)h[1] / n);
      fflush(stdout);
    }
  }
  for (int src_kind = 0; src_kind < 2; ++src_kind) {
    const int n = src_kind ? 256 : 64;
    long long h[3];
    for (int rep = 0; rep < 3; ++rep) {
      if (src_kind) scrub<<<1056, 256>>>(sb, scrub_bytes / sizeof(uint4));
      if (src_kind) ld<<<1, 32>>>(src, 1 << 20, n, 0, o);
      else ld<<<1, 32>>>(src, 65536, n, 64, o);
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy(h, o, 24, cudaMemcpyDeviceToHost));
    }
    printf("ld,%s,16,%.1f,%.1f\n", src_kind ? "hbm" : "l2", (double)h[0] / n, (double)h[1] / n);
  }
  printf("done\n");
  return 0;
}
"""

if __name__ == "__main__":
    sys.exit(cuda_probe.main(__doc__, SRC, "tma_probe"))
