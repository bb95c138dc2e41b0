#!/usr/bin/env python3
"""The small kernels our validation rows time (x.add_, softmax, RMSNorm, small GEMMs, decode attention),
run so that a profiler can look inside them; and the kernels cuBLAS picks for the GEMM shapes that the
model gets wrong (split-K, unaligned, thin-K).

  names   torch.profiler: for each GEMM shape and small kernel, the CUDA kernels it launches, with
          their mean device time over 5 calls (CSV on stdout: case,kernel,calls,mean_us)
  ncu     the small kernels, 3 calls each after 3 warm-ups, between cudaProfilerStart and Stop, for
          `ncu --profile-from-start off` (prints nothing itself)

Usage (device machine): python3 scripts/measure/t1_profile.py names > $OUT/kernels.csv
                        ncu --profile-from-start off ... python3 scripts/measure/t1_profile.py ncu
"""
import sys

import torch
import torch.nn.functional as F

GEMMS = [  # (label, M, N, K, dtype)
    ("bf16 M1 N4096 K4096", 1, 4096, 4096, torch.bfloat16),
    ("bf16 M64 N4096 K4096", 64, 4096, 4096, torch.bfloat16),
    ("bf16 M128 N28672 K8192", 128, 28672, 8192, torch.bfloat16),
    ("bf16 M256 N28672 K8192", 256, 28672, 8192, torch.bfloat16),
    ("bf16 M4095 N4097 K4096", 4095, 4097, 4096, torch.bfloat16),
    ("bf16 M4096 N4096 K4096", 4096, 4096, 4096, torch.bfloat16),
    ("bf16 M3000 N5000 K700", 3000, 5000, 700, torch.bfloat16),
    ("bf16 M64 N64 K16384", 64, 64, 16384, torch.bfloat16),
    ("bf16 M128 N128 K65536", 128, 128, 65536, torch.bfloat16),
    ("bf16 M256 N512 K32768", 256, 512, 32768, torch.bfloat16),
    ("bf16 M1024 N1024 K1024", 1024, 1024, 1024, torch.bfloat16),
    ("bf16 M8192 N8192 K8192", 8192, 8192, 8192, torch.bfloat16),
    ("fp32(tf32) M2048 N2048 K2048", 2048, 2048, 2048, torch.float32),
    ("fp32(tf32) M4096 N4096 K4096", 4096, 4096, 4096, torch.float32),
]


def small_cases():
    """(label, fn) of the T1-style kernels; each fn launches what the validation row times."""
    dev = "cuda"
    bf = torch.bfloat16
    out = []
    for n in (1, 1024, 1 << 20):
        x = torch.zeros(n, device=dev, dtype=torch.float32)
        out.append(("x.add_(1) fp32 n=%d" % n, lambda x=x: x.add_(1)))
    for T, D in ((1, 4096), (64, 4096), (4096, 4096), (1, 32768), (64, 32768)):
        x = torch.randn(T, D, device=dev, dtype=bf)
        out.append(("softmax bf16 T%d D%d" % (T, D), lambda x=x: torch.softmax(x, dim=-1)))
    for T in (1, 64, 4096):
        x = torch.randn(T, 4096, device=dev, dtype=bf)
        w = torch.randn(4096, device=dev, dtype=bf)
        out.append(("rms_norm bf16 T%d D4096" % T, lambda x=x, w=w: F.rms_norm(x, (4096,), w, 1e-5)))
    for T in (1, 64):
        g = torch.randn(T, 14336, device=dev, dtype=bf)
        u = torch.randn(T, 14336, device=dev, dtype=bf)
        out.append(("swiglu bf16 T%d D14336" % T, lambda g=g, u=u: F.silu(g) * u))
    for M, N, K in ((64, 64, 64), (512, 512, 512), (1, 4096, 4096), (128, 4096, 4096)):
        a = torch.randn(M, K, device=dev, dtype=bf)
        b = torch.randn(K, N, device=dev, dtype=bf)
        out.append(("matmul bf16 M%d N%d K%d" % (M, N, K), lambda a=a, b=b: torch.matmul(a, b)))
    for B, S in ((1, 1024), (8, 4096)):
        q = torch.randn(B, 32, 1, 128, device=dev, dtype=bf)
        k = torch.randn(B, 8, S, 128, device=dev, dtype=bf)
        v = torch.randn(B, 8, S, 128, device=dev, dtype=bf)

        def fn(q=q, k=k, v=v):
            from torch.nn.attention import SDPBackend, sdpa_kernel
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        out.append(("sdpa decode bf16 B%d H32 KV8 S%d D128" % (B, S), fn))
    return out


def names():
    from torch.profiler import ProfilerActivity, profile
    print("case,kernel,calls,mean_us")
    cases = []
    for label, M, N, K, dt in GEMMS:
        torch.backends.cuda.matmul.allow_tf32 = dt == torch.float32
        a = torch.randn(M, K, device="cuda", dtype=dt)
        b = torch.randn(K, N, device="cuda", dtype=dt)
        cases.append((label, lambda a=a, b=b: torch.matmul(a, b)))
    cases += small_cases()
    torch.backends.cuda.matmul.allow_tf32 = True
    for label, fn in cases:
        try:
            for _ in range(3):
                fn()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    fn()
                torch.cuda.synchronize()
            for ev in prof.key_averages():
                if ev.device_type.name == "CUDA" or getattr(ev, "device_time_total", 0) > 0:
                    us = ev.device_time_total / max(ev.count, 1)
                    print('"%s","%s",%d,%.3f' % (label, ev.key.replace('"', "'"), ev.count, us), flush=True)
        except Exception as e:  # one case must not stop the others
            print('"%s","ERROR %s",0,0' % (label, str(e).replace('"', "'")[:200]), flush=True)
        finally:
            del fn


