#!/usr/bin/env python3
"""One device session on an NVIDIA GPU: the kernel grid of h100_kernels.py, plus what our
validation lacked (workloads/validation/README.md says how each part is measured):

  pmtrace  power management over time: a bf16 8192^3 GEMM loop started on an idle GPU, every
           call timed with CUDA events and the board sampled every 20 ms (power, SM clock,
           throttle reasons), so that the clock at the first calls (boost), the time to reach
           the power limit and the clock held at it are read off one run
  small    fixed costs of small kernels: an in-place add over 2^10..2^26 elements and small
           square GEMMs, each as back-to-back launches inside a CUDA graph
  decode   whole decode steps of Llama-shaped models with random weights (Llama-3.1-8B in bf16,
           Llama-3.1-70B with fp8 weights and activations), at several batches and contexts,
           one step captured as a CUDA graph and replayed back to back
  dpower   board power and SM clock while decode steps run back to back (memory-bound work)
  prefill  whole prefill steps of the same models for one sequence of T tokens, launched eagerly
  gprefill the same prefill steps captured as one CUDA graph each (GPU time without host dispatch)
  cdecode  decode steps whose layers torch.compile fuses (closer to a serving engine), one CUDA graph each
  bursts   90 ms bursts of GEMMs after 1 s idle: first and last calls of each burst
  ipower   board power and SM clock under sustained GEMMs of lower arithmetic intensity, and fp8

Usage (on the device machine, OUT set):
  python3 scripts/measure/gpu_session.py --csv h200_measured.csv --prefix G --date 2026-11-30 \
      --parts pmtrace,launch,small,gemm,fp8,attn,mem,decode,dpower,power
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h100_kernels as K  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

log, row, guarded, report, time_kernel = K.log, K.row, K.guarded, K.report, K.time_kernel


# ---------------------------------------------------------------- sampler
def query_fields():
    """The nvidia-smi query fields this driver knows, in our order of preference."""
    helptext = K.smi(["--help-query-gpu"])
    want = ["timestamp", "power.draw", "power.draw.instant", "power.draw.average", "clocks.sm", "clocks.mem",
            "temperature.gpu", "clocks_event_reasons.sw_power_cap", "clocks_event_reasons.hw_slowdown",
            "clocks_event_reasons.sw_thermal_slowdown"]
    alt = {"clocks_event_reasons.sw_power_cap": "clocks_throttle_reasons.sw_power_cap",
           "clocks_event_reasons.hw_slowdown": "clocks_throttle_reasons.hw_slowdown",
           "clocks_event_reasons.sw_thermal_slowdown": "clocks_throttle_reasons.sw_thermal_slowdown"}
    out = []
    for f in want:
        if '"%s"' % f in helptext:
            out.append(f)
        elif f in alt and '"%s"' % alt[f] in helptext:
            out.append(alt[f])
    if "timestamp" not in out or not any(f.startswith("power.draw") for f in out):
        log("  nvidia-smi --help-query-gpu did not list the fields; using the base set")
        out = ["timestamp", "power.draw", "clocks.sm", "clocks.mem", "temperature.gpu"]
    return out


class Sampler:
    def __init__(self, fname, period_ms):
        self.fields = query_fields()
        self.path = os.path.join(K.OUT, fname)
        self.fh = open(self.path, "w")
        self.p = subprocess.Popen(["nvidia-smi", "--query-gpu=" + ",".join(self.fields), "--format=csv,nounits",
                                   "-lms", str(period_ms)], stdout=self.fh, stderr=subprocess.STDOUT)

    def stop(self):
        self.p.terminate()
        self.p.wait()
        self.fh.close()

    def samples(self):
        """[(unix time, {field: float})] of the rows that parse."""
        import datetime
        out = []
        for line in open(self.path):
            parts = [x.strip() for x in line.split(",")]
            if len(parts) != len(self.fields) or parts[0].startswith("timestamp"):
                continue
            try:
                ts = datetime.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            except ValueError:
                continue
            vals = {}
            for f, v in zip(self.fields[1:], parts[1:]):
                try:
                    vals[f] = float(v)
                except ValueError:
                    vals[f] = 1.0 if v.lower() == "active" else (0.0 if v.lower() == "not active" else float("nan"))
            out.append((ts, vals))
        return out


def mean_of(samples, field, t0, t1):
    v = [s[field] for ts, s in samples if t0 <= ts <= t1 and field in s and not math.isnan(s[field])]
    return (statistics.mean(v), len(v)) if v else (float("nan"), 0)


# ---------------------------------------------------------------- pmtrace
def part_pmtrace(quick):
    secs = 4.0 if quick else 12.0
    s = 8192
    A = torch.randn(s, s, device="cuda", dtype=torch.bfloat16)
    B = torch.randn(s, s, device="cuda", dtype=torch.bfloat16)
    C = torch.empty(s, s, device="cuda", dtype=torch.bfloat16)
    torch.matmul(A, B, out=C)  # cuBLAS heuristics and workspace, not timed
    torch.cuda.synchronize()
    samp = Sampler("pm_samples.csv", 20)
    idle = 5.0
    time.sleep(idle)  # the board settles at idle; these samples are the baseline
    n = max(64, int(secs / 1.4e-3))
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(n + 1)]
    torch.cuda.synchronize()
    t0 = time.time()
    ev[0].record()
    for i in range(n):
        torch.matmul(A, B, out=C)
        ev[i + 1].record()
        if i % 64 == 63:
            ev[i + 1].synchronize()  # keep the host within ~64 calls of the GPU
    torch.cuda.synchronize()
    t1 = time.time()
    time.sleep(0.5)
    samp.stop()
    per = [ev[i].elapsed_time(ev[i + 1]) * 1000.0 for i in range(n)]
    start = [ev[0].elapsed_time(ev[i]) for i in range(n)]  # ms since the first call began
    with open(os.path.join(K.OUT, "pm_gemm_calls.csv"), "w") as f:
        f.write("call,start_ms,us\n")
        for i in range(n):
            f.write("%d,%.4f,%.3f\n" % (i, start[i], per[i]))
    flop = 2.0 * s ** 3
    first = statistics.median(per[:10])
    total_ms = start[-1] + per[-1] / 1000.0
    tail = [per[i] for i in range(n) if start[i] >= total_ms - 5000.0]
    steady = statistics.median(tail)
    # time to throttle: first call from which 20 consecutive calls all run >= 5% slower than the first ten
    knee = None
    for i in range(n - 20):
        if all(p >= 1.05 * first for p in per[i:i + 20]):
            knee = start[i]
            break
    samples = samp.samples()
    fields = samp.fields
    pw = "power.draw.instant" if "power.draw.instant" in fields else "power.draw"
    base_p, nb = mean_of(samples, pw, t0 - idle + 1.0, t0 - 0.1)
    base_clk, _ = mean_of(samples, "clocks.sm", t0 - idle + 1.0, t0 - 0.1)
    st_p, ns = mean_of(samples, pw, t1 - 5.0, t1)
    st_clk, _ = mean_of(samples, "clocks.sm", t1 - 5.0, t1)
    early_clk, ne = mean_of(samples, "clocks.sm", t0, t0 + 0.1)
    log("  pmtrace: %d calls in %.2f s; first 10 median %.1f us (%.1f TFLOP/s), last 5 s median %.1f us (%.1f TFLOP/s), "
        "knee %s ms; idle %.1f W %0.f MHz (%d samples), steady %.1f W %.0f MHz (%d), first 100 ms clock %.0f (%d)"
        % (n, t1 - t0, first, flop / first / 1e6, steady, flop / steady / 1e6, knee, base_p, base_clk, nb, st_p, st_clk,
           ns, early_clk, ne))
    sh = "b1 M8192 N8192 K8192"
    wl = "GEMM torch.matmul loop started on an idle GPU"
    m_first = ("CUDA events around every call of %d back-to-back calls (host kept within 64 calls), started after %.0f s "
               "idle with one untimed call before the idle period; median of the first 10 calls" % (n, idle))
    row("micro", wl + " (first 10 calls)", "bf16", sh, "latency", first, "us", m_first)
    row("micro", wl + " (first 10 calls)", "bf16", sh, "throughput", flop / first / 1e6, "TFLOP/s", m_first)
    m_st = ("CUDA events around every call of %d back-to-back calls (%.1f s) started after %.0f s idle; median of the "
            "calls that began in the last 5 s" % (n, total_ms / 1000.0, idle))
    row("micro", wl + " (last 5 s)", "bf16", sh, "latency", steady, "us", m_st)
    row("micro", wl + " (last 5 s)", "bf16", sh, "throughput", flop / steady / 1e6, "TFLOP/s", m_st)
    if knee is not None:
        row("micro", wl + " (time until calls run 5% slower than the first 10)", "bf16", sh, "time_to_throttle", knee,
            "ms", "first call from which 20 consecutive calls all took >= 1.05x the median of the first 10; " + m_st)
    m_s = ("nvidia-smi --query-gpu=%s -lms 20 in a background process; mean of %d samples in the last 5 s of the loop"
           % (pw + ",clocks.sm", ns))
    row("micro", wl + " (last 5 s)", "bf16", sh, "power", st_p, "W", m_s)
    row("micro", wl + " (last 5 s)", "bf16", sh, "sm_clock", st_clk, "MHz", m_s)
    if ne:
        row("micro", wl + " (first 100 ms)", "bf16", sh, "sm_clock", early_clk, "MHz",
            "nvidia-smi clocks.sm -lms 20 in a background process; mean of %d samples in the first 100 ms of the loop" % ne)
    row("micro", "idle GPU (before the GEMM loop)", "-", "-", "power", base_p, "W",
        "nvidia-smi %s -lms 20; mean of %d samples over %.0f s of idle, after one GEMM" % (pw, nb, idle - 1.1))
    del A, B, C


# ---------------------------------------------------------------- small kernels
def part_small(quick):
    for e in ([10, 20, 26] if quick else [10, 12, 14, 16, 18, 20, 22, 24, 26]):
        n = 1 << e
        per = n * 4
        ns = K.n_sets_for(per)
        xs = [torch.randn(n, device="cuda", dtype=torch.float32) for _ in range(ns)]
        res = time_kernel(lambda i: xs[i].add_(1.0), ns)
        report("kernel", "elementwise in-place add x.add_(1)", "fp32", "n=%d" % n, res, nbytes=2 * per)
        del xs
        torch.cuda.empty_cache()
    for s in ([128] if quick else [64, 128, 256, 384]):
        guarded("gemm small %d" % s, K.gemm, s, s, s, torch.bfloat16, "GEMM torch.matmul", "bf16")


# ---------------------------------------------------------------- decode steps
LLAMA8B = dict(name="Llama-3.1-8B", L=32, hidden=4096, heads=32, kv=8, hd=128, ffn=14336, vocab=128256)
LLAMA70B = dict(name="Llama-3.1-70B", L=80, hidden=8192, heads=64, kv=8, hd=128, ffn=28672, vocab=128256)


class Model:
    """A Llama-shaped decoder with random weights. `fp8`: every projection's weight is e4m3 [N,K] and its input
    is cast to e4m3 before a per-tensor-scaled _scaled_mm (bf16 out); embeddings, norms and LM head stay bf16."""

    def __init__(self, cfg, fp8):
        self.c, self.fp8 = cfg, fp8
        h, H, KV, D, ffn = cfg["hidden"], cfg["heads"], cfg["kv"], cfg["hd"], cfg["ffn"]
        self.layers = []
        for _ in range(cfg["L"]):
            self.layers.append(dict(
                n1=torch.ones(h, device="cuda", dtype=torch.bfloat16),
                n2=torch.ones(h, device="cuda", dtype=torch.bfloat16),
                qkv=self.weight((H + 2 * KV) * D, h), o=self.weight(h, H * D),
                gu=self.weight(2 * ffn, h), down=self.weight(h, ffn)))
        self.emb = torch.randn(cfg["vocab"], h, device="cuda", dtype=torch.bfloat16)
        self.nf = torch.ones(h, device="cuda", dtype=torch.bfloat16)
        self.head = self.weight(cfg["vocab"], h, force_bf16=True)
        self.one = torch.tensor(1.0, device="cuda")

    def weight(self, n, k, force_bf16=False):
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * (k ** -0.5)
        return w if (force_bf16 or not self.fp8) else w.to(torch.float8_e4m3fn)

    def linear(self, x, w):
        if w.dtype == torch.float8_e4m3fn:
            return torch._scaled_mm(x.to(torch.float8_e4m3fn), w.t(), scale_a=self.one, scale_b=self.one,
                                    out_dtype=torch.bfloat16)
        return F.linear(x, w)

    def weight_bytes(self):
        t = sum(w.numel() * w.element_size() for ly in self.layers for w in ly.values())
        return t + self.head.numel() * 2 + self.nf.numel() * 2  # the embedding gathers B rows only

    def step(self, tok, kc, vc, pos, cos, sin):
        """One decode step for a batch: tok [B] ids, kc/vc per layer [B, KV, Smax, D], the new token at `pos`."""
        from torch.nn.attention import sdpa_kernel, SDPBackend
        c = self.c
        H, KV, D = c["heads"], c["kv"], c["hd"]
        x = self.emb[tok]  # [B, h]
        Bn = x.shape[0]
        for li, ly in enumerate(self.layers):
            hN = F.rms_norm(x, (c["hidden"],), ly["n1"], 1e-5)
            qkv = self.linear(hN, ly["qkv"])
            q = qkv[:, :H * D].view(Bn, H, 1, D)
            k = qkv[:, H * D:(H + KV) * D].view(Bn, KV, 1, D)
            v = qkv[:, (H + KV) * D:].view(Bn, KV, 1, D)
            q = q * cos + rot_half(q) * sin
            k = k * cos + rot_half(k) * sin
            kc[li][:, :, pos:pos + 1].copy_(k)
            vc[li][:, :, pos:pos + 1].copy_(v)
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                a = F.scaled_dot_product_attention(q, kc[li][:, :, :pos + 1], vc[li][:, :, :pos + 1], enable_gqa=True)
            x = x + self.linear(a.reshape(Bn, H * D), ly["o"])
            hN = F.rms_norm(x, (c["hidden"],), ly["n2"], 1e-5)
            gu = self.linear(hN, ly["gu"])
            f = c["ffn"]
            x = x + self.linear(F.silu(gu[:, :f]) * gu[:, f:], ly["down"])
        x = F.rms_norm(x, (c["hidden"],), self.nf, 1e-5)
        logits = F.linear(x, self.head)
        return torch.argmax(logits, dim=-1)


def rot_half(t):
    d = t.shape[-1] // 2
    return torch.cat((-t[..., d:], t[..., :d]), dim=-1)


def count_kernels(fn):
    """CUDA kernels one eager call of fn launches (torch.profiler); None when the profiler fails."""
    try:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    except Exception as e:  # noqa
        log("  kernel count failed: %r" % (e,))
        return None


def capture(fn):
    """Two warm-up calls on a side stream (as CUDA-graph capture requires), then fn captured as one graph.
    Returns (graph, the output tensor the graph writes)."""
    st = torch.cuda.Stream()
    st.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(st):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(st)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = fn()
    return g, out


def decode_case(m, B, S, label, dname, kcounts):
    c = m.c
    L, KV, D = c["L"], c["kv"], c["hd"]
    kc = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    vc = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    tok = torch.randint(0, c["vocab"], (B,), device="cuda")
    pos = S - 1  # the step attends over S positions: S-1 cached tokens and the new one
    ang = torch.rand(1, 1, 1, D, device="cuda") * 3.0
    cos, sin = torch.cos(ang).to(torch.bfloat16), torch.sin(ang).to(torch.bfloat16)
    fn_eager = lambda: m.step(tok, kc, vc, pos, cos, sin)
    ref = fn_eager()
    torch.cuda.synchronize()
    if (B, S) not in kcounts:
        kcounts[(B, S)] = count_kernels(fn_eager)
    g, out = capture(fn_eager)
    g.replay()
    torch.cuda.synchronize()
    same = bool(torch.equal(out, ref))
    log("  decode %s B%d S%d: graph output equals eager: %s; kernels per step (eager profile): %s"
        % (c["name"], B, S, same, kcounts[(B, S)]))
    res = time_kernel(lambda i: g.replay(), 1, rot="one CUDA graph of the whole step (%s kernels), %s" % (
        kcounts[(B, S)], "weights %.1f GB" % (m.weight_bytes() / 1e9)))
    kv_bytes = 2 * L * B * S * KV * D * 2
    shape = "B%d S%d" % (B, S)
    us = res["us"]
    log("  -> %.1f us per step, %.0f tok/s, weights+KV %.1f GB -> %.0f GB/s" % (
        us, B / (us * 1e-6), (m.weight_bytes() + kv_bytes) / 1e9, (m.weight_bytes() + kv_bytes) / us / 1e3))
    method = res["method"] + "; random weights, random KV cache of S-1 tokens plus the new one, RoPE, RMSNorm, " \
        "SDPA flash backend with enable_gqa, SiLU*up, LM head and argmax, eager PyTorch ops (no fusion)"
    row("model", label, dname, shape, "latency", us, "us", method)
    row("model", label, dname, shape, "throughput", B / (us * 1e-6), "tok/s", method)
    del g, kc, vc
    torch.cuda.empty_cache()


def part_decode(quick):
    for cfg, fp8, cases in [
            (LLAMA8B, False, [(1, 1024), (64, 4096)] if quick else
             [(1, 1024), (8, 1024), (32, 1024), (64, 1024), (128, 1024), (256, 1024), (1, 4096), (16, 4096),
              (64, 4096)]),
            (LLAMA70B, True, [(1, 1024)] if quick else [(1, 1024), (16, 1024), (64, 1024), (128, 1024)])]:
        try:
            m = Model(cfg, fp8)
        except Exception as e:
            log("  model %s fp8=%s not built: %r" % (cfg["name"], fp8, e))
            continue
        dname = "fp8e4m3 weights+activations, bf16 KV" if fp8 else "bf16"
        label = "decode step %s (%d layers) one CUDA graph" % (cfg["name"], cfg["L"])
        kcounts = {}
        for B, S in cases:
            guarded("decode %s B%d S%d" % (cfg["name"], B, S), decode_case, m, B, S, label, dname, kcounts)
        del m
        torch.cuda.empty_cache()


def dpower_case(cfg, fp8, B, S, secs):
    m = Model(cfg, fp8)
    L, KV, D = cfg["L"], cfg["kv"], cfg["hd"]
    kc = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    vc = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    tok = torch.randint(0, cfg["vocab"], (B,), device="cuda")
    ang = torch.rand(1, 1, 1, D, device="cuda") * 3.0
    cos, sin = torch.cos(ang).to(torch.bfloat16), torch.sin(ang).to(torch.bfloat16)
    fn = lambda: m.step(tok, kc, vc, S - 1, cos, sin)
    g, _ = capture(fn)
    dname = "fp8e4m3 weights+activations, bf16 KV" if fp8 else "bf16"
    tag = "%s_B%d_S%d" % (cfg["name"].replace(".", "").replace("-", ""), B, S)
    K.sustained("decode %s B%d S%d" % (cfg["name"], B, S), g.replay, secs, "power_decode_%s.csv" % tag,
                "B%d S%d" % (B, S), dname, "sustained decode steps %s (%d layers) CUDA-graph replays" % (cfg["name"], cfg["L"]))
    del g, kc, vc, m
    torch.cuda.empty_cache()


def part_dpower(quick):
    secs = 3.0 if quick else 6.0
    for cfg, fp8, B, S in [(LLAMA8B, False, 1, 1024), (LLAMA8B, False, 64, 1024), (LLAMA8B, False, 256, 1024),
                           (LLAMA70B, True, 1, 1024), (LLAMA70B, True, 64, 1024)][:2 if quick else 5]:
        guarded("dpower %s B%d" % (cfg["name"], B), dpower_case, cfg, fp8, B, S, secs)


# ---------------------------------------------------------------- prefill steps
def prefill(m, tok, kc, vc, cos, sin):
    """One prefill step of a single sequence tok [T]: causal attention over its own T tokens, KV written to the
    cache, logits for the last position only (as serving engines compute them)."""
    from torch.nn.attention import sdpa_kernel, SDPBackend
    c = m.c
    H, KV, D, T = c["heads"], c["kv"], c["hd"], tok.shape[0]
    x = m.emb[tok]
    for li, ly in enumerate(m.layers):
        hN = F.rms_norm(x, (c["hidden"],), ly["n1"], 1e-5)
        qkv = m.linear(hN, ly["qkv"])
        q = qkv[:, :H * D].view(T, H, D).transpose(0, 1).unsqueeze(0)
        k = qkv[:, H * D:(H + KV) * D].view(T, KV, D).transpose(0, 1).unsqueeze(0)
        v = qkv[:, (H + KV) * D:].view(T, KV, D).transpose(0, 1).unsqueeze(0)
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        kc[li].copy_(k)
        vc[li].copy_(v)
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            a = F.scaled_dot_product_attention(q, kc[li], vc[li], is_causal=True, enable_gqa=True)
        x = x + m.linear(a.squeeze(0).transpose(0, 1).reshape(T, H * D), ly["o"])
        hN = F.rms_norm(x, (c["hidden"],), ly["n2"], 1e-5)
        gu = m.linear(hN, ly["gu"])
        f = c["ffn"]
        x = x + m.linear(F.silu(gu[:, :f]) * gu[:, f:], ly["down"])
    x = F.rms_norm(x[-1:], (c["hidden"],), m.nf, 1e-5)
    return torch.argmax(F.linear(x, m.head), dim=-1)


def prefill_case(m, T, label, dname, graph=False):
    """graph=False: the step's ops launched eagerly (host dispatch included, which bounds small T);
    graph=True: the step captured as one CUDA graph and replayed back to back (GPU time only)."""
    c = m.c
    L, KV, D = c["L"], c["kv"], c["hd"]
    kc = [torch.empty(1, KV, T, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    vc = [torch.empty(1, KV, T, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    tok = torch.randint(0, c["vocab"], (T,), device="cuda")
    ang = torch.rand(1, 1, T, D, device="cuda") * 3.0
    cos, sin = torch.cos(ang).to(torch.bfloat16), torch.sin(ang).to(torch.bfloat16)
    fn_eager = lambda: prefill(m, tok, kc, vc, cos, sin)
    kn = count_kernels(fn_eager)
    fn = lambda i: fn_eager()
    how = "eager PyTorch ops (%s kernels)" % kn
    if graph:
        g, _ = capture(fn_eager)
        fn = lambda i: g.replay()
        how = "one CUDA graph of the whole step (%s kernels)" % kn
    old = K.WARMUP, K.REPS
    K.WARMUP, K.REPS = 3, 10
    try:
        res = time_kernel(fn, 1, rot="%s, weights %.1f GB" % (how, m.weight_bytes() / 1e9))
    finally:
        K.WARMUP, K.REPS = old
    us = res["us"]
    log("  prefill %s T%d graph=%s: %.1f us" % (c["name"], T, graph, us))
    method = res["method"] + "; one sequence, random weights, causal SDPA flash backend with enable_gqa, RoPE, " \
        "RMSNorm, SiLU*up, KV written to a cache, LM head on the last token only, eager PyTorch ops (no fusion)"
    lab = label + (" one CUDA graph" if graph else "")
    row("model", lab, dname, "B1 T%d" % T, "latency", us, "us", method)
    row("model", lab, dname, "B1 T%d" % T, "throughput", T / (us * 1e-6), "tok/s", method)
    del kc, vc
    torch.cuda.empty_cache()


def part_gprefill(quick):
    part_prefill(quick, graph=True)


def part_prefill(quick, graph=False):
    for cfg, fp8, Ts in [(LLAMA8B, False, [512] if quick else [128, 512, 2048, 8192]),
                         (LLAMA70B, True, [] if quick else [512, 2048])]:
        m = Model(cfg, fp8)
        dname = "fp8e4m3 weights+activations, bf16 KV" if fp8 else "bf16"
        label = "prefill step %s (%d layers)" % (cfg["name"], cfg["L"])
        for T in Ts:
            guarded("prefill %s T%d" % (cfg["name"], T), prefill_case, m, T, label, dname, graph)
        del m
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- bursts and sustained power at other intensities
def part_bursts(quick):
    """Bursts of 64 back-to-back bf16 8192^3 GEMMs (about 90 ms), each after 1 s idle: the first calls of a burst
    run at the clock the board reaches from idle, the last ones after the power limit has acted."""
    s = 8192
    A = torch.randn(s, s, device="cuda", dtype=torch.bfloat16)
    B = torch.randn(s, s, device="cuda", dtype=torch.bfloat16)
    C = torch.empty(s, s, device="cuda", dtype=torch.bfloat16)
    torch.matmul(A, B, out=C)
    firsts, lasts = [], []
    nb = 2 if quick else 5
    for _ in range(nb):
        torch.cuda.synchronize()
        time.sleep(1.0)
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(65)]
        ev[0].record()
        for i in range(64):
            torch.matmul(A, B, out=C)
            ev[i + 1].record()
        torch.cuda.synchronize()
        per = [ev[i].elapsed_time(ev[i + 1]) * 1000.0 for i in range(64)]
        firsts += per[:10]
        lasts += per[-10:]
        log("  burst: first %.1f us, last %.1f us" % (per[0], per[-1]))
    m = ("CUDA events around every call; %d bursts of 64 back-to-back calls, each after 1 s idle; median over the "
         "bursts of the %s 10 calls of each burst")
    flop = 2.0 * s ** 3
    wl = "GEMM torch.matmul burst of 64 calls after 1 s idle"
    for tag, v in (("first", firsts), ("last", lasts)):
        med = statistics.median(v)
        row("micro", wl + " (%s 10 calls)" % tag, "bf16", "b1 M8192 N8192 K8192", "latency", med, "us", m % (nb, tag))
        row("micro", wl + " (%s 10 calls)" % tag, "bf16", "b1 M8192 N8192 K8192", "throughput", flop / med / 1e6,
            "TFLOP/s", m % (nb, tag))
    del A, B, C
    torch.cuda.empty_cache()


def part_ipower(quick):
    """Board power and SM clock under sustained GEMMs of other arithmetic intensity and precision."""
    secs = 3.0 if quick else 6.0
    for (M, N, Kd) in [(512, 8192, 8192), (64, 8192, 8192)]:
        ns = K.n_sets_for((M * Kd + Kd * N + M * N) * 2)
        A = [torch.randn(M, Kd, device="cuda", dtype=torch.bfloat16) for _ in range(ns)]
        Bm = [torch.randn(Kd, N, device="cuda", dtype=torch.bfloat16) for _ in range(ns)]
        C = [torch.empty(M, N, device="cuda", dtype=torch.bfloat16) for _ in range(ns)]
        it = [0]

        def fn():
            i = it[0] % ns
            it[0] += 1
            torch.matmul(A[i], Bm[i], out=C[i])
        guarded("ipower %d" % M, K.sustained, "gemm M%d N%d K%d bf16" % (M, N, Kd), fn, secs,
                "power_gemm_M%d.csv" % M, "b1 M%d N%d K%d" % (M, N, Kd), "bf16",
                "sustained GEMM torch.matmul loop (inputs rotated over %d buffer sets)" % ns)
        del A, Bm, C
        torch.cuda.empty_cache()
    s = 8192
    A8 = (torch.randn(s, s, device="cuda") * 0.5).to(torch.float8_e4m3fn)
    B8 = (torch.randn(s, s, device="cuda") * 0.5).to(torch.float8_e4m3fn)
    one = torch.tensor(1.0, device="cuda")
    guarded("ipower fp8", K.sustained, "fp8 gemm 8192^3", lambda: torch._scaled_mm(
        A8, B8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16), secs, "power_gemm_fp8.csv",
        "b1 M8192 N8192 K8192", "fp8e4m3->bf16", "sustained GEMM torch._scaled_mm per-tensor scale loop")
    del A8, B8


# ---------------------------------------------------------------- compiled decode steps
def layer_fwd(m, x, ly, kc, vc, pos, cos, sin):
    """One decoder layer of Model.step (same ops), written as a function of its tensors so that torch.compile
    traces it once per shape and every layer reuses the compiled code."""
    c = m.c
    H, KV, D, f = c["heads"], c["kv"], c["hd"], c["ffn"]
    Bn = x.shape[0]
    hN = F.rms_norm(x, (c["hidden"],), ly["n1"], 1e-5)
    qkv = m.linear(hN, ly["qkv"])
    q = qkv[:, :H * D].view(Bn, H, 1, D)
    k = qkv[:, H * D:(H + KV) * D].view(Bn, KV, 1, D)
    v = qkv[:, (H + KV) * D:].view(Bn, KV, 1, D)
    q = q * cos + rot_half(q) * sin
    k = k * cos + rot_half(k) * sin
    kc[:, :, pos:pos + 1].copy_(k)
    vc[:, :, pos:pos + 1].copy_(v)
    a = F.scaled_dot_product_attention(q, kc[:, :, :pos + 1], vc[:, :, :pos + 1], enable_gqa=True)
    x = x + m.linear(a.reshape(Bn, H * D), ly["o"])
    hN = F.rms_norm(x, (c["hidden"],), ly["n2"], 1e-5)
    gu = m.linear(hN, ly["gu"])
    return x + m.linear(F.silu(gu[:, :f]) * gu[:, f:], ly["down"])


def part_cdecode2(quick):
    part_cdecode(quick, [(8, 1024), (32, 1024), (128, 1024), (64, 4096)], [(16, 1024), (128, 1024)])


def part_cdecode(quick, cases8=None, cases70=None):
    """Decode steps whose layers are compiled by torch.compile (Inductor fuses the norms, RoPE, SiLU*up and the
    residual adds into Triton kernels; GEMMs stay cuBLAS / _scaled_mm, attention the SDPA flash kernel), the
    whole step then captured as one CUDA graph: closer to a serving engine's fused step than `decode`."""
    import torch._dynamo
    torch._dynamo.config.cache_size_limit = 64
    # force SDPA's flash backend globally (the context manager is not needed inside the compiled region)
    torch.backends.cuda.enable_math_sdp(False)
    torch.backends.cuda.enable_mem_efficient_sdp(False)
    if hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
        torch.backends.cuda.enable_cudnn_sdp(False)
    lf = torch.compile(layer_fwd, dynamic=False)
    try:
        for cfg, fp8, cases in [(LLAMA8B, False, [(1, 1024)] if quick else cases8 or [(1, 1024), (64, 1024), (256, 1024)]),
                                (LLAMA70B, True, [] if quick else cases70 or [(1, 1024), (64, 1024)])]:
            m = Model(cfg, fp8)
            dname = "fp8e4m3 weights+activations, bf16 KV" if fp8 else "bf16"
            label = "decode step %s (%d layers) torch.compile layers, one CUDA graph" % (cfg["name"], cfg["L"])
            for B, S in cases:
                guarded("cdecode %s B%d" % (cfg["name"], B), cdecode_case, m, lf, B, S, label, dname)
            del m
            torch.cuda.empty_cache()
    finally:
        torch.backends.cuda.enable_math_sdp(True)
        torch.backends.cuda.enable_mem_efficient_sdp(True)
        if hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
            torch.backends.cuda.enable_cudnn_sdp(True)


