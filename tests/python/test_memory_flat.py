"""A long Python session stays flat: 100 simulations in one process do not grow its memory (each
simulation's SystemC kernel context, threads and modules are released)."""
import json
import os
import subprocess

import h5py
import pytest
import xpusim

from conftest import BUILD


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_one_hundred_kernels_keep_rss_flat():
    if "libasan" in os.environ.get("LD_PRELOAD", ""):  # scripts/test-sanitized
        pytest.skip("under AddressSanitizer RSS includes its quarantine of freed memory; the normal build checks this")
    for _ in range(5):  # warm-up: allocator pools, the preset cache, the first SystemC context
        xpusim.kernel("gemm", m=512, n=512, k=512)
    before = rss_mib()
    for _ in range(100):
        xpusim.kernel("gemm", m=512, n=512, k=512)
    assert rss_mib() - before < 8, "RSS grew by %.1f MiB over 100 kernels" % (rss_mib() - before)


def test_a_system_serve_holds_the_collectives_it_runs_not_the_whole_step(peak_rss):
    # Llama-3.1-8B at tp16 on maia200-quads, eight 2048-token prompts: the prefill step has 32 layers
    # x 2 all-reduces of 16 MiB over a 16-chip ring in slices. With every call's operations merged into
    # one list (and the executor's state per operation) the run peaked at 324 MiB; with each call
    # expanded from its shared lowering only while it runs, at 28 MiB (the 8B weights are never held).
    rss = peak_rss("serve", "--system", "maia200-quads", "--tp", "16", "--model", "llama-3.1-8b",
                   "--requests", "8", "--concurrency", "8", "--input", "2048", "--output", "4")
    assert rss < 96, "a tp16 serve on maia200-quads peaked at %.0f MiB" % rss