def profile_cases(cases, calls):
    """Each case `calls` times between cudaProfilerStart and Stop, after 3 warm-ups, inside an NVTX range
    named after the case (ncu --nvtx names each kernel's case)."""
    for _, fn in cases:
        for _ in range(3):
            fn()
    torch.cuda.synchronize()
    torch.cuda.cudart().cudaProfilerStart()
    for label, fn in cases:
        torch.cuda.nvtx.range_push(label)
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_pop()
    torch.cuda.cudart().cudaProfilerStop()


def ncu():
    profile_cases(small_cases(), 3)


def graph_time(fns, reps=64):
    """us per pass of fns, replayed as one CUDA graph of `reps` passes (median of 7 replays)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            for f in fns:
                f()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            for f in fns:
                f()
    g.replay()
    torch.cuda.synchronize()
    t = []
    for _ in range(7):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        t.append(a.elapsed_time(b) * 1000.0 / reps)
    t.sort()
    return t[len(t) // 2]


def mixed():
    """Each small kernel alone (a graph of 64 calls), after a tiny different kernel ([fn, y.mul_(1)] x 64),
    and all of them in one sequence: what a kernel costs more when the one before it is a different kernel
    (cold instruction caches, no reuse of the previous launch's state)."""
    cases = small_cases()
    y = torch.zeros(1, device="cuda")
    z = torch.zeros(1, device="cuda")
    tiny_a = lambda: z.add_(1)  # noqa: E731
    tiny_b = lambda: y.mul_(1)  # noqa: E731
    print("case,alone_us,with_tiny_us,tiny_alone_us,extra_us")
    ta = graph_time([tiny_a])
    tb = graph_time([tiny_b])
    tab = graph_time([tiny_a, tiny_b])
    print('"tiny add_ then mul_ (n=1)",%.4f,%.4f,%.4f,%.4f' % (ta, tab, tb, tab - ta - tb), flush=True)
    total = 0.0
    for label, fn in cases:
        try:
            a = graph_time([fn])
            w = graph_time([fn, tiny_b])
            total += a
            print('"%s",%.4f,%.4f,%.4f,%.4f' % (label, a, w, tb, w - a - tb), flush=True)
        except Exception as e:
            print('"%s ERROR %s",0,0,0,0' % (label, str(e)[:200].replace('"', "'")), flush=True)
    try:
        seq = graph_time([fn for _, fn in cases], reps=16)
        print('"all %d cases in one sequence",%.4f,%.4f,0,%.4f' % (len(cases), total, seq, seq - total), flush=True)
    except Exception as e:
        print('"sequence ERROR %s",0,0,0,0' % str(e)[:200].replace('"', "'"), flush=True)


def mixed_small():
    """The cases whose data fit in L2 together (under 12 MB in all), one after another in one graph,
    against the sum of each alone: the extra is what distinct consecutive kernels cost beyond data."""
    keep = ("n=1 ", "n=1024", "T1 D4096", "T64 D4096", "T1 D32768", "T64 D32768", "T1 D14336", "T64 D14336",
            "M64 N64 K64", "M512 N512 K512", "B1 H32 KV8 S1024")
    cases = [(l, f) for l, f in small_cases() if any(k in l + " " for k in keep)]
    print("case,alone_us")
    total = 0.0
    for label, fn in cases:
        a = graph_time([fn])
        total += a
        print('"%s",%.4f' % (label, a), flush=True)
    for reps in (16, 64):
        seq = graph_time([fn for _, fn in cases], reps=reps)
        print('"sequence of %d cases x%d: sum alone, sequence, extra per kernel",%.4f,%.4f,%.4f' % (
            len(cases), reps, total, seq, (seq - total) / len(cases)), flush=True)
    rev = graph_time([fn for _, fn in reversed(cases)], reps=16)
    print('"reversed sequence x16",%.4f,%.4f,%.4f' % (total, rev, (rev - total) / len(cases)), flush=True)


def row_cases():
    """Softmax and RMSNorm over one row of several widths: per-thread and per-element instruction counts."""
    bf = torch.bfloat16
    out = []
    for D in (2560, 4096, 6144, 8192, 9216, 16384, 24576, 32768, 65536):
        x = torch.randn(1, D, device="cuda", dtype=bf)
        out.append(("softmax bf16 T1 D%d" % D, lambda x=x: torch.softmax(x, dim=-1)))
    for D in (4096, 32768):
        x = torch.randn(1, D, device="cuda", dtype=torch.float32)
        out.append(("softmax fp32 T1 D%d" % D, lambda x=x: torch.softmax(x, dim=-1)))
    for D in (1024, 2048, 4096, 8192, 16384):
        x = torch.randn(1, D, device="cuda", dtype=bf)
        w = torch.randn(D, device="cuda", dtype=bf)
        out.append(("rms_norm bf16 T1 D%d" % D, lambda x=x, w=w, D=D: F.rms_norm(x, (D,), w, 1e-5)))
    return out


def rows_ncu():
    profile_cases(row_cases(), 1)


def rows_time():
    print("case,graph_us_per_call")
    for label, fn in row_cases():
        print('"%s",%.4f' % (label, graph_time([fn])), flush=True)


if __name__ == "__main__":
    {"names": names, "ncu": ncu, "mixed": mixed, "mixed_small": mixed_small, "rows_ncu": rows_ncu,
     "rows_time": rows_time}[sys.argv[1]]()
