"""`serve --trace` (QA, session 52): serve had no trace. It now writes the engine's timeline at iteration level into
--out: trace.h5 (/iterations, /requests, /kv_transfers, /servers; streamed in chunks) and trace.json (a track per
server with a slice per iteration, an async slice per request with its TTFT nested, KV transfers on their own track),
without changing any result."""
import json
import os

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
BASE = ["serve", "--chip", "h100-sxm", "--model", TINY, "--dtype", "bf16", "--input", "64", "--output", "8",
        "--requests", "12", "--format", "json"]
ITER_COLS = ("server", "start_s", "time_s", "prefill_tokens", "prefill_chunks", "decode_requests", "verify_requests",
             "verify_tokens", "kv_blocks_used", "kv_blocks_total", "running", "waiting", "clock")
REQ_COLS = ("server", "request", "input_tokens", "output_tokens", "arrival_s", "first_token_s", "finish_s", "ttft_s")
KV_COLS = ("request", "prefill", "decode", "tokens", "bytes", "start_s", "end_s")


def strip(j):
    """The report without what differs between two runs of the same point (wall times, at any depth)."""
    def drop(x):
        if isinstance(x, dict):
            return {k: drop(v) for k, v in x.items() if k not in ("wall_s", "transactions_per_s")}
        return [drop(v) for v in x] if isinstance(x, list) else x
    return json.dumps(drop(j), sort_keys=True)


def names(ds):
    return [x.decode() if isinstance(x, bytes) else x for x in ds[:]]


@pytest.mark.parametrize("load", [["--concurrency", "4"], ["--rate", "200"]])
def test_trace_files_and_results_unchanged(cli, tmp_path, load):
    plain = json.loads(cli(*BASE, *load).stdout)
    out = tmp_path / "t"
    traced = json.loads(cli(*BASE, *load, "--out", str(out), "--trace", "--trace-format", "both").stdout)
    assert strip(traced) == strip(plain)  # tracing changes no result
    with h5py.File(out / "trace.h5", "r") as f:
        it, rq, kv = f["iterations"][:], f["requests"][:], f["kv_transfers"][:]
        assert it.dtype.names == ITER_COLS and rq.dtype.names == REQ_COLS and kv.dtype.names == KV_COLS
        server = "replica (4 users)" if load[0] == "--concurrency" else "replica"
        assert names(f["servers"]) == [server] and f.attrs["chip"] == "h100-sxm" and "version" in f.attrs
    assert len(it) == plain["iterations"] and len(rq) == plain["requests"] == 12 and len(kv) == 0
    # The iteration slices add up to the engine's busy time, one after another, within the makespan.
    assert it["time_s"].sum() == pytest.approx(plain["busy_s"], rel=1e-12) and plain["busy_s"] > 0
    assert np.all(it["start_s"][1:] >= it["start_s"][:-1] + it["time_s"][:-1] * (1 - 1e-12))
    assert it["start_s"][-1] + it["time_s"][-1] == pytest.approx(plain["makespan_s"], rel=1e-12)
    assert it["prefill_tokens"].sum() == 12 * 64 and np.all(it["kv_blocks_used"] <= it["kv_blocks_total"])
    assert np.all(it["clock"] > 0)  # h100-sxm has a power manager: each iteration's mean clock ratio
    assert np.all(rq["first_token_s"] >= rq["arrival_s"]) and np.all(rq["finish_s"] >= rq["first_token_s"])
    assert np.median(rq["ttft_s"]) == pytest.approx(plain["ttft_s"], rel=1e-9)
    # Perfetto: a track per server with a slice per iteration, an async slice per request with ttft nested.
    doc = json.load(open(out / "trace.json"))
    ev = doc["traceEvents"]
    threads = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert server in threads
    slices = [e for e in ev if e["ph"] == "X" and e["cat"] == "iteration"]
    assert len(slices) == len(it) and sum(e["dur"] for e in slices) == pytest.approx(
        plain["busy_s"] * 1e6, abs=1e-6 * len(slices))  # each duration to the picosecond
    assert {e["name"] for e in slices} <= {"prefill", "decode", "mixed"}
    begins = [e for e in ev if e["ph"] == "b" and e["cat"] == "request"]
    assert len([e for e in begins if e["name"] == "ttft"]) == 12 and len([e for e in ev if e["ph"] == "e"]) == 3 * 12
    assert doc["otherData"]["truncated"] is False and doc["otherData"]["iterations"] == len(it)


