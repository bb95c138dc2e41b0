"""MoE routing drawn per step: a decode step reads the weights of the experts its tokens reach, not of every expert."""
import xpusim


def _step(batch, routing):
    r = xpusim.run(model="mixtral-8x7b", chip="h100-sxm", phase="decode", batch=batch, input=1024, dtype="fp8", routing=routing)
    experts = sum(k["bytes"] for k in r["steps"][0]["kernels"] if k["label"].startswith("layer.experts.") and k["op"] == "grouped_gemm")
    return r, experts


def test_small_decode_batch_reads_the_experts_it_reaches():
    """QA session 43: uniform routing spread 4 sequences' 8 rows one per expert over Mixtral's 8 experts (top-2), so a
    batch-4 decode step streamed all 8 experts' weights, as much as batch 16. Four tokens picking 2 distinct experts
    each reach 8 (1 - 0.75^4) = 5.47 on average: 5 experts' weights, 5/8 of batch 16's (which reaches 7.92 -> 8)."""
    r4, e4 = _step(4, "uniform")
    r16, e16 = _step(16, "uniform")
    assert abs(e4 / e16 - 5 / 8) < 0.02  # the DRAM traffic the kernels make (tiles, activations) beside the weights
    # The step is shorter by about the experts' share: they are most of a step's bytes.
    assert 0.62 < r4["tpot_s"] / r16["tpot_s"] < 0.75
    # `even` keeps the closed form (every expert a share), and all experts stay resident either way.
    even4, ee4 = _step(4, "even")
    assert abs(ee4 / e16 - 1) < 0.03 and even4["tpot_s"] > r4["tpot_s"]
    assert r4["memory"]["weights_bytes"] == even4["memory"]["weights_bytes"] == r16["memory"]["weights_bytes"]