def cdecode_case(m, lf, B, S, label, dname):
    c = m.c
    L, KV, D = c["L"], c["kv"], c["hd"]
    kc = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    vc = [torch.randn(B, KV, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(L)]
    tok = torch.randint(0, c["vocab"], (B,), device="cuda")
    ang = torch.rand(1, 1, 1, D, device="cuda") * 3.0
    cos, sin = torch.cos(ang).to(torch.bfloat16), torch.sin(ang).to(torch.bfloat16)

    def fn():
        x = m.emb[tok]
        for li, ly in enumerate(m.layers):
            x = lf(m, x, ly, kc[li], vc[li], S - 1, cos, sin)
        x = F.rms_norm(x, (c["hidden"],), m.nf, 1e-5)
        return torch.argmax(F.linear(x, m.head), dim=-1)
    t = time.time()
    fn()
    torch.cuda.synchronize()
    log("  cdecode %s B%d S%d: first call (compile) %.1f s" % (c["name"], B, S, time.time() - t))
    kn = count_kernels(fn)
    g, _ = capture(fn)
    res = time_kernel(lambda i: g.replay(), 1, rot="one CUDA graph of the whole step (%s kernels), weights %.1f GB" % (
        kn, m.weight_bytes() / 1e9))
    us = res["us"]
    log("  -> cdecode %.1f us per step (%s kernels)" % (us, kn))
    method = res["method"] + "; random weights, random KV cache of S-1 tokens plus the new one; each layer compiled " \
        "by torch.compile (Inductor, default mode, dynamic=False; norms, RoPE, SiLU*up, residual adds fused into " \
        "Triton kernels), GEMMs cuBLAS or _scaled_mm, SDPA flash backend with enable_gqa; embedding, final norm, LM " \
        "head and argmax eager; the step captured as one CUDA graph"
    row("model", label, dname, "B%d S%d" % (B, S), "latency", us, "us", method)
    row("model", label, dname, "B%d S%d" % (B, S), "throughput", B / (us * 1e-6), "tok/s", method)
    del g, kc, vc
    torch.cuda.empty_cache()


PARTS = dict(K.PARTS, pmtrace=part_pmtrace, small=part_small, decode=part_decode, dpower=part_dpower,
             prefill=part_prefill, gprefill=part_gprefill, cdecode=part_cdecode, cdecode2=part_cdecode2, bursts=part_bursts, ipower=part_ipower)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default="pmtrace,launch,small,gemm,fp8,attn,mem,decode,dpower,power")
    ap.add_argument("--id-start", type=int, default=1)
    ap.add_argument("--date", required=True)
    ap.add_argument("--csv", required=True, help="file name of the CSV under $OUT")
    ap.add_argument("--prefix", required=True, help="row id prefix")
    a = ap.parse_args()
    K.setup(a.csv, a.prefix, a.id_start, a.date)
    bad = [p for p in a.parts.split(",") if p not in PARTS]
    if bad:
        sys.exit("gpu_session.py: --parts: unknown part(s) %s; expected some of %s" % (",".join(bad), ",".join(PARTS)))
    K.run_parts(a.parts.split(","), PARTS, a.quick)


if __name__ == "__main__":
    main()
