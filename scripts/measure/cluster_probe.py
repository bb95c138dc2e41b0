#!/usr/bin/env python3
"""What a thread-block cluster costs at a kernel's start (Hopper): the grid's launch, the cluster barrier
that every TMA GEMM's CTAs meet at before their first copy, and mbarrier set-up. A CUDA C++ program this
script writes, builds with nvcc (sm_90a) and runs; CSV lines on stdout and in $OUT/cluster_probe.csv:

  cluster,<cluster size>,<grid>,<threads>,<per_launch_us>,<span_us>,<gap_us>,<start_to_synced_cycles_median>,
          <start_to_synced_cycles_max>,<init_cycles_median>

per_launch_us: a CUDA graph of 100 launches (CUDA events, median of 7 replays) of a kernel whose blocks read
%globaltimer and clock64 at entry, initialize 8 mbarriers (as a 4-stage pipeline's full and empty barriers)
with a fence, then meet at cluster.sync() (cluster size 1: __syncthreads), and record clock64 after each
step. span/gap as in fixed_costs.py.

Usage (device machine): OUT=dir python3 scripts/measure/cluster_probe.py
Here: python3 scripts/measure/cluster_probe.py --emit /tmp/cp.cu && nvcc -arch=sm_90a -std=c++17 -o /tmp/cp /tmp/cp.cu
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_probe  # noqa: E402

SRC = r"""
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include <cooperative_groups.h>
namespace cg = cooperative_groups;

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

__device__ __forceinline__ unsigned long long gtime() {
  unsigned long long t; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); return t; }

struct Rec { unsigned long long g0, g1; long long init, synced; };

template <int CS>
__global__ void probe(Rec* rec) {
  __shared__ __align__(8) unsigned long long bars[8];
  unsigned long long g0 = gtime();
  long long c0 = clock64();
  if (threadIdx.x == 0) {
    for (int i = 0; i < 8; ++i) {
      unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(&bars[i]));
      asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(a), "r"(1));
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  long long c1 = clock64();
  if (CS > 1) cg::this_cluster().sync();
  else __syncthreads();
  long long c2 = clock64();
  if (threadIdx.x == 0) {
    Rec r; r.g0 = g0; r.g1 = gtime(); r.init = c1 - c0; r.synced = c2 - c0;
    rec[blockIdx.x] = r;
  }
}

template <int CS>
static void launch(Rec* d, int grid, int threads, cudaStream_t st) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(grid); cfg.blockDim = dim3(threads); cfg.stream = st;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeClusterDimension;
  at[0].val.clusterDim.x = CS; at[0].val.clusterDim.y = 1; at[0].val.clusterDim.z = 1;
  cfg.attrs = at; cfg.numAttrs = 1;
  CK(cudaLaunchKernelEx(&cfg, probe<CS>, d));
}

static float med(std::vector<float> v) { std::sort(v.begin(), v.end()); return v.empty() ? 0.f : v[v.size() / 2]; }

template <int CS>
static void run(Rec* d, int grid, int threads, cudaStream_t st) {
  const int L = 100;
  cudaGraph_t g; cudaGraphExec_t ex;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < L; ++i) launch<CS>(d + (size_t)i * grid, grid, threads, st);
  CK(cudaStreamEndCapture(st, &g)); CK(cudaGraphInstantiate(&ex, g, 0));
  CK(cudaGraphLaunch(ex, st)); CK(cudaStreamSynchronize(st));
  cudaEvent_t a, b; CK(cudaEventCreate(&a)); CK(cudaEventCreate(&b));
  std::vector<float> per;
  for (int r = 0; r < 7; ++r) {
    CK(cudaEventRecord(a, st)); CK(cudaGraphLaunch(ex, st)); CK(cudaEventRecord(b, st));
    CK(cudaEventSynchronize(b)); float ms; CK(cudaEventElapsedTime(&ms, a, b)); per.push_back(ms * 1000.f / L);
  }
  std::vector<Rec> h((size_t)L * grid);
  CK(cudaMemcpy(h.data(), d, h.size() * sizeof(Rec), cudaMemcpyDeviceToHost));
  std::vector<float> span, gap, sync, init;
  float syncmax = 0;
  for (int l = 5; l < L - 1; ++l) {
    unsigned long long f = ~0ull, e = 0, nf = ~0ull;
    for (int k = 0; k < grid; ++k) {
      const Rec& r = h[(size_t)l * grid + k];
      f = std::min(f, r.g0); e = std::max(e, r.g1);
      nf = std::min(nf, h[(size_t)(l + 1) * grid + k].g0);
      sync.push_back((float)r.synced); init.push_back((float)r.init); syncmax = std::max(syncmax, (float)r.synced);
    }
    span.push_back((e - f) / 1000.f); gap.push_back(((long long)nf - (long long)e) / 1000.f);
  }
  printf("cluster,%d,%d,%d,%.4f,%.4f,%.4f,%.0f,%.0f,%.0f\n", CS, grid, threads, med(per), med(span), med(gap), med(sync),
         syncmax, med(init));
  fflush(stdout);
  CK(cudaGraphExecDestroy(ex)); CK(cudaGraphDestroy(g));
}

int main() {
  cudaStream_t st; CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  Rec* d; CK(cudaMalloc(&d, (size_t)100 * 1056 * sizeof(Rec)));
  printf("# cluster,size,grid,threads,per_launch_us,span_us,gap_us,start_to_synced_cycles_med,max,init_cycles_med\n");
  for (int th : {128, 384}) {
    for (int grid : {2, 132, 264}) {
      run<1>(d, grid, th, st);
      run<2>(d, grid, th, st);
      if (grid % 4 == 0) run<4>(d, grid, th, st);
    }
  }
  printf("done\n");
  return 0;
}
"""


if __name__ == "__main__":
    sys.exit(cuda_probe.main(__doc__, SRC, "cluster_probe"))
