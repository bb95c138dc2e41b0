#!/usr/bin/env python3
"""Measure real kernels on an NVIDIA GPU (H100) with PyTorch, for xpusim validation.

Runs on the device machine (python3 with torch). Writes, incrementally:
  $OUT/h100_measured.csv   rows in the format of shared/validation/measurements.csv
  $OUT/log.txt             progress log
  $OUT/env.txt             nvidia-smi and nvidia-smi -q -d CLOCK,POWER
  $OUT/power_gemm.csv      nvidia-smi samples during the sustained GEMM loop
  $OUT/power_copy.csv      nvidia-smi samples during the sustained copy loop

Usage: python3 scripts/measure/h100_kernels.py [--quick] [--parts gemm,tf32,fp16,fp8,attn,mem,launch,power]
                                               [--id-start N] [--date 2026-11-22]

Timing method (see workloads/validation/README.md):
  * inputs are random (randn), never zeros;
  * each kernel is warmed up (>= 10 calls) and then timed with torch.cuda.Event;
  * inputs are rotated over several buffer sets so that the working set of the
    timed loop is >= 256 MiB (larger than the 50 MiB L2), up to 64 sets;
  * kernels whose estimated time is < 300 us are timed as CUDA-graph replays of
    a loop of `inner` launches (median of 30 replays, time / inner), and also
    as single eager launches (events around one launch after a synchronize,
    median of 50) which include the launch overhead;
  * longer kernels are timed eagerly back-to-back with one event pair per call
    (median of 30 calls after 10 warm-up calls).
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import time
import traceback

import torch
import torch.nn.functional as F

OUT = os.environ.get("OUT", ".")
CSV = os.path.join(OUT, "h100_measured.csv")
LOG = os.path.join(OUT, "log.txt")
HEADER = "id,hardware,level,workload,dtype,shape_or_config,metric,value,unit,source"

WARMUP = 10
REPS = 30
SINGLE_REPS = 50
ROTATE_BYTES = 256 << 20
MAX_SETS = 64
GRAPH_THRESHOLD_US = 300.0
GRAPH_TARGET_US = 2000.0

state = {"id": 1, "hw": "?", "src": "?", "prefix": "H"}


def log(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    with open(LOG, "a") as f:
        f.write(s + "\n")


def q(field):
    field = str(field)
    if "," in field or '"' in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def row(level, workload, dtype, shape, metric, value, unit, method):
    # H100 rows keep their historical ids (H01..H358); other files number with 3 digits (G001, ...)
    rid = state["prefix"] + (("%02d" if state["prefix"] == "H" else "%03d") % state["id"])
    state["id"] += 1
    src = state["src"] + ", " + method + ", clocks not locked"
    if isinstance(value, float):
        value = ("%.4g" % value) if value < 100 else ("%.1f" % value)
    line = ",".join(q(x) for x in (rid, state["hw"], level, workload, dtype, shape, metric, value, unit, src))
    with open(CSV, "a") as f:
        f.write(line + "\n")
    log("ROW", line)


def smi(args):
    try:
        return subprocess.run(["nvidia-smi"] + args, capture_output=True, text=True, timeout=60).stdout
    except Exception as e:  # noqa
        return "nvidia-smi failed: %r" % e


# ---------------------------------------------------------------- timing core
def n_sets_for(bytes_per_set):
    if bytes_per_set <= 0:
        return 1
    return max(1, min(MAX_SETS, math.ceil(ROTATE_BYTES / bytes_per_set)))


def time_kernel(fn, nsets, rot=None):
    """fn(i) launches one kernel instance on input set i.  Returns dict with
    'us' (median per-call time), 'method' (text), and optionally 'single_us'."""
    torch.cuda.synchronize()
    for i in range(WARMUP):
        fn(i % nsets)
    torch.cuda.synchronize()
    # estimate with eager back-to-back calls
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    n_est = 10
    e0.record()
    for i in range(n_est):
        fn(i % nsets)
    e1.record()
    torch.cuda.synchronize()
    est_us = e0.elapsed_time(e1) * 1000.0 / n_est
    res = {"est_us": est_us}
    if rot is None:
        rot = "inputs rotated over %d buffer sets" % nsets if nsets > 1 else "single buffer set (working set > 256 MiB)"
    if est_us >= GRAPH_THRESHOLD_US:
        evs = [torch.cuda.Event(enable_timing=True) for _ in range(REPS + 1)]
        evs[0].record()
        for r in range(REPS):
            fn(r % nsets)
            evs[r + 1].record()
        torch.cuda.synchronize()
        ts = [evs[r].elapsed_time(evs[r + 1]) * 1000.0 for r in range(REPS)]
        res["us"] = statistics.median(ts)
        res["method"] = ("CUDA events, %d warm-up, median of %d back-to-back eager calls (one event pair per call), %s"
                         % (WARMUP + n_est, REPS, rot))
        res["spread"] = (min(ts), max(ts))
        return res
    # short kernel: CUDA graph of `inner` launches
    inner = int(max(1, min(2000, math.ceil(GRAPH_TARGET_US / max(est_us, 0.5)))))
    try:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for i in range(3):
                fn(i % nsets)
        torch.cuda.current_stream().wait_stream(s)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for i in range(inner):
                fn(i % nsets)
        torch.cuda.synchronize()
        for _ in range(3):
            g.replay()
        torch.cuda.synchronize()
        ts = []
        for _ in range(REPS):
            e0.record()
            g.replay()
            e1.record()
            torch.cuda.synchronize()
            ts.append(e0.elapsed_time(e1) * 1000.0 / inner)
        res["us"] = statistics.median(ts)
        res["spread"] = (min(ts), max(ts))
        res["method"] = ("CUDA events, %d warm-up + 3 graph warm-up replays, median of %d CUDA-graph replays of %d launches (time per launch = replay time / %d), %s"
                         % (WARMUP + n_est, REPS, inner, inner, rot))
        del g
    except Exception as e:
        log("  graph capture failed (%r); falling back to eager loop" % (e,))
        torch.cuda.synchronize()
        ts = []
        for _ in range(REPS):
            e0.record()
            for i in range(inner):
                fn(i % nsets)
            e1.record()
            torch.cuda.synchronize()
            ts.append(e0.elapsed_time(e1) * 1000.0 / inner)
        res["us"] = statistics.median(ts)
        res["spread"] = (min(ts), max(ts))
        res["method"] = ("CUDA events, %d warm-up, median of %d eager loops of %d launches (time per launch = loop time / %d), %s"
                         % (WARMUP + n_est, REPS, inner, inner, rot))
    # single eager launch latency (includes launch overhead)
    ts = []
    for r in range(SINGLE_REPS):
        torch.cuda.synchronize()
        e0.record()
        fn(r % nsets)
        e1.record()
        torch.cuda.synchronize()
        ts.append(e0.elapsed_time(e1) * 1000.0)
    res["single_us"] = statistics.median(ts)
    res["single_method"] = ("CUDA events around one eager launch after a synchronize (includes launch overhead), median of %d, %s"
                            % (SINGLE_REPS, rot))
    return res


def report(level, workload, dtype, shape, res, flops=None, nbytes=None, extra=None):
    us = res["us"]
    log("  %s %s %s: %.3f us (est %.3f, spread %.3f..%.3f)%s" % (
        workload, dtype, shape, us, res["est_us"], res["spread"][0], res["spread"][1],
        (" single %.3f us" % res["single_us"]) if "single_us" in res else ""))
    if flops is not None:
        row(level, workload, dtype, shape, "throughput", flops / (us * 1e-6) / 1e12, "TFLOP/s", res["method"])
    if nbytes is not None:
        row(level, workload, dtype, shape, "bandwidth", nbytes / (us * 1e-6) / 1e9, "GB/s", res["method"])
    row(level, workload, dtype, shape, "latency", us, "us", res["method"])
    if "single_us" in res:
        row(level, workload + " (single launch)", dtype, shape, "latency", res["single_us"], "us", res["single_method"])


def guarded(name, f, *a, **k):
    try:
        f(*a, **k)
    except Exception:
        log("FAILED %s:\n%s" % (name, traceback.format_exc()))
        torch.cuda.synchronize()
    torch.cuda.empty_cache()


# ---------------------------------------------------------------- GEMM
def gemm(M, N, K, dtype, label, dname, b=0):
    esz = torch.empty((), dtype=dtype).element_size()
    if b:
        per = b * (M * K + K * N + M * N) * esz
    else:
        per = (M * K + K * N + M * N) * esz
    ns = n_sets_for(per)
    if b:
        A = [torch.randn(b, M, K, device="cuda", dtype=dtype) for _ in range(ns)]
        B = [torch.randn(b, K, N, device="cuda", dtype=dtype) for _ in range(ns)]
        C = [torch.empty(b, M, N, device="cuda", dtype=dtype) for _ in range(ns)]
        fn = lambda i: torch.bmm(A[i], B[i], out=C[i])
    else:
        A = [torch.randn(M, K, device="cuda", dtype=dtype) for _ in range(ns)]
        B = [torch.randn(K, N, device="cuda", dtype=dtype) for _ in range(ns)]
        C = [torch.empty(M, N, device="cuda", dtype=dtype) for _ in range(ns)]
        fn = lambda i: torch.matmul(A[i], B[i], out=C[i])
    res = time_kernel(fn, ns)
    bb = max(b, 1)
    report("kernel", label, dname, "b%d M%d N%d K%d" % (bb, M, N, K), res, flops=2.0 * bb * M * N * K)
    del A, B, C


def part_gemm(quick):
    L = "GEMM torch.matmul"
    squares = [512, 1024, 2048, 3072, 4096, 6144, 8192, 16384]
    skinny_m = [1, 8, 16, 32, 64, 128, 256]
    nk = [(4096, 4096), (14336, 4096), (4096, 14336), (8192, 8192), (28672, 8192)]
    prefill_m = [512, 2048, 8192]
    prefill_nk = [(6144, 4096), (4096, 4096), (28672, 8192)]
    ragged = [(1000, 1000, 1000), (4095, 4097, 4096), (3000, 5000, 700)]
    if quick:
        squares, skinny_m, nk, prefill_m, prefill_nk, ragged = [4096, 8192], [1], [(4096, 4096)], [2048], [(6144, 4096)], []
    for s in squares:
        guarded("gemm sq %d" % s, gemm, s, s, s, torch.bfloat16, L, "bf16")
    for m in skinny_m:
        for n, k in nk:
            guarded("gemm skinny", gemm, m, n, k, torch.bfloat16, L, "bf16")
    for m in prefill_m:
        for n, k in prefill_nk:
            guarded("gemm prefill", gemm, m, n, k, torch.bfloat16, L, "bf16")
    for m, n, k in ragged:
        guarded("gemm ragged", gemm, m, n, k, torch.bfloat16, L, "bf16")
    bm = [] if quick else [8, 32]
    for b in bm:
        guarded("bmm", gemm, 1024, 1024, 1024, torch.bfloat16, "GEMM torch.bmm", "bf16", b=b)
        guarded("bmm", gemm, 512, 512, 4096, torch.bfloat16, "GEMM torch.bmm", "bf16", b=b)


def part_tf32(quick):
    torch.backends.cuda.matmul.allow_tf32 = True
    for s in ([4096] if quick else [2048, 4096, 8192]):
        guarded("tf32", gemm, s, s, s, torch.float32, "GEMM torch.matmul (allow_tf32=True)", "fp32(tf32 path)")
    torch.backends.cuda.matmul.allow_tf32 = False


def part_fp16(quick):
    for s in ([4096] if quick else [4096, 8192]):
        guarded("fp16", gemm, s, s, s, torch.float16, "GEMM torch.matmul", "fp16")


def fp8(M, N, K, fast=False):
    per = M * K + N * K + M * N * 2
    ns = n_sets_for(per)
    A = [(torch.randn(M, K, device="cuda") * 0.5).to(torch.float8_e4m3fn) for _ in range(ns)]
    Bt = [(torch.randn(N, K, device="cuda") * 0.5).to(torch.float8_e4m3fn) for _ in range(ns)]
    sa = torch.tensor(1.0, device="cuda")
    sb = torch.tensor(1.0, device="cuda")
    fn = lambda i: torch._scaled_mm(A[i], Bt[i].t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16,
                                    use_fast_accum=fast)
    # sanity check against a bf16 reference on the same (dequantized) values
    out = fn(0).float()
    ref = A[0].to(torch.bfloat16).float() @ Bt[0].to(torch.bfloat16).float().t()
    err = ((out - ref).norm() / ref.norm()).item()
    log("  fp8 M%d N%d K%d fast=%s rel err vs fp32 ref %.2e" % (M, N, K, fast, err))
    if not (err < 2e-2):
        raise RuntimeError("fp8 result check failed: rel err %r" % err)
    del out, ref
    res = time_kernel(fn, ns)
    label = "GEMM torch._scaled_mm per-tensor scale" + (" use_fast_accum=True" if fast else "")
    report("kernel", label, "fp8e4m3->bf16", "b1 M%d N%d K%d" % (M, N, K), res, flops=2.0 * M * N * K)


def part_fp8(quick):
    shapes = [(4096, 4096, 4096), (8192, 8192, 8192)]
    for m in [1, 16, 64, 128, 2048]:
        for n, k in [(4096, 4096), (14336, 4096)]:
            shapes.append((m, n, k))
    shapes += [(4096, 4096, 7168), (64, 2112, 7168)]
    if quick:
        shapes = [(8192, 8192, 8192), (1, 4096, 4096), (16, 4096, 4096)]
    for M, N, K in shapes:
        guarded("fp8 %d %d %d" % (M, N, K), fp8, M, N, K)
    for s in ([] if quick else [4096, 8192]):
        guarded("fp8 fast %d" % s, fp8, s, s, s, True)


# ---------------------------------------------------------------- attention
def sdpa_backend_name(qq, k, v, gqa):
    try:
        try:
            c = torch._fused_sdp_choice(qq, k, v, None, 0.0, False, scale=None, enable_gqa=gqa)
        except TypeError:
            c = torch._fused_sdp_choice(qq, k, v, None, 0.0, False)
    except Exception as e:
        return "unknown: %s" % (str(e).splitlines()[0][:80],)
    try:
        return torch.nn.attention.SDPBackend(c).name
    except Exception:
        pass
    try:
        for nm, b in torch.nn.attention.SDPBackend.__members__.items():
            if int(b) == int(c):
                return nm
    except Exception:
        pass
    return "choice %s" % (c,)


def attn(B, H, KV, S, D, causal, Sq=None):
    from torch.nn.attention import sdpa_kernel, SDPBackend
    decode = Sq is not None
    Sq = S if Sq is None else Sq
    gqa = KV != H
    per = (B * H * Sq * D * 2 + 2 * B * KV * S * D) * 2
    ns = n_sets_for(per)
    Q = [torch.randn(B, H, Sq, D, device="cuda", dtype=torch.bfloat16) for _ in range(ns)]
    Kt = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(ns)]
    Vt = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(ns)]
    kw = {"is_causal": causal}
    if gqa:
        kw["enable_gqa"] = True
    label = "attention fwd SDPA flash backend"
    ctx = lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)
    try:
        with ctx():
            o = F.scaled_dot_product_attention(Q[0], Kt[0], Vt[0], **kw)
    except Exception as e:
        if not decode:
            raise
        log("  flash backend refused (%s); using SDPA's default choice" % (str(e).splitlines()[0][:200],))
        bname = sdpa_backend_name(Q[0], Kt[0], Vt[0], gqa)
        label = "attention fwd SDPA default backend (%s; flash refused)" % bname
        import contextlib
        ctx = contextlib.nullcontext
        o = F.scaled_dot_product_attention(Q[0], Kt[0], Vt[0], **kw)
    # correctness spot check against math on a slice (small)
    with torch.no_grad():
        b0 = 0
        qs, ks, vs = Q[0][b0:b0 + 1].float(), Kt[0][b0:b0 + 1].float(), Vt[0][b0:b0 + 1].float()
        if gqa:
            ks = ks.repeat_interleave(H // KV, dim=1)
            vs = vs.repeat_interleave(H // KV, dim=1)
        if Sq * S <= 4096 * 4096:
            sc = (qs @ ks.transpose(-1, -2)) / math.sqrt(D)
            if causal:
                msk = torch.ones(Sq, S, device="cuda", dtype=torch.bool).tril(S - Sq)
                sc = sc.masked_fill(~msk, float("-inf"))
            ref = torch.softmax(sc, -1) @ vs
            err = ((o[b0:b0 + 1].float() - ref).norm() / ref.norm()).item()
            log("  attn rel err vs fp32 ref %.2e" % err)
            if not (err < 2e-2):
                raise RuntimeError("attention check failed %r" % err)
            del sc, ref
        del qs, ks, vs
    del o

    def fn(i):
        with ctx():
            F.scaled_dot_product_attention(Q[i], Kt[i], Vt[i], **kw)

    res = time_kernel(fn, ns)
    if decode:
        flops = 4.0 * B * H * Sq * S * D
        nbytes = (2 * B * H * Sq * D + 2 * B * KV * S * D) * 2
        shape = "B%d H%d KV%d Q%d S%d D%d" % (B, H, KV, Sq, S, D)
        report("kernel", label + " decode", "bf16", shape, res, flops=flops, nbytes=nbytes)
    else:
        flops = 4.0 * B * H * S * S * D / (2 if causal else 1)
        shape = "B%d H%d KV%d S%d D%d %s" % (B, H, KV, S, D, "causal" if causal else "noncausal")
        report("kernel", label, "bf16", shape, res, flops=flops)
    del Q, Kt, Vt


def part_attn(quick):
    cfgs = []
    for S in ([4096] if quick else [1024, 2048, 4096, 8192]):
        cfgs += [(1, 32, 32, S, 128, True), (1, 32, 32, S, 128, False)]
    if not quick:
        cfgs += [(4, 16, 16, 4096, 128, False), (1, 16, 16, 16384, 128, False)]
    cfgs += [(1, 32, 8, 4096, 128, True)]
    for c in cfgs:
        guarded("attn %r" % (c,), attn, *c)
    for B in ([64] if quick else [1, 8, 64]):
        for S in ([4096] if quick else [1024, 4096, 16384]):
            guarded("decode B%d S%d" % (B, S), attn, B, 32, 8, S, 128, False, Sq=1)


# ---------------------------------------------------------------- memory ops
def memop(name, dtype_name, shape, make, fn_of, nbytes, per):
    ns = n_sets_for(per)
    sets = [make() for _ in range(ns)]
    fn = lambda i: fn_of(sets[i])
    res = time_kernel(fn, ns)
    report("kernel", name, dtype_name, shape, res, nbytes=nbytes)
    del sets


def part_mem(quick):
    bf = torch.bfloat16
    D = 4096
    Ts = [1, 4096] if quick else [1, 64, 4096, 16384]
    has_rms = hasattr(F, "rms_norm")
    log("F.rms_norm present: %s" % has_rms)
    for T in Ts:
        nb = 2 * T * D * 2 + D * 2
        if has_rms:
            guarded("rmsnorm", memop, "RMSNorm F.rms_norm", "bf16", "T%d D%d" % (T, D),
                    lambda T=T: (torch.randn(T, D, device="cuda", dtype=bf), torch.randn(D, device="cuda", dtype=bf)),
                    lambda s: F.rms_norm(s[0], (D,), s[1], 1e-6), nb, nb)
        else:
            guarded("rmsnorm", memop, "RMSNorm eager x*rsqrt(mean(x^2)+eps)*w", "bf16", "T%d D%d" % (T, D),
                    lambda T=T: (torch.randn(T, D, device="cuda", dtype=bf), torch.randn(D, device="cuda", dtype=bf)),
                    lambda s: s[0] * torch.rsqrt(s[0].float().pow(2).mean(-1, keepdim=True) + 1e-6).to(bf) * s[1], nb, nb)
    for W in [4096, 32768]:
        for T in Ts:
            nb = 2 * T * W * 2
            guarded("softmax", memop, "softmax torch.softmax(dim=-1)", "bf16", "T%d D%d" % (T, W),
                    lambda T=T, W=W: torch.randn(T, W, device="cuda", dtype=bf),
                    lambda x: torch.softmax(x, -1), nb, nb)
    DI = 14336
    for T in Ts:
        nb = 3 * T * DI * 2
        guarded("silu", memop, "SwiGLU F.silu(gate)*up eager (2 kernels; bytes = read gate+up + write out)", "bf16",
                "T%d D%d" % (T, DI),
                lambda T=T: (torch.randn(T, DI, device="cuda", dtype=bf), torch.randn(T, DI, device="cuda", dtype=bf)),
                lambda s: F.silu(s[0]) * s[1], nb, nb)
    for T in Ts:
        nb = 3 * T * D * 2
        guarded("add", memop, "residual add x+r", "bf16", "T%d D%d" % (T, D),
                lambda T=T: (torch.randn(T, D, device="cuda", dtype=bf), torch.randn(T, D, device="cuda", dtype=bf)),
                lambda s: s[0] + s[1], nb, nb)
    for nbytes in ([1 << 30] if quick else [1 << 30, 64 << 20]):
        n = nbytes // 2
        guarded("copy", memop, "device-to-device copy dst.copy_(src) (bytes read + written)", "bf16",
                "bytes=%d" % nbytes,
                lambda n=n: (torch.randn(n, device="cuda", dtype=bf), torch.empty(n, device="cuda", dtype=bf)),
                lambda s: s[1].copy_(s[0]), 2 * nbytes, 2 * nbytes)
    nbytes = 1 << 30
    guarded("read", memop, "pure read x.sum() (bytes read)", "bf16", "bytes=%d" % nbytes,
            lambda: torch.randn(nbytes // 2, device="cuda", dtype=bf),
            lambda x: x.sum(), nbytes, nbytes)


def part_launch(quick):
    x = torch.zeros(1, device="cuda", dtype=torch.float32) + 1.5
    fn = lambda i: x.add_(1)
    res = time_kernel(fn, 1, rot="single 1-element buffer")
    report("micro", "launch overhead tiny kernel x.add_(1)", "fp32", "T1 D1", res)
    # eager back-to-back launch rate (CPU-bound issue rate)
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for _ in range(REPS):
        torch.cuda.synchronize()
        e0.record()
        for _ in range(1000):
            x.add_(1)
        e1.record()
        torch.cuda.synchronize()
        ts.append(e0.elapsed_time(e1) * 1000.0 / 1000)
    us = statistics.median(ts)
    log("  eager back-to-back add_ per launch %.3f us" % us)
    row("micro", "launch overhead tiny kernel x.add_(1) (eager back-to-back loop)", "fp32", "T1 D1", "latency", us, "us",
        "CUDA events, %d warm-up, median of %d eager loops of 1000 launches (time per launch = loop time / 1000)"
        % (WARMUP + 10, REPS))


# ---------------------------------------------------------------- power
def sustained(name, fn, seconds, fname, shape, dtype, workload):
    path = os.path.join(OUT, fname)
    fh = open(path, "w")
    p = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,power.draw,clocks.sm,clocks.mem,temperature.gpu",
                          "--format=csv,nounits", "-lms", "200"], stdout=fh, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    t0 = time.time()
    n = 0
    while time.time() - t0 < seconds:
        for _ in range(20):
            fn()
        n += 20
        torch.cuda.synchronize()
    t1 = time.time()
    time.sleep(0.3)
    p.terminate()
    p.wait()
    fh.close()
    with open(os.path.join(OUT, "env.txt"), "a") as f:
        f.write("\n==== nvidia-smi -q -d PERFORMANCE right after the sustained loop: %s\n" % name)
        f.write(smi(["-q", "-d", "PERFORMANCE"]))
    log("  %s: %d iterations in %.2f s" % (name, n, t1 - t0))
    # parse samples; keep those taken while the loop ran, dropping the first 1 s (ramp)
    import datetime
    pw, sm, mem, tmp = [], [], [], []
    for line in open(path):
        parts = [x.strip() for x in line.split(",")]
        if len(parts) < 5 or parts[0].startswith("timestamp"):
            continue
        try:
            ts = datetime.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
        except Exception:
            continue
        if ts < t0 + 1.0 or ts > t1:
            continue
        try:
            pw.append(float(parts[1])); sm.append(float(parts[2])); mem.append(float(parts[3])); tmp.append(float(parts[4]))
        except ValueError:
            continue
    if not pw:
        raise RuntimeError("no nvidia-smi samples parsed; see %s" % fname)
    m = ("nvidia-smi --query-gpu=power.draw,clocks.sm,clocks.mem,temperature.gpu -lms 200 in a background process, "
         "mean of %d samples taken while a %.1f s loop of the kernel ran (first 1 s dropped)" % (len(pw), t1 - t0))
    log("  %s: power mean %.1f W (min %.1f max %.1f), sm clock mean %.0f MHz (min %.0f max %.0f), mem clock %.0f MHz, temp %.0f..%.0f C"
        % (name, statistics.mean(pw), min(pw), max(pw), statistics.mean(sm), min(sm), max(sm), statistics.mean(mem), min(tmp), max(tmp)))
    row("micro", workload, dtype, shape, "power", statistics.mean(pw), "W", m)
    row("micro", workload, dtype, shape, "sm_clock", statistics.mean(sm), "MHz", m)


def part_repeat(quick):
    """Re-time two GEMMs (log only, no rows) to show run-to-run spread."""
    for sz in [4096, 8192]:
        A = torch.randn(sz, sz, device="cuda", dtype=torch.bfloat16)
        B = torch.randn(sz, sz, device="cuda", dtype=torch.bfloat16)
        C = torch.empty(sz, sz, device="cuda", dtype=torch.bfloat16)
        ns = n_sets_for(3 * sz * sz * 2)
        As = [A] + [torch.randn_like(A) for _ in range(ns - 1)]
        res = time_kernel(lambda i: torch.matmul(As[i], B, out=C), ns)
        log("  REPEAT bf16 %d^3: %.3f us = %.1f TFLOP/s (spread %.3f..%.3f)" % (
            sz, res["us"], 2.0 * sz ** 3 / res["us"] / 1e6, res["spread"][0], res["spread"][1]))
        del A, B, C, As


def part_power(quick):
    secs = 3.0 if quick else 10.0
    s = 8192
    A = torch.randn(s, s, device="cuda", dtype=torch.bfloat16)
    B = torch.randn(s, s, device="cuda", dtype=torch.bfloat16)
    C = torch.empty(s, s, device="cuda", dtype=torch.bfloat16)
    guarded("power gemm", sustained, "gemm 8192^3 bf16", lambda: torch.matmul(A, B, out=C), secs, "power_gemm.csv",
            "b1 M8192 N8192 K8192", "bf16", "sustained GEMM torch.matmul loop")
    del A, B, C
    torch.cuda.empty_cache()
    n = (1 << 30) // 2
    src = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    guarded("power copy", sustained, "copy 1 GiB", lambda: dst.copy_(src), secs, "power_copy.csv",
            "bytes=1073741824", "bf16", "sustained device-to-device copy loop dst.copy_(src)")


# ---------------------------------------------------------------- main
PARTS = {"launch": part_launch, "gemm": part_gemm, "tf32": part_tf32, "fp16": part_fp16, "fp8": part_fp8,
         "attn": part_attn, "mem": part_mem, "power": part_power, "repeat": part_repeat}


def setup(csv_name, prefix, id_start, date):
    """Open the CSV (header once), record the GPU's state in env.txt, and fill `state` with the
    hardware name and the source text every row carries."""
    global CSV
    CSV = os.path.join(OUT, csv_name)
    state["id"] = id_start
    state["prefix"] = prefix
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(CSV):
        with open(CSV, "w") as f:
            f.write(HEADER + "\n")
    env = smi([]) + "\n" + smi(["-q", "-d", "CLOCK,POWER,PERFORMANCE,TEMPERATURE"]) + "\n" + smi(
        ["--query-gpu=name,memory.total,driver_version,power.limit,enforced.power.limit,clocks.max.sm,clocks.max.mem,pstate",
         "--format=csv"])
    with open(os.path.join(OUT, "env.txt"), "w") as f:
        f.write(env)
    info = smi(["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]).strip().split("\n")[0]
    name, drv, memtot = [x.strip() for x in info.split(",")]
    gpu = torch.cuda.get_device_name()
    log("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", gpu, "| smi:", name, drv, memtot)
    log("cudnn", torch.backends.cudnn.version(), "capability", torch.cuda.get_device_capability())
    log("has F.rms_norm", hasattr(F, "rms_norm"), "| has _scaled_mm", hasattr(torch, "_scaled_mm"))
    try:
        import inspect
        log("sdpa signature:", inspect.signature(F.scaled_dot_product_attention))
    except Exception as e:
        log("sdpa signature: n/a", e)
    hw = name.replace("NVIDIA ", "")
    if hw == "H100 80GB HBM3":
        hw = "H100 80GB HBM3 (SXM)"
    state["hw"] = hw
    state["src"] = "measured on %s (%s) with PyTorch %s, CUDA %s, driver %s, %s" % (
        name, memtot, torch.__version__, torch.version.cuda, drv, date)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)


def run_parts(parts, fns, quick):
    T0 = time.time()
    for p in parts:
        t = time.time()
        log("=== part %s" % p)
        guarded(p, fns[p], quick)
        log("=== part %s done in %.1f s (total %.1f s)" % (p, time.time() - t, time.time() - T0))
    log("ALL DONE next id %d" % state["id"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default="launch,gemm,tf32,fp16,fp8,attn,mem,repeat,power")
    ap.add_argument("--id-start", type=int, default=1)
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--csv", default="h100_measured.csv", help="file name of the CSV under $OUT")
    ap.add_argument("--prefix", default="H", help="row id prefix (H: H01.., others: G001..)")
    a = ap.parse_args()
    setup(a.csv, a.prefix, a.id_start, a.date)
    run_parts(a.parts.split(","), PARTS, a.quick)


if __name__ == "__main__":
    main()
