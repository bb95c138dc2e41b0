"""Traces of systems of chips (QA, session 51): `run` had no --trace and `kernel allreduce ... --trace` was refused,
so a system run's kernels and its collectives' traffic on the fabric could not be seen. Both now write trace.h5 (the
single-chip schema, streamed) and trace.json (the same Perfetto writer) with a track per rank and per link."""
import json

import h5py
import numpy as np
import pytest
import xpusim
from xpusim import Trace

SYSTEM_KINDS = "0=dma_read,1=dma_write,2=tile_compute,3=vector_op,4=sync,5=kernel,6=collective,7=send,8=recv,9=reduce,10=transfer,11=step"


def thread_names(events):
    return {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}


def test_a_tensor_parallel_run_traces_every_rank_and_the_links(cli, tiny_model, tmp_path):
    out = tmp_path / "tp2"
    cli("run", "--chip", "h100-sxm", "--devices", "2", "--tp", "2", "--model", tiny_model, "--phase", "request",
        "--batch", "2", "--input", "64", "--output", "4", "--out", str(out), "--trace", "--trace-format", "both")
    with h5py.File(out / "trace.h5", "r") as f:  # h5py opens it: the single-chip schema
        ds = f["transactions"]
        assert set(ds.dtype.names) == {"start_ps", "end_ps", "unit", "kernel", "bytes", "flops", "task", "kind", "level"}
        assert ds.attrs["kind_names"] == SYSTEM_KINDS and "level_names" not in ds.attrs
        units = [u.decode() if isinstance(u, bytes) else u for u in f["units"][:]]
        assert f.attrs["chip"] == "hgx-h100x8" or f.attrs["chip"].startswith("hgx")
        n = len(ds)
    assert units[:5] == ["steps", "rank0.compute", "rank0.comm", "rank1.compute", "rank1.comm"]
    links = [u for u in units if u.startswith("fabric.")]
    assert links and all("->" in u for u in links)
    t = Trace(out)
    assert len(t) == n
    kinds = {t.kind_name(int(k)) for k in np.unique(t.records["kind"])}
    assert {"kernel", "collective", "transfer", "step"} <= kinds
    s = t.summary(by="kind")
    # The steps track: the prefill and the simulated decode steps, one after another on one timeline.
    steps = t.filter(kind="step")
    assert len(steps) >= 2 and [t.kernels[int(k)] for k in steps.records["kernel"]][0] == "prefill"
    assert np.all(steps.records["start_ps"][1:] >= steps.records["end_ps"][:-1])
    # The pieces on the links are named after the collective calls the ranks ran ("layer.attn_allreduce (oneshot/vllm)").
    assert s["transfer"]["count"] > 0 and s["kernel"]["count"] > 0
    calls = {t.kernels[int(k)] for k in t.filter(kind="transfer").records["kernel"]}
    ran = {t.kernels[int(k)] for k in t.filter(kind="collective").records["kernel"]}
    assert calls and calls <= ran and any("allreduce" in c for c in calls), (calls, ran)
    # The Perfetto file, through the same writer: one slice per record and a track per unit with records.
    events = json.load(open(out / "trace.json"))["traceEvents"]
    slices = [e for e in events if e["ph"] == "X" and "task" in e["args"]]  # the records (not the kernels track's spans)
    assert len(slices) == n
    names = thread_names(events)
    assert {"rank0.compute", "rank1.compute", "rank0.comm", "steps"} <= names and any(x.startswith("fabric.") for x in names)
    assert {e["cat"] for e in slices} >= {"kernel", "collective", "transfer", "step"}
    # A kernel, collective or step slice is named after the operation (QA, session 48: every slice of a rank's compute
    # track read "kernel", its name only in the arguments); a link's pieces and a transaction keep their kind's name.
    for e in slices:
        assert e["name"] == (e["args"]["kernel"] if e["cat"] in ("kernel", "collective", "step") else e["cat"]), e
    assert any(e["name"] == "prefill" for e in slices) and any("allreduce" in e["name"] for e in slices)
    # No "kernels" track of spans: its labels repeat per layer and rank, so each span covered the whole step (a
    # dozen "kernels [k]" lanes of ~2 ms on a 2.2 ms step); the kernels are the rank tracks' own slices.
    assert not any(x.startswith("kernels") for x in names)
    assert not any(e["ph"] == "X" and e.get("cat") == "kernel" and "task" not in e["args"] for e in events)
    # xpusim.to_perfetto of the trace.h5 writes the same events (one writer).
    xpusim.to_perfetto(t, tmp_path / "py.json")
    assert json.load(open(tmp_path / "py.json"))["traceEvents"] == events


