#!/usr/bin/env python3
"""Fixed costs of a GPU kernel, read from inside the kernels (a CUDA C++ program this script writes,
builds with nvcc and runs on the device machine).

What it measures, each as CSV lines in $OUT/fixed_costs.csv (the workloads/validation/README.md section
"Fixed costs from inside the kernels" says how rows for h200_measured.csv are read off them):

  probe   launch and grid costs: a kernel whose blocks record %globaltimer at their start and end, the SM
          they ran on (%smid) and their clock64 cycles, launched 100 times back to back in one CUDA graph,
          for grids of 1 to 8448 blocks of 32 to 1024 threads, with no work or a 2000-cycle spin per block.
          Per launch: the graph's time per launch (CUDA events), the span from the first block's start to
          the last block's end, the ramp until every SM that gets a block has started one, the gap between
          one launch's last block end and the next launch's first block start.
  clock   the SM clock during these runs (clock64 cycles over %globaltimer ns of one long spin).
  icache  instruction fetch: kernels of N = 256..16384 independent-chain FFMAs in straight-line code, run
          three times in a loop inside one warp (or four), with clock64 read after each pass. Pass 1 pays
          for fetching the code, passes 2 and 3 run it from the instruction caches (when it fits). Launch
          orders: a kernel twice in a row, and with a different large kernel between, say whether the
          instruction caches keep a kernel's code from one launch to the next.

Usage (on the device machine, OUT set):  python3 scripts/measure/fixed_costs.py [--quick]
Here (no GPU): python3 scripts/measure/fixed_costs.py --emit /tmp/fc.cu && nvcc -arch=sm_90a ... checks it.
"""
import argparse
import os
import subprocess
import sys
import time

SIZES = [256, 1024, 4096, 16384]
EVICTOR = 16384
CHAINS = 8

HEAD = r"""
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include <time.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

__device__ __forceinline__ unsigned long long gtime() {
  unsigned long long t; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); return t; }
__device__ __forceinline__ unsigned smid() {
  unsigned s; asm volatile("mov.u32 %0, %%smid;" : "=r"(s)); return s; }

struct Rec { unsigned long long g0, g1; long long cyc; unsigned sm, pad; };

extern "C" __global__ void probe(Rec* rec, long long spin) {
  unsigned long long g0 = gtime();
  long long c0 = clock64();
  if (spin > 0) { while (clock64() - c0 < spin) { } }
  __syncthreads();
  if (threadIdx.x == 0) {
    long long c1 = clock64();
    Rec r; r.g0 = g0; r.g1 = gtime(); r.cyc = c1 - c0; r.sm = smid(); r.pad = 0;
    rec[blockIdx.x] = r;
  }
}
"""

BODY_HEAD = r"""
extern "C" __global__ void body_%(n)d(float* out, long long* t, float s) {
  float %(decl)s;
  long long prev = clock64();
#pragma unroll 1
  for (int p = 0; p < 3; ++p) {
"""

BODY_TAIL = r"""
    long long now = clock64();
    if (threadIdx.x == 0) t[blockIdx.x * 4 + p] = now - prev;
    prev = now;
  }
  if (threadIdx.x == 0) t[blockIdx.x * 4 + 3] = smid();
  out[blockIdx.x * blockDim.x + threadIdx.x] = %(sum)s;
}
"""

