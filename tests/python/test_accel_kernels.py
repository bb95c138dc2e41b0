"""Decode attention reaches its memory roofline on every family; Maia attention re-tiles to fit a
smaller TSRAM; what-ifs that add a resource never slow a kernel down (issue 14)."""
import pytest

import xpusim

DECODE = dict(phase="decode", batch=64, heads=32, kv_heads=8, seq=4096, head_dim=128)


def _ratio(j):
    return j["latency_s"] / sum(k["roofline_s"] for k in j["kernels"])


@pytest.mark.parametrize("chip", ["h100-sxm", "b200", "tpu-v5e", "tpu-v6e", "tpu-v7", "trn1", "trn2", "trn3",
                                  "maia100", "maia200"])
def test_decode_attention_within_1_5x_of_its_memory_roofline(chip):
    j = xpusim.kernel("attention", chip=chip, **DECODE)
    assert 1.0 <= _ratio(j) <= 1.5, (chip, _ratio(j), [k["strategy"] for k in j["kernels"]])


@pytest.mark.parametrize("shape", [
    DECODE,                                                                                   # Llama-3.1-8B decode
    dict(phase="prefill", batch=1, heads=64, kv_heads=8, seq=2048, head_dim=128),            # Llama-3.1-70B, 2k prompt
    dict(phase="decode", batch=32, heads=128, kv_heads=1, seq=2048, head_dim=576, head_dim_v=512),  # MLA (absorbed)
])
def test_maia_attention_runs_with_half_the_tsram_and_more_tsram_is_never_slower(shape):
    t = {}
    for tsram in ["1 MB", "2 MB", "4 MB"]:
        t[tsram] = xpusim.kernel("attention", chip="maia200", set={"tile.tsram": tsram}, **shape)["latency_s"]
    assert t["2 MB"] <= t["1 MB"] * 1.001 and t["4 MB"] <= t["2 MB"] * 1.001, t


def test_maia100_decodes_llama_8b():
    j = xpusim.kernel("attention", chip="maia100", **DECODE)
    assert j["latency_s"] > 0


def test_maia200_bf16_gemm_reports_the_rate_it_runs_at(cli):
    """Maia 200's TTU has no BF16 path: a BF16 matmul is converted to FP8 (lowering.bf16_matmul=fp8) and its
    share of peak is of the FP8 rate it runs at (it read "0.0% of 0 TFLOP/s bf16 peak"), its roofline the FP8 one."""
    j = xpusim.kernel("gemm", chip="maia200", m=2048, n=2048, k=2048, dtype="bf16")
    f = xpusim.kernel("gemm", chip="maia200", m=2048, n=2048, k=2048, dtype="fp8")
    assert j["peak_dtype"] == "fp8" and j["peak_tflops"] == pytest.approx(f["peak_tflops"]) == pytest.approx(5000, rel=1e-3)
    assert 0 < j["share_of_peak"] < f["share_of_peak"] <= 1  # the conversion on the TVP costs time
    assert sum(k["roofline_s"] for k in j["kernels"]) >= 2 * 2048 ** 3 / 5e15
    assert f["peak_dtype"] == "fp8"
    # Maia 100 has a BF16 TTU path: its peak is BF16's own.
    assert xpusim.kernel("gemm", chip="maia100", m=512, n=512, k=512, dtype="bf16")["peak_dtype"] == "bf16"
    out = cli("kernel", "gemm", "--chip", "maia200", "--m", "512", "--n", "512", "--k", "512", "--dtype", "bf16").stdout
    assert "TFLOP/s fp8 peak: bf16 converted to fp8)" in out, out


def test_maia200_held_clock_slows_its_clocked_transfers_too():
    """Maia's tile DMA, CSRAM and NoC ports move bytes per clock of its one clock, so a GEMM held at a low TDP
    slows as a re-simulation at that clock does (it reported a 70% clock and "0.0% slower": only the TTU/TVP
    share was rescaled, the DMA-bound rest kept its nominal-clock time)."""
    held = xpusim.kernel("gemm", chip="maia200", m=2048, n=2048, k=2048, dtype="bf16", sustained=True,
                         set={"power.tdp": "300 W"})
    assert 0.5 < held["clock_ratio"] < 0.9, held["clock_ratio"]
    at = xpusim.kernel("gemm", chip="maia200", m=2048, n=2048, k=2048, dtype="bf16",
                       set={"clock": "%.0f Hz" % (held["clock_mhz"] * 1e6)})
    nominal = xpusim.kernel("gemm", chip="maia200", m=2048, n=2048, k=2048, dtype="bf16")
    assert held["latency_s"] == pytest.approx(at["latency_s"], rel=0.05)
    assert held["latency_s"] > 1.15 * nominal["latency_s"]


def test_maia_split_k_gemm_runs():
    j = xpusim.kernel("gemm", chip="maia200", m=128, n=128, k=16384)
    assert [k["name"] for k in j["kernels"]][-1].endswith("splitk_reduce") or len(j["kernels"]) == 1
    assert j["latency_s"] >= sum(k["roofline_s"] for k in j["kernels"])


@pytest.mark.parametrize("chip,op,shape,bw", [
    ("tpu-v6e", "gemm", dict(m=4096, n=4096, k=4096), 1.64),
    ("tpu-v6e", "attention", DECODE, 1.64),
    ("trn2", "gemm", dict(m=64, n=8192, k=8192), 2.9),
    ("trn2", "attention", DECODE, 2.9),
    ("maia200", "gemm", dict(m=64, n=8192, k=8192), 7.0),
    ("h100-sxm", "gemm", dict(m=64, n=8192, k=8192), 3.35),
])
def test_more_hbm_bandwidth_is_never_slower(chip, op, shape, bw):
    t = [xpusim.kernel(op, chip=chip, set={"hbm.bandwidth": f"{b:.3f} TB/s"}, **shape)["latency_s"] for b in (bw, bw * 1.25)]
    assert t[1] <= t[0] * 1.001, t
