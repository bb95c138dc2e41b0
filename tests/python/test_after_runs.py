"""A kernel timed after a benchmark's warm-up runs at the clock the power manager holds then (issue 14)."""
import json
import os
import subprocess

import pytest

import xpusim

GEMM = dict(m=8192, n=8192, k=8192, dtype="bf16")


def test_warm_up_moves_a_large_gemm_off_boost():
    burst = xpusim.kernel("gemm", chip="h200", after_runs=0, **GEMM)
    warm = xpusim.kernel("gemm", chip="h200", after_runs=35, **GEMM)  # ~49 ms of calls: past the fast loop's cut
    long = xpusim.kernel("gemm", chip="h200", after_runs=3000, **GEMM)  # ~4 s: held at TDP
    assert burst["latency_s"] < warm["latency_s"] < long["latency_s"]
    assert warm["power"]["after_runs"] == 35
    # measured on our H200 (workloads/validation/h200_measured.csv G001/G070/G002): 1396, 1636, 1673 us
    assert burst["latency_s"] == pytest.approx(1396e-6, rel=0.05)
    assert warm["latency_s"] == pytest.approx(1636e-6, rel=0.05)
    assert long["latency_s"] == pytest.approx(1673e-6, rel=0.05)


def test_cli_equals_python():
    build = os.environ.get("XPUSIM_BUILD", "build")
    out = subprocess.run([os.path.join(build, "xpusim"), "kernel", "gemm", "--chip", "h200", "--m", "8192", "--n", "8192",
                          "--k", "8192", "--dtype", "bf16", "--after-runs", "35", "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out)["latency_s"] == xpusim.kernel("gemm", chip="h200", after_runs=35, **GEMM)["latency_s"]


def test_bad_warm_up_is_refused():
    with pytest.raises(ValueError, match="^after_runs=-5: "):
        xpusim.kernel("gemm", chip="h200", after_runs=-5, **GEMM)
    with pytest.raises(ValueError, match="sustained"):
        xpusim.kernel("gemm", chip="h200", after_runs=5, sustained=True, **GEMM)


# A whole step timed as our H200 step rows time it (xpusim validate --models, `step Llama`): after its warm-up
# from an idle chip. A compute-bound prefill leaves boost as the runs pile up and settles at the clock the
# steady state holds; a small decode step never reaches the power limit and stays at boost.
PREFILL = dict(model="llama-3.1-8b", chip="h200", phase="prefill", batch=1, input=512)


def test_run_after_runs_settles_a_prefill_and_leaves_a_small_decode_at_boost():
    burst = xpusim.run(after_runs=0, **PREFILL)
    warm = xpusim.run(after_runs=18, **PREFILL)
    long = xpusim.run(after_runs=20000, **PREFILL)
    steady = xpusim.run(**PREFILL)  # sustained=True: the TDP average already reached
    assert burst["ttft_s"] < warm["ttft_s"] <= long["ttft_s"] * (1 + 1e-9)
    assert warm["power"]["after_runs"] == 18
    assert long["ttft_s"] == pytest.approx(steady["ttft_s"], rel=0.01)
    decode = dict(model="llama-3.1-8b", chip="h200", phase="decode", batch=1, input=1024)
    assert xpusim.run(after_runs=35, **decode)["tpot_s"] == pytest.approx(xpusim.run(after_runs=0, **decode)["tpot_s"], rel=1e-9)


def test_no_warm_up_is_the_first_run_from_idle():
    # --after-runs 0 timed the whole step at the boost clock it starts at: a 164 ms prefill ran at boost past the
    # 60 ms window's limit, 163.6 ms where --from-idle (the same run: the first from an idle chip) gives 183.7 ms
    # (H100 Llama-3.1-8B prefill 4 x 2048; QA session 40).
    long_prefill = dict(model="llama-3.1-8b", chip="h100-sxm", phase="prefill", batch=4, input=2048)
    first = xpusim.run(after_runs=0, **long_prefill)
    idle = xpusim.run(sustained=False, **long_prefill)  # --from-idle
    assert first["ttft_s"] == pytest.approx(idle["ttft_s"], rel=1e-9)
    assert first["power"]["after_runs"] == 0
    assert idle["power"]["boost_ends_s"] < idle["ttft_s"]  # the boost ends inside the step, or the test shows nothing
    assert first["ttft_s"] < xpusim.run(after_runs=1, **long_prefill)["ttft_s"]
    gemm = xpusim.kernel("gemm", chip="h100-sxm", m=16384, n=16384, k=16384, dtype="bf16", after_runs=0)
    assert gemm["latency_s"] == pytest.approx(xpusim.kernel("gemm", chip="h100-sxm", m=16384, n=16384, k=16384,
                                                            dtype="bf16")["latency_s"], rel=1e-9)


def test_run_after_runs_cli_equals_python():
    build = os.environ.get("XPUSIM_BUILD", "build")
    out = subprocess.run([os.path.join(build, "xpusim"), "run", "--chip", "h200", "--model", "llama-3.1-8b", "--phase",
                          "prefill", "--batch", "1", "--input", "512", "--after-runs", "18", "--format", "json"],
                         check=True, capture_output=True, text=True, env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")).stdout
    assert json.loads(out)["ttft_s"] == xpusim.run(after_runs=18, **PREFILL)["ttft_s"]
    with pytest.raises(ValueError, match="^after_runs=-5: "):
        xpusim.run(after_runs=-5, **PREFILL)