MAIN = r"""
typedef void (*BodyFn)(float*, long long*, float);
struct Body { int n; BodyFn fn; };
static Body bodies[] = { %(table)s };
static const int NBODIES = sizeof(bodies) / sizeof(bodies[0]);

static float median(std::vector<float> v) { std::sort(v.begin(), v.end()); return v.empty() ? 0.f : v[v.size() / 2]; }
static float maxof(const std::vector<float>& v) { float m = 0; for (float x : v) m = std::max(m, x); return m; }

static cudaStream_t st;
static int nsm = 0;

// One CUDA graph of `launches` probe launches (launch i writes rec + i * grid); per-launch time by events.
static void probe_case(FILE* raw, Rec* d_rec, int grid, int threads, long long spin, int launches, int reps) {
  cudaGraph_t g; cudaGraphExec_t ex;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < launches; ++i) probe<<<grid, threads, 0, st>>>(d_rec + (size_t)i * grid, spin);
  CK(cudaStreamEndCapture(st, &g));
  CK(cudaGraphInstantiate(&ex, g, 0));
  CK(cudaGraphLaunch(ex, st)); CK(cudaStreamSynchronize(st));
  cudaEvent_t a, b; CK(cudaEventCreate(&a)); CK(cudaEventCreate(&b));
  std::vector<float> per;
  for (int r = 0; r < reps; ++r) {
    CK(cudaEventRecord(a, st)); CK(cudaGraphLaunch(ex, st)); CK(cudaEventRecord(b, st));
    CK(cudaEventSynchronize(b)); float ms; CK(cudaEventElapsedTime(&ms, a, b)); per.push_back(ms * 1000.f / launches);
  }
  std::vector<Rec> h((size_t)launches * grid);
  CK(cudaMemcpy(h.data(), d_rec, h.size() * sizeof(Rec), cudaMemcpyDeviceToHost));
  std::vector<float> span, ramp, gap, last_start, first_block_cyc, later_block_cyc;
  std::vector<unsigned long long> all;
  int used_sm = 0, maxper = 0;
  for (int L = 5; L < launches - 1; ++L) {
    const Rec* R = &h[(size_t)L * grid];
    const Rec* N = &h[(size_t)(L + 1) * grid];
    unsigned long long first = ~0ull, lastend = 0, nfirst = ~0ull, lst = 0;
    std::vector<unsigned long long> smfirst(1024, ~0ull); std::vector<int> cnt(1024, 0);
    for (int k = 0; k < grid; ++k) {
      first = std::min(first, R[k].g0); lastend = std::max(lastend, R[k].g1); lst = std::max(lst, R[k].g0);
      unsigned s = R[k].sm & 1023; smfirst[s] = std::min(smfirst[s], R[k].g0); cnt[s]++;
      if (L == launches / 2) { all.push_back(R[k].g0); all.push_back(R[k].g1); }
    }
    for (int k = 0; k < grid; ++k) nfirst = std::min(nfirst, N[k].g0);
    unsigned long long ramp_end = 0; int u = 0, mp = 0;
    for (int s = 0; s < 1024; ++s) if (cnt[s]) { ++u; mp = std::max(mp, cnt[s]); ramp_end = std::max(ramp_end, smfirst[s]); }
    used_sm = u; maxper = mp;
    span.push_back((float)(lastend - first) / 1000.f);
    ramp.push_back((float)(ramp_end - first) / 1000.f);
    last_start.push_back((float)(lst - first) / 1000.f);
    gap.push_back((float)((long long)nfirst - (long long)lastend) / 1000.f);
    // cycles of each SM's first block against its later blocks (instruction and constant caches cold vs warm)
    std::vector<unsigned long long> seen(1024, ~0ull);
    for (int k = 0; k < grid; ++k) { unsigned s = R[k].sm & 1023; if (R[k].g0 == smfirst[s] && seen[s] == ~0ull) { seen[s] = k; first_block_cyc.push_back((float)R[k].cyc); } else later_block_cyc.push_back((float)R[k].cyc); }
    if (raw && L >= launches / 2 && L <= launches / 2 + 1)
      for (int k = 0; k < grid; ++k)
        fprintf(raw, "%%d,%%d,%%lld,%%d,%%d,%%u,%%.3f,%%.3f,%%lld\n", grid, threads, spin, L, k, R[k].sm,
                (double)(R[k].g0 - h[(size_t)(launches / 2) * grid].g0) / 1000.0, (double)(R[k].g1 - R[k].g0) / 1000.0, R[k].cyc);
  }
  std::sort(all.begin(), all.end());
  unsigned long long res = ~0ull;
  for (size_t i = 1; i < all.size(); ++i) if (all[i] > all[i - 1]) res = std::min(res, all[i] - all[i - 1]);
  printf("probe,%%d,%%d,%%lld,%%.4f,%%.4f,%%.4f,%%.4f,%%.4f,%%d,%%d,%%llu,%%.0f,%%.0f\n", grid, threads, spin, median(per), median(span), median(ramp),
         median(last_start), median(gap), used_sm, maxper, res == ~0ull ? 0ull : res, median(first_block_cyc), median(later_block_cyc));
  fflush(stdout);
  CK(cudaGraphExecDestroy(ex)); CK(cudaGraphDestroy(g)); CK(cudaEventDestroy(a)); CK(cudaEventDestroy(b));
}

static void clock_case(Rec* d_rec) {
  for (int r = 0; r < 3; ++r) {
    probe<<<1, 32, 0, st>>>(d_rec, 20000000LL); CK(cudaStreamSynchronize(st));
    Rec h; CK(cudaMemcpy(&h, d_rec, sizeof h, cudaMemcpyDeviceToHost));
    printf("clock,%%d,%%lld,%%llu,%%.1f\n", r, h.cyc, h.g1 - h.g0, 1000.0 * (double)h.cyc / (double)(h.g1 - h.g0));
  }
  fflush(stdout);
}

// pass cycles of one launch: median and max over blocks of passes 1..3
static void report_body(const char* order, int pos, const Body& b, int grid, int threads, long long* d_t) {
  std::vector<long long> h((size_t)grid * 4);
  CK(cudaMemcpy(h.data(), d_t, h.size() * sizeof(long long), cudaMemcpyDeviceToHost));
  std::vector<float> p[3];
  for (int k = 0; k < grid; ++k) for (int q = 0; q < 3; ++q) p[q].push_back((float)h[(size_t)k * 4 + q]);
  printf("icache,%%s,%%d,%%d,%%d,%%d,%%.0f,%%.0f,%%.0f,%%.0f,%%.0f,%%.0f\n", order, pos, b.n, grid, threads,
         median(p[0]), median(p[1]), median(p[2]), maxof(p[0]), maxof(p[1]), maxof(p[2]));
}

static float time_body_graph(const Body& b, int grid, int threads, float* d_out, long long* d_t, int launches) {
  cudaGraph_t g; cudaGraphExec_t ex;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < launches; ++i) b.fn<<<grid, threads, 0, st>>>(d_out, d_t, 1.0f + i);
  CK(cudaStreamEndCapture(st, &g)); CK(cudaGraphInstantiate(&ex, g, 0));
  CK(cudaGraphLaunch(ex, st)); CK(cudaStreamSynchronize(st));
  cudaEvent_t a, e; CK(cudaEventCreate(&a)); CK(cudaEventCreate(&e));
  std::vector<float> per;
  for (int r = 0; r < 5; ++r) {
    CK(cudaEventRecord(a, st)); CK(cudaGraphLaunch(ex, st)); CK(cudaEventRecord(e, st));
    CK(cudaEventSynchronize(e)); float ms; CK(cudaEventElapsedTime(&ms, a, e)); per.push_back(ms * 1000.f / launches);
  }
  CK(cudaGraphExecDestroy(ex)); CK(cudaGraphDestroy(g)); CK(cudaEventDestroy(a)); CK(cudaEventDestroy(e));
  return median(per);
}

int main(int argc, char** argv) {
  bool quick = argc > 1 && !strcmp(argv[1], "--quick");
  const char* rawpath = argc > 2 ? argv[2] : "blocks.csv";
  cudaDeviceProp pr; CK(cudaGetDeviceProperties(&pr, 0)); nsm = pr.multiProcessorCount;
  printf("device,%%s,%%d,%%d\n", pr.name, nsm, pr.l2CacheSize);
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  const int launches = quick ? 40 : 100;
  const int maxgrid = 64 * nsm;
  Rec* d_rec; CK(cudaMalloc(&d_rec, (size_t)launches * maxgrid * sizeof(Rec)));
  FILE* raw = fopen(rawpath, "w");
  if (raw) fprintf(raw, "grid,threads,spin,launch,block,sm,start_us,dur_us,cycles\n");
  printf("# probe,grid,threads,spin_cycles,per_launch_us,span_us,ramp_us,last_start_us,gap_us,sms_used,max_blocks_per_sm,timer_res_ns,first_block_cycles,later_block_cycles\n");
  clock_case(d_rec);
  int grids[] = {1, nsm / 2, nsm, 2 * nsm, 8 * nsm, 64 * nsm};
  int threads[] = {32, 256, 1024};
  long long spins[] = {0, 2000};
  for (long long sp : spins) for (int th : threads) for (int gr : grids) {
    bool dump = (gr == 8 * nsm && th == 256) || (gr == nsm && th == 1024);
    probe_case(dump ? raw : nullptr, d_rec, gr, th, sp, launches, quick ? 3 : 7);
  }
  if (raw) fclose(raw);
  clock_case(d_rec);

  // instruction fetch
  float* d_out; long long* d_t[4];
  CK(cudaMalloc(&d_out, (size_t)nsm * 1024 * sizeof(float)));
  for (int i = 0; i < 4; ++i) CK(cudaMalloc(&d_t[i], (size_t)nsm * 4 * sizeof(long long)));
  const Body* ev = nullptr;
  for (int i = 0; i < NBODIES; ++i) if (bodies[i].n == %(evictor)d) ev = &bodies[i];
  // every kernel once, so that module loading is out of the way
  for (int i = 0; i < NBODIES; ++i) bodies[i].fn<<<1, 32, 0, st>>>(d_out, d_t[0], 1.0f);
  CK(cudaStreamSynchronize(st));
  printf("# icache,order,position,n_ffma,grid,threads,pass1_med,pass2_med,pass3_med,pass1_max,pass2_max,pass3_max (cycles)\n");
  int bgrids[] = {1, nsm};
  int bthreads[] = {32, 128};
  for (int i = 0; i < NBODIES; ++i) for (int gr : bgrids) for (int th : bthreads) {
    const Body& b = bodies[i];
    // evict: a different large kernel runs first, then b twice in a row, then the evictor, then b
    ev->fn<<<nsm, 32, 0, st>>>(d_out, d_t[3], 2.0f);
    b.fn<<<gr, th, 0, st>>>(d_out, d_t[0], 1.0f);
    b.fn<<<gr, th, 0, st>>>(d_out, d_t[1], 1.5f);
    ev->fn<<<nsm, 32, 0, st>>>(d_out, d_t[3], 2.0f);
    b.fn<<<gr, th, 0, st>>>(d_out, d_t[2], 1.7f);
    CK(cudaStreamSynchronize(st));
    report_body("after_other", 0, b, gr, th, d_t[0]);
    report_body("repeat", 1, b, gr, th, d_t[1]);
    report_body("after_other", 2, b, gr, th, d_t[2]);
    // idle gap: the same kernel again after 50 ms of host sleep (does anything age out?)
    struct timespec ts = {0, 50000000}; nanosleep(&ts, nullptr);
    b.fn<<<gr, th, 0, st>>>(d_out, d_t[0], 1.9f);
    CK(cudaStreamSynchronize(st));
    report_body("repeat_after_idle", 3, b, gr, th, d_t[0]);
  }
  printf("# bodygraph,n_ffma,grid,threads,per_launch_us (graph of 50 launches of the same kernel)\n");
  for (int i = 0; i < NBODIES; ++i) for (int gr : bgrids)
    printf("bodygraph,%%d,%%d,%%d,%%.4f\n", bodies[i].n, gr, 32, time_body_graph(bodies[i], gr, 32, d_out, d_t[0], 50));
  CK(cudaDeviceSynchronize());
  printf("done\n");
  return 0;
}
"""


