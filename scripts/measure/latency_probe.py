#!/usr/bin/env python3
"""Load-to-use latency of an NVIDIA GPU's memory levels by pointer chasing (one thread, dependent loads):
a CUDA C++ program this script writes, builds with nvcc (sm_90a) and runs; CSV on stdout and in
$OUT/latency_probe.csv:

  chase,<footprint_bytes>,<stride_bytes>,<ld>,<cycles_per_load>,<ns_per_load>

The chain visits the footprint's lines in a random cyclic order (one line per stride), is walked once to warm
it, then timed over 4096 dependent loads with clock64 and %globaltimer. ld: ca (cached in L1) or cg (L2 only).
Footprints from 16 KiB (L1) through 8-32 MiB (L2) to 2 GiB (HBM; 2 MiB strides spread over many pages).

Usage (device machine): OUT=dir python3 scripts/measure/latency_probe.py
Here: python3 scripts/measure/latency_probe.py --emit /tmp/lp.cu && nvcc -arch=sm_90a -std=c++17 -o /tmp/lp /tmp/lp.cu
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_probe  # noqa: E402

SRC = r"""
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
#include <random>
#include <algorithm>
#include <cuda_runtime.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

template <bool CG>
__global__ void chase(const uint64_t* __restrict__ base, uint64_t start, int warm, int n, long long* out) {
  uint64_t p = start;
  for (int i = 0; i < warm; ++i) p = CG ? __ldcg(base + p) : __ldca(base + p);
  long long c0 = clock64();
  unsigned long long g0; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g0));
  for (int i = 0; i < n; ++i) p = CG ? __ldcg(base + p) : __ldca(base + p);
  long long c1 = clock64();
  unsigned long long g1; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g1));
  out[0] = c1 - c0; out[1] = (long long)(g1 - g0); out[2] = (long long)p;
}

__global__ void scrub(uint4* p, size_t n) {  // streams writes over a buffer larger than L2: evicts the chain
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = make_uint4(1, 2, 3, 4);
}

int main() {
  const size_t max_bytes = (size_t)2 << 30;
  uint64_t* d; CK(cudaMalloc(&d, max_bytes));
  long long* o; CK(cudaMalloc(&o, 64));
  const size_t scrub_bytes = (size_t)512 << 20;
  uint4* sb; CK(cudaMalloc(&sb, scrub_bytes));
  std::mt19937_64 rng(7);
  printf("# chase,footprint_bytes,stride_bytes,ld,cycles_per_load,ns_per_load\n");
  struct Case { size_t bytes, stride; };
  std::vector<Case> cases = {{16 << 10, 128}, {64 << 10, 128}, {1 << 20, 128}, {4 << 20, 128}, {8 << 20, 128},
                             {16 << 20, 128}, {32 << 20, 128}, {256 << 20, 4096}, {(size_t)2 << 30, 2 << 20},
                             {(size_t)2 << 30, 65536}};
  for (const Case& c : cases) {
    const size_t lines = c.bytes / c.stride, words = c.stride / 8;
    std::vector<uint64_t> order(lines);
    for (size_t i = 0; i < lines; ++i) order[i] = i;
    std::shuffle(order.begin() + 1, order.end(), rng);
    // Only the visited words are written: a sparse chain over the footprint.
    std::vector<uint64_t> next(lines);
    for (size_t i = 0; i < lines; ++i) next[i] = order[(i + 1) % lines] * words;
    for (size_t i = 0; i < lines; ++i)
      CK(cudaMemcpy(d + order[i] * words, &next[i], 8, cudaMemcpyHostToDevice));
    for (int cg = 0; cg < 2; ++cg) {
      const int warm = (int)std::min<size_t>(lines, 1 << 16), n = 4096;
      long long h[3];
      for (int rep = 0; rep < 2; ++rep) {  // the second run is reported (code and TLB warm)
        if (cg) chase<true><<<1, 1>>>(d, 0, warm, n, o);
        else chase<false><<<1, 1>>>(d, 0, warm, n, o);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(h, o, sizeof h, cudaMemcpyDeviceToHost));
      }
      printf("chase,%zu,%zu,%s,%.1f,%.1f\n", c.bytes, c.stride, cg ? "cg" : "ca", (double)h[0] / n, (double)h[1] / n);
      fflush(stdout);
    }
    // Cold: L2 scrubbed by 512 MiB of writes, then n first touches of distinct lines (from HBM).
    if (lines >= 8192) {
      for (int rep = 0; rep < 3; ++rep) {
        scrub<<<1056, 256>>>(sb, scrub_bytes / sizeof(uint4));
        chase<true><<<1, 1>>>(d, 0, 0, 4096, o);
        CK(cudaDeviceSynchronize());
        long long h[3];
        CK(cudaMemcpy(h, o, sizeof h, cudaMemcpyDeviceToHost));
        printf("cold,%zu,%zu,cg,%.1f,%.1f\n", c.bytes, c.stride, (double)h[0] / 4096, (double)h[1] / 4096);
        fflush(stdout);
      }
    }
  }
  printf("done\n");
  return 0;
}
"""


if __name__ == "__main__":
    sys.exit(cuda_probe.main(__doc__, SRC, "latency_probe"))