def test_disaggregated_run_traces_both_pools_and_the_transfers(cli, tmp_path):
    args = [*BASE, "--devices", "2", "--prefill-devices", "1", "--decode-devices", "1", "--concurrency", "4"]
    plain = json.loads(cli(*args).stdout)
    out = tmp_path / "d"
    traced = json.loads(cli(*args, "--out", str(out), "--trace", "--trace-format", "both").stdout)
    assert strip(traced) == strip(plain)
    with h5py.File(out / "trace.h5", "r") as f:
        it, kv = f["iterations"][:], f["kv_transfers"][:]
        assert names(f["servers"]) == ["prefill 0", "decode 0"]
    assert it["time_s"].sum() == pytest.approx(plain["busy_s"], rel=1e-12)
    assert len(kv) == plain["kv_transfer"]["transfers"] > 0 and np.all(kv["end_s"] >= kv["start_s"])
    ev = json.load(open(out / "trace.json"))["traceEvents"]
    assert len([e for e in ev if e["ph"] == "X" and e["cat"] == "kv_transfer"]) == len(kv)
    procs = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    assert procs == {"servers", "requests", "kv transfers"}


def test_trace_refusals(cli, tmp_path):
    r = cli(*BASE, "--trace", check=False)
    assert r.returncode != 0 and "--trace needs --out" in r.stderr and r.stdout == ""
    r = cli(*BASE, "--concurrency", "1,4", "--out", str(tmp_path / "x"), "--trace", check=False)
    assert r.returncode != 0 and "one point at a time" in r.stderr and not (tmp_path / "x").exists()
    r = cli(*BASE, "--concurrency", "4", "--out", str(tmp_path / "y"), "--trace-format", "perfetto", check=False)
    assert r.returncode != 0 and "give --trace too" in r.stderr


def test_python_serve_writes_the_same_trace(cli, tmp_path):
    import xpusim
    j = xpusim.serve(model=TINY, chip="h100-sxm", dtype="bf16", input=64, output=8, requests=12, concurrency=4,
                     out=tmp_path / "py", trace=True)
    with h5py.File(tmp_path / "py" / "trace.h5", "r") as f:
        assert f["iterations"]["time_s"].sum() == pytest.approx(j["busy_s"], rel=1e-12)
        assert len(f["requests"]) == 12


def trace_memory(peak_rss, tmp_path, *trace):
    """The traced run's extra peak RSS (MiB) over the plain run at 500 and 2,000 requests of 64 tokens, one user:
    32,000 and 128,000 iterations."""
    args = ["serve", "--chip", "h100-sxm", "--model", TINY, "--dtype", "bf16", "--input", "64", "--output", "64",
            "--concurrency", "1", "--format", "json"]
    extra = []
    for n in (500, 2000):
        plain = peak_rss(*args, "--requests", str(n))
        traced = peak_rss(*args, "--requests", str(n), "--out", str(tmp_path / str(n)), *trace)
        extra.append(traced - plain)
    return extra


def test_hdf5_trace_memory_stays_flat(peak_rss, tmp_path):
    # 32,000 and 128,000 iterations (two chunks of /iterations): the trace's extra memory is its chunk buffers and
    # the HDF5 library, the same however long the run.
    extra = trace_memory(peak_rss, tmp_path, "--trace")
    assert extra[1] < extra[0] + 8, extra


def test_replicas_of_two_kinds_are_two_servers(cli, tmp_path):
    # --dp 3 with 4 users: one replica of 2 users and two of 1 (simulated once): two servers, their slices adding to busy_s.
    j = json.loads(cli(*BASE, "--devices", "3", "--dp", "3", "--concurrency", "4", "--out", str(tmp_path / "r"), "--trace").stdout)
    with h5py.File(tmp_path / "r" / "trace.h5", "r") as f:
        assert names(f["servers"]) == ["replica (2 users)", "replica (1 user) x2"]
        it = f["iterations"][:]
    assert set(np.unique(it["server"])) == {0, 1} and it["time_s"].sum() == pytest.approx(j["busy_s"], rel=1e-12)


def test_perfetto_trace_memory_stays_flat(peak_rss, tmp_path):
    # QA (session 53): trace.json was built from rows held until the end (13 float64 per iteration: 9 MiB more at
    # 128,000 iterations than at 32,000); it is now written as the events come, so its memory is the same however
    # long the run (both under the cap of 1,000,000 iterations).
    extra = trace_memory(peak_rss, tmp_path, "--trace", "--trace-format", "perfetto")
    assert extra[1] < extra[0] + 8, extra
    doc = json.load(open(tmp_path / "2000" / "trace.json"))
    other = doc["otherData"]
    assert other["iterations"] == other["iterations_written"] > 100000 and other["truncated"] is False
    assert len([e for e in doc["traceEvents"] if e["ph"] == "X"]) == other["iterations"]
    assert not [p for p in os.listdir(tmp_path / "2000") if ".tmp." in p]  # the temporary file was renamed
