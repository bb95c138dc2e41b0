"""Model-level validation on systems of chips (`xpusim validate --models`), behind the CTest label
`slow` (minutes of simulation; `.ci/run` runs it). Rows: workloads/validation/public_measurements.csv,
original sources in its `source` column (TensorRT-LLM perf-overview tables for Llama-3.3-70B at TP1..TP8
and Llama-3.1-405B at TP8 on H100, AWS Neuron's trn1 latency table for Llama-3-70B at TP32).

Bound (issue 13): each expressible row within 25%. Rows that miss it today are known gaps, listed by id
with their reason and held to their own bound so that they cannot grow unnoticed; the test fails when
one of them comes within 25% (then it leaves the list). Every row that is not expressed must say why."""
import json
import os
import subprocess

BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.join(BUILD, "xpusim")

NEURON_TTFT = ("Neuron's measured context encoding runs at 15-17% of the chips' 190 TFLOPS bf16 peak on both "
               "instances (287 TFLOP in 547 ms on 16 trn1, 282 TFLOP in 810 ms on 12 inf2). Attention now runs as "
               "transformers-neuronx builds it below its 4096-token flash threshold (layers/attention.py "
               "flash_attention(); --impl transformers-neuronx, lowering.tnx_flash_min_tokens): the full S x S scores "
               "materialized and, at 2048 tokens (16 MiB per core on trn1, 24 MiB on inf2, above half of SBUF), moved "
               "through HBM by each op of the softmax chain: 181 -> 688 us per layer on trn1 (HBM 97% busy), M21 -33.8% "
               "-> -26.4%, M25 -51.1% -> -43.5%. Its 161 all-reduces of 32 MiB are bound by the collective engine's "
               "56.7 GB/s per rank (nccom-test's 2-rank all-reduce, 1 GiB / 18930 us; library.engine_bandwidth; M21 "
               "-26.4% -> -28.8% and M25 -43.5% -> -45.1% when the figure was corrected from the guide's GiB/s 52.8): "
               "1.1 ms each, half of the "
               "trn1 prefill. M21 and M25 ran different samples (Llama-3-70B with attention_layout BSH, Llama-2-70b with "
               "the default HSB); on the same Llama-2-70b sample and release inf2 is 1.17x trn1 (810 vs 691 ms) against "
               "1.14x simulated, so no trn1/inf2 difference is missing. What is missing grows from 1024 to 2048 prompt "
               "tokens: x2.97 (trn1) and x2.93 (inf2) measured against x2.15 and x2.22 simulated, and what the simulation "
               "misses beyond twice the 1024-token time is nearly equal on both (198 and 211 ms), unlike their attention "
               "or GEMM work per core (1.5x, 1.33x); at 128-1024 tokens "
               "the simulation is -19..-35% on the same tables. The TPOT rows of the same requests (M22, M26) are within 13%. Not "
               "bucket padding (transformers-neuronx's default context buckets reach 2048 at 4096 positions)")
# id -> (bound, reason)
KNOWN_GAPS = {
    "M21": (0.30, "TTFT of a 2k prompt at TP32 on trn1: " + NEURON_TTFT),
    "M25": (0.48, "TTFT of a 2k prompt at TP24 on inf2: " + NEURON_TTFT),
}


# Issue 13's bound on the mean absolute error of the expressible rows is 15%; the TensorRT-LLM rows reach
# 11.5% (all over-predicted: TP1 +6..12%, TP2 +15..16%, TP4 +4..13%, TP8 +13..21%, 405B TP8 +3%) with the
# PyTorch backend's kernels (FusionPolicy::trtllm_pytorch: fp8 inputs quantized by kernels of their own, RoPE in
# the attention op, silu_and_mul on its own; 19.1% with the vllm structure), the LM head's logits all-gather and
# the CUDA-graph padding of generation-only iterations to the captured sizes (HostLaunch::padded: 13.6% without;
# TRT-111 +28.1% -> +21.2%, ~1050 running padded to the 1280 graph). NVLS's streamed reduction and its copies
# into and out of the NVLS buffer took TRT-111 from +25.8% (a listed gap) to +23.6% and the MAE to 11.3%.
TRT_MAE_BOUND = (0.15, "issue 13")