def emit(path):
    decl = ", ".join(["a0 = s * threadIdx.x"] + ["a%d = a0 + %d.f" % (k, k) for k in range(1, CHAINS)])
    total = " + ".join("a%d" % k for k in range(CHAINS))
    parts = [HEAD]
    for n in SIZES:
        parts.append(BODY_HEAD % {"n": n, "decl": decl})
        lines = []
        for i in range(n):
            k = i % CHAINS
            # distinct constants per statement: nothing to fold, one FFMA each
            lines.append("    a%d = fmaf(a%d, %.9ff, %.9ff);" % (k, k, 0.999 + 1e-6 * (i % 97), 1e-3 * ((i % 89) + 1)))
        parts.append("\n".join(lines))
        parts.append(BODY_TAIL % {"sum": total})
    table = ", ".join("{%d, body_%d}" % (n, n) for n in SIZES)
    parts.append(MAIN % {"table": table, "evictor": EVICTOR})
    src = "".join(parts)
    with open(path, "w") as f:
        f.write(src)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--emit", help="only write the CUDA source to this path")
    a = ap.parse_args()
    if a.emit:
        emit(a.emit)
        return 0
    out = os.environ.get("OUT", ".")
    work = "/tmp/fixed_costs"
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "fixed_costs.cu")
    exe = os.path.join(work, "fixed_costs")
    emit(src)
    t0 = time.time()
    subprocess.run(["nvcc", "-O3", "-std=c++17", "-arch=sm_90a", "-lineinfo", "-o", exe, src], check=True)
    print("built in %.1f s" % (time.time() - t0), flush=True)
    try:
        sass = subprocess.run(["cuobjdump", "-sass", exe], capture_output=True, text=True).stdout
    except OSError as e:  # no cuobjdump: the code sizes are left out
        print("cuobjdump: %s" % e, file=sys.stderr)
        sass = ""
    sizes = {}
    cur = None
    for line in sass.splitlines():
        if "Function :" in line:
            cur = line.split("Function :")[1].strip()
            sizes[cur] = 0
        elif cur and line.strip().startswith("/*") and "*/" in line and ";" in line:
            sizes[cur] += 1
    with open(os.path.join(out, "fixed_costs.csv"), "w") as f:
        for k, v in sorted(sizes.items()):
            f.write("sass,%s,%d,%d\n" % (k, v, 16 * v))
        f.flush()
        args = [exe] + (["--quick"] if a.quick else ["--full"]) + [os.path.join(out, "blocks.csv")]
        p = subprocess.run(args, stdout=subprocess.PIPE, text=True, env=dict(os.environ, CUDA_MODULE_LOADING="EAGER"))
        f.write(p.stdout)
        print(p.stdout, flush=True)
        if p.returncode:
            print("fixed_costs exited %d" % p.returncode, file=sys.stderr)
            return p.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