def _kernel_json(args, piece, tmp_path=None):
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", XPUSIM_TASK_PIECE=str(piece))
    p = subprocess.run([os.path.join(BUILD, "xpusim"), *args, "--format", "json"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return _without_host_times(json.loads(p.stdout))


def _without_host_times(x):
    # wall_s and transactions_per_s measure this machine, not the simulation.
    if isinstance(x, dict):
        return {k: _without_host_times(v) for k, v in x.items() if k not in ("wall_s", "transactions_per_s")}
    if isinstance(x, list):
        return [_without_host_times(v) for v in x]
    return x


# Per-core streams (TPU TensorCores, NeuronCores, Maia tiles) of several lowerings, long enough to span
# many pieces of 97 instructions, and short ones that fit one piece.
STREAMED = [
    ["kernel", "gemm", "--chip", "tpu-v6e", "--m", "2048", "--n", "4096", "--k", "2048"],
    ["kernel", "gemm", "--chip", "tpu-v5p", "--m", "4096", "--n", "1024", "--k", "4096", "--batch", "2"],
    ["kernel", "gemm", "--chip", "tpu-v6e", "--m", "8", "--n", "8192", "--k", "4096", "--wdtype", "int8"],
    ["kernel", "gemm", "--chip", "trn2", "--m", "2048", "--n", "2048", "--k", "4096"],
    ["kernel", "gemm", "--chip", "trn2", "--m", "32", "--n", "8192", "--k", "4096"],
    ["kernel", "gemm", "--chip", "maia200", "--m", "4096", "--n", "4096", "--k", "4096"],
    ["kernel", "attention", "--chip", "tpu-v6e", "--phase", "prefill", "--batch", "1", "--heads", "16",
     "--kv-heads", "4", "--seq", "2048", "--head-dim", "128", "--causal"],
    ["kernel", "attention", "--chip", "trn2", "--phase", "prefill", "--batch", "1", "--heads", "16",
     "--kv-heads", "4", "--seq", "2048", "--head-dim", "128", "--causal"],
    ["kernel", "attention", "--chip", "maia200", "--phase", "decode", "--batch", "8", "--heads", "32",
     "--kv-heads", "8", "--seq", "4096", "--head-dim", "128"],
    ["kernel", "rmsnorm", "--chip", "trn2", "--rows", "8192", "--cols", "4096"],
    ["kernel", "attention", "--chip", "maia200", "--phase", "prefill", "--batch", "1", "--heads", "32",
     "--kv-heads", "8", "--seq", "4096", "--head-dim", "128", "--causal"],
]


@pytest.mark.parametrize("args", STREAMED, ids=lambda a: "-".join(a[1:4:2] + a[4:5]))
def test_a_task_run_piece_by_piece_equals_the_task_held_whole(args):
    # XPUSIM_TASK_PIECE: 97 cuts every per-core stream into pieces of 97 instructions (the executor
    # then fills engine queues and drops finished instructions as it goes); 10^9 holds every task whole
    # as before streaming. Every figure of the report must be the same.
    whole = _kernel_json(args, 10**9)
    assert _kernel_json(args, 97) == whole
    assert _kernel_json(args, 16384) == whole


@pytest.mark.parametrize("chip", ["tpu-v6e", "trn2"])
def test_a_long_per_core_stream_keeps_memory_flat(chip, peak_rss):
    # 64x the work of 4096^3. Held whole, a NeuronCore's 16384^3 stream peaked at 69 MiB on trn2 (19 MiB at
    # 4096^3) and a TensorCore's at 40 MiB on tpu-v6e (18 MiB); produced piece by piece, a few MiB more.
    small = peak_rss("kernel", "gemm", "--chip", chip, "--m", "4096", "--n", "4096", "--k", "4096")
    large = peak_rss("kernel", "gemm", "--chip", chip, "--m", "16384", "--n", "16384", "--k", "16384")
    assert large - small < 8, "%s: 16384^3 GEMM peaked at %.0f MiB, 4096^3 at %.0f MiB" % (chip, large, small)


def test_a_long_maia_attention_prefill_keeps_memory_flat(peak_rss):
    # 16x the work of an 8192-token causal prefill. While each q tile's Q load waited on nothing, the
    # tiles' Q DMA channel took every Q load as soon as it was produced, so each tile's stream was
    # produced to its end at the start and held whole (8192 tokens: 45 MiB, 32768: 392 MiB). A Q load
    # now waits for the Q buffer (the previous q tile's last read of it), and a stream is held about
    # a q tile at a time (47 and 66 MiB).
    args = ["kernel", "attention", "--chip", "maia200", "--phase", "prefill", "--batch", "1", "--heads", "32",
            "--kv-heads", "8", "--head-dim", "128", "--causal", "--seq"]
    small = peak_rss(*args, "8192")
    large = peak_rss(*args, "32768")
    assert large - small < 32, "maia200: 32768-token prefill attention peaked at %.0f MiB, 8192 at %.0f MiB" % (large, small)


def test_a_traced_run_streams_its_trace_and_stays_flat(tmp_path, peak_rss):
    # 4096 x 8192 x 8192 on the H100: about 400k transactions, 19 MB of records (twice that with a copy) if
    # the trace were held until the end. Streamed to trace.h5 in chunks of 65,536 records (3 MB), the
    # traced run's own peak (VmHWM of the child, not wait4's ru_maxrss, which counts pytest's pages the
    # fork carried) does not grow with the number of records.
    # The HDF5 library, its chunk buffers and zlib cost a fixed ~15 MiB, so two traced runs are compared:
    # a quarter of the transactions (k = 2048) and the full shape; held records would add 14 MiB.
    shape = ["kernel", "gemm", "--m", "4096", "--n", "8192", "--format", "json", "--trace"]
    small = peak_rss(*shape, "--k", "2048", "--out", str(tmp_path / "small"))
    traced = peak_rss(*shape, "--k", "8192", "--out", str(tmp_path / "traced"))
    with open(tmp_path / "traced" / "stats.json") as f:
        transactions = json.load(f)["transactions"]
    assert transactions > 300000
    with h5py.File(tmp_path / "traced" / "trace.h5") as f:
        assert f["transactions"].shape == (transactions,)
        assert f["transactions"].chunks == (65536,) and f["transactions"].compression == "gzip"
    assert not [p for p in os.listdir(tmp_path / "traced") if ".tmp." in p]
    assert traced - small < 6, "traced run peak RSS %.0f MiB at 4x the transactions of one at %.0f MiB" % (traced, small)
    assert traced < 64, "traced run peak RSS %.0f MiB" % traced