def validate(filter_):
    out = subprocess.run([EXE, "validate", "--models", "--filter", filter_, "--format", "json"], capture_output=True,
                         text=True, env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"), timeout=3000)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_multi_chip_model_rows():
    points, skipped = [], []
    for f in ("TRT-09", "TRT-1", "M2"):
        j = validate(f)
        points += j["points"]
        skipped += [s for s in j["not_predicted"] if s["id"].startswith(f)]
    ids = {p["id"] for p in points}
    assert {"TRT-093", "TRT-094", "TRT-095", "TRT-111", "TRT-139", "M22", "M25", "M26"} <= ids, ids  # multi-chip rows are expressed
    for s in skipped:
        assert s["reason"], s
    for p in points:
        err = abs(p["error"])
        if p["id"] in KNOWN_GAPS:
            bound, why = KNOWN_GAPS[p["id"]]
            assert 0.25 < err <= bound, "%s: %.1f%% (known gap: %s)" % (p["id"], 100 * p["error"], why)
        else:
            assert err <= 0.25, "%s: predicted %.4g vs measured %.4g" % (p["id"], p["predicted"], p["measured"])
    trt = [abs(p["error"]) for p in points if p["id"].startswith("TRT-")]
    assert len(trt) == 9, trt
    mae = sum(trt) / len(trt)
    assert mae <= TRT_MAE_BOUND[0], "TensorRT-LLM rows' MAE %.1f%% (bound: %s)" % (100 * mae, TRT_MAE_BOUND[1])


# Whole steps on one H200 (workloads/validation/h200_measured.csv, scripts/measure/gpu_session.py): one
# decode or prefill step of Llama-3.1-8B (bf16) and Llama-3.1-70B (fp8) replayed as one CUDA graph, written
# with eager PyTorch ops (fusion pytorch-eager: every elementwise piece is its own kernel with its fixed
# costs; attention on the SDPA flash backend, FlashAttention-2) or with each layer compiled by
# torch.compile. Bound per group; known gaps by id with their reason and their own bound.
STEP_BOUND = 0.25
# G429/G499 (decode B128 of Llama-3.1-70B fp8 over a bf16 KV cache, tokens/s) were known gaps at +28/+29%
# while the step's attention ran its MMA at the activations' fp8; it runs at the wider of the activations
# and the cache (bf16 here, as SDPA flash does), and they are +14.4/+13.6%.
STEP_GAPS = {}


def test_step_rows_on_h200():
    j = validate("step Llama")
    points = [p for p in j["points"] if p["id"].startswith("G")]
    skipped = [s for s in j["not_predicted"] if s["id"].startswith("G")]
    workloads = {p["workload"] for p in points}
    assert any("torch.compile" in w for w in workloads), workloads
    assert any(w.startswith("decode step") and "torch.compile" not in w for w in workloads), workloads
    assert any(w.startswith("prefill step") for w in workloads), workloads
    for s in skipped:  # only the eagerly launched prefills, whose host dispatch bounds them
        assert "launched eagerly" in s["reason"], s
    assert len(points) >= 50, len(points)
    for p in points:
        assert p["chip"] == "h200", p
        err = abs(p["error"])
        if p["id"] in STEP_GAPS:
            bound, why = STEP_GAPS[p["id"]]
            assert STEP_BOUND < err <= bound, "%s: %.1f%% (known gap: %s)" % (p["id"], 100 * p["error"], why)
        else:
            assert err <= STEP_BOUND, "%s %s %s: predicted %.4g vs measured %.4g" % (
                p["id"], p["workload"], p["shape"], p["predicted"], p["measured"])