def test_a_collective_alone_traces_each_ranks_operations_and_each_link(cli, tmp_path):
    out = tmp_path / "ar"
    j = json.loads(cli("kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB", "--format", "json",
                       "--out", str(out), "--trace").stdout)
    assert (out / "trace.h5").exists() and not (out / "trace.json").exists()  # hdf5: streamed alone
    t = Trace(out)
    assert t.chip == "hgx-h100x8"
    assert ["rank%d.comm" % r for r in range(8)] == t.units[1:9]
    transfers = t.filter(kind="transfer")
    assert len(transfers) == j["link_transfers"]  # every piece the fabric booked on a link
    assert {t.kind_name(int(k)) for k in np.unique(t.records["kind"])} >= {"send", "recv", "transfer", "step"}
    # The step spans the collective: its latency, as the report gives it.
    step = t.filter(kind="step").records
    assert len(step) == 1 and abs(step["end_ps"][0] * 1e-12 - j["latency_s"]) < 1e-12
    assert t.kernels[int(step["kernel"][0])] == "allreduce (%s/%s)" % (j["algorithm"], j["protocol"])


def test_trace_flags_refused_in_one_line(cli, tmp_path):
    for args, expect in [
        (["kernel", "allreduce", "--bytes", "1MiB", "--trace"], "--trace needs --out DIR"),
        (["run", "--model", "llama-3.1-8b", "--trace"], "--trace needs --out DIR"),
        (["run", "--trace-format", "perfetto", "--out", str(tmp_path / "x")], "--trace-format perfetto: give --trace too"),
        (["kernel", "allreduce", "--bytes", "1MiB", "--out", str(tmp_path / "y"), "--trace", "--trace-format", "svg"],
         "--trace-format 'svg': expected hdf5, perfetto or both"),
    ]:
        p = cli(*args, check=False)
        assert p.returncode == 2 and p.stderr.startswith("xpusim: error: " + expect), (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_python_runs_write_the_same_system_trace(cli, tiny_model, tmp_path):
    """xpusim.run(trace=True) and xpusim.collective(trace=True) pass --trace to the CLI's own code: the same file."""
    args = dict(chip="h100-sxm", devices=2, tp=2, model=tiny_model, phase="decode", batch=2, input=64)
    xpusim.run(out=tmp_path / "py", trace=True, trace_format="perfetto", **args)
    cli("run", *[x for k, v in args.items() for x in ("--" + k, str(v))], "--out", str(tmp_path / "cli"), "--trace",
        "--trace-format", "perfetto")
    assert json.load(open(tmp_path / "py" / "trace.json"))["traceEvents"] == json.load(open(tmp_path / "cli" / "trace.json"))["traceEvents"]
    r = xpusim.collective("allgather", bytes="1MiB", out=tmp_path / "ag", trace=True)
    t = Trace(tmp_path / "ag")
    assert len(t.filter(kind="transfer")) == r["link_transfers"]
    assert len(Trace(xpusim.kernel("allreduce", bytes="1MiB", out=str(tmp_path / "ar"), trace=True) and tmp_path / "ar")) > 0
    with pytest.raises(xpusim.InputError, match="^trace needs out=DIR|^trace needs out"):
        xpusim.run(trace=True, **args)


def test_a_system_trace_h5_streams_in_flat_memory(peak_rss, tmp_path):
    """trace.h5 of a system run is streamed one chunk at a time, as a chip's is: 4x the link pieces (147,456 ->
    589,824 for a 4 -> 16 GiB all-reduce on an HGX H100) leave the peak RSS where it was (a held trace.json grows)."""
    def rss(size, name):
        return peak_rss("kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", size, "--out", str(tmp_path / name),
                        "--trace")
    small, large = rss("4GiB", "a"), rss("16GiB", "b")
    assert large < small + 4, (small, large)  # MiB; held in memory the added records are some 20 MiB
    assert len(Trace(tmp_path / "b").filter(kind="transfer")) == 589824
