"""Trace replay, Perfetto export and plots: the replayed trace equals the run's own records and report."""
import importlib.util
import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
import xpusim
from xpusim import Trace, plots, to_perfetto
from xpusim.trace import unit_group


@pytest.fixture
def run(cli, tmp_path):
    """run(name, op, *args) -> the folder of a CLI run with --out and --trace."""
    def make(name, op, *args):
        out = tmp_path / name
        cli("kernel", op, *args, "--out", str(out), "--trace")
        return out
    return make


@pytest.fixture
def splitk(run):
    # A skinny GEMM with a long K: split-K, the slices reduced by a second kernel (as cuBLAS's splitKreduce_kernel).
    return run("splitk", "gemm", "--m", "128", "--n", "128", "--k", "8192")


@pytest.fixture
def decode(run):
    # Decode attention over a long context: the split-KV kernel plus its combine kernel (two kernels).
    return run("decode", "attention", "--phase", "decode", "--batch", "1", "--heads", "32", "--kv-heads", "8",
               "--seq", "4096", "--head-dim", "128")


def stats_of(folder):
    return json.loads((folder / "stats.json").read_text())


def test_replay_equals_the_runs_records(run, splitk, decode):
    for folder in (splitk, decode, run("g512", "gemm", "--m", "512", "--n", "512", "--k", "512"),
                   run("att", "attention", "--phase", "prefill", "--batch", "1", "--heads", "4", "--kv-heads", "4",
                       "--seq", "256", "--head-dim", "64")):
        s = stats_of(folder)
        t = Trace(folder / "trace.h5")
        r = t.records
        assert len(t) == s["transactions"] == sum(k["transactions"] for k in s["kernels"])
        assert t.chip == s["chip"] and "hbm:" in t.config
        assert [k.split(":", 1)[1] for k in t.kernels] == [k["name"] for k in s["kernels"]]
        assert abs(t.t1 - s["latency_s"]) < 1e-12
        assert np.all(np.diff(r["start_ps"]) >= 0) and np.all(r["end_ps"] >= r["start_ps"])
        with h5py.File(folder / "trace.h5") as f:  # the same records as the file, only reordered
            raw = f["transactions"][:]
        assert np.array_equal(np.sort(raw, order=list(raw.dtype.names)), np.sort(r, order=list(r.dtype.names)))
        for i, k in enumerate(s["kernels"]):
            mine = r[r["kernel"] == i]
            assert len(mine) == k["transactions"]
            assert mine["flops"][mine["kind"] == 2].sum() == k["flops"]      # tile compute = the op's FLOPs
            assert mine["flops"].sum() == k["executed_flops"]                # + vector ops = all executed
            dma = mine[(mine["kind"] <= 1) & (mine["level"] == 0)]
            assert dma["bytes"].sum() == k["dram_bytes"]
            assert t.filter(kernel=k["name"]).summary(by="kernel")[t.kernels[i]]["count"] == k["transactions"]
        # Compute engines run one transaction at a time: busy time equals the engine's own stat.
        for name, row in t.summary().items():
            if name.endswith((".tensor", ".vector")):
                assert row["busy_s"] == pytest.approx(s["stats"][name + ".busy"]["value"], rel=1e-9, abs=1e-15)
        groups = t.summary(by="group")
        for g in ("sm.tensor", "sm.vector"):
            assert groups[g]["utilization"] == pytest.approx(s["utilization"][g], rel=1e-9)


def test_filters_seek_and_iteration(decode):
    t = Trace(decode)  # a run folder works as well as the file
    n = len(t)
    assert sum(len(t.filter(kind=k)) for k in xpusim.trace.KINDS) == n
    assert len(t.filter(kind="tile_compute")) == len(t.filter(kind=2)) > 0
    assert len(t.filter(kind=["dma_read", "dma_write"])) == len(t.filter(kind=0)) + len(t.filter(kind=1))
    sm0 = t.filter(unit="sm0.")
    assert len(sm0) > 0 and all("sm0." in t.units[u] for u in np.unique(sm0.records["unit"]))
    tensor = t.filter(unit="sm.tensor")  # a group name selects every executor's unit of that type
    assert {unit_group(t.units[u]) for u in np.unique(tensor.records["unit"])} == {"sm.tensor"}
    assert len(tensor) == len(t.filter(unit=re.compile(r"\.tensor$"))) == len(t.filter(unit="chip.sm*.tensor"))
    assert len(t.filter(unit=["sm0.", "sm1."])) == len(t.filter(unit=re.compile(r"\.sm[01]\.")))
    k0, k1 = t.filter(kernel="attention.decode"), t.filter(kernel="attention:attention.combine")
    assert len(k0) + len(k1) == n and len(k0.filter(kind="tile_compute")) == len(t.filter(kind="tile_compute"))
    assert len(t.filter(kernel=1)) == len(k1)
    chained = t.filter(kernel="attention.decode").filter(unit="sm0.").filter(kind="tile_compute")
    assert len(chained) == len(t.filter(kernel="attention.decode", unit="sm0.", kind="tile_compute")) > 0
    for bad in (dict(unit="sm999."), dict(kind="mma"), dict(kernel="softmax")):
        with pytest.raises(ValueError):
            t.filter(**bad)
    for bad in (9, -1, "mma", True, [0, 9]):  # a number that is no kind selected nothing, silently
        with pytest.raises(ValueError, match=r"^kind=.*: no such transaction kind; kinds: 0 dma_read, 1 dma_write, "
                                             r"2 tile_compute, 3 vector_op, 4 sync$"):
            t.filter(kind=bad)

    # seek: the first record starting at or after t
    r = t.records
    for time_s in (0.0, 1.3e-6, 2e-6, 2.5e-6, t.t1 / 2):
        i = t.seek(time_s)
        assert np.all(r["start_ps"][:i] < round(time_s * 1e12)) and np.all(r["start_ps"][i:] >= round(time_s * 1e12))
    assert t.seek(0) == 0 and t.seek(1.0) == n

    # window: what overlaps [t0, t1), measured within the window
    t0, t1 = 2e-6, 3e-6
    w = t.window(t0, t1)
    assert len(w) > 0 and (w.t0, w.t1) == (t0, t1)
    assert np.all(w.records["start_ps"] < 3_000_000) and np.all(w.records["end_ps"] >= 2_000_000)
    assert all(0 <= row["utilization"] <= 1 + 1e-12 for row in w.summary().values())
    assert len(w) == len(t.filter(start=t0, end=t1))

    # iteration, indexing, views
    rec = next(iter(t))
    assert set(rec) >= {"start_ps", "end_ps", "unit", "kernel", "kind", "bytes", "flops", "task"}
    assert rec == t[0] and rec["unit"] in t.units and rec["kind"] in xpusim.trace.KINDS
    assert len(list(t.filter(unit="sm0."))) == len(sm0) and len(t[10:20]) == 10
    assert "h100-sxm" in repr(t)


def test_utilization_and_bandwidth_over_time(splitk):
    t = Trace(splitk)
    edges, u = t.utilization(bin_s=100e-9)
    assert edges[0] == 0 and edges[-1] == pytest.approx(t.t1) and np.allclose(np.diff(edges)[:-1], 100e-9)
    g = t.summary(by="group")
    assert set(u) == set(g)
    for name, frac in u.items():
        assert len(frac) == len(edges) - 1 and frac.min() >= 0 and frac.max() <= 1 + 1e-9
        # the time-weighted mean over the bins is the group's utilization over the run
        assert np.sum(frac * np.diff(edges)) / (edges[-1] - edges[0]) == pytest.approx(g[name]["utilization"], rel=1e-9)
    edges, bw = t.dma_bandwidth(bin_s=50e-9)
    dma = t.records[t.records["kind"] <= 1]
    assert sum(np.sum(v * np.diff(edges)) for v in bw.values()) == pytest.approx(dma["bytes"].sum(), rel=1e-9)
    if importlib.util.find_spec("pandas"):  # optional: the dicts work without it
        assert len(t.summary().to_dataframe()) == len(t.summary()) and len(t.to_dataframe()) == len(t)


def test_perfetto_file_has_a_track_per_unit_and_a_slice_per_record(splitk, tmp_path):
    t = Trace(splitk)
    out = tmp_path / "trace.json"
    power = (np.array([0.0, 2e-6, 4e-6]), np.array([120.0, 650.0, 300.0]))
    assert to_perfetto(t, out, power=power) == len(t)
    doc = json.loads(out.read_text())
    assert doc["displayTimeUnit"] == "ns"
    ev = doc["traceEvents"]
    procs = [e for e in ev if e["ph"] == "M" and e["name"] == "process_name"]
    assert [p["args"]["name"] for p in procs] == ["h100-sxm"]
    threads = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    busy_units = {t.units[u] for u in np.unique(t.records["unit"])}
    plain = [name for name in threads.values() if name in t.units]
    assert sorted(plain) == sorted(busy_units)  # exactly one (lane-0) track per unit with records
    assert {re.sub(r" \[\d+\]$", "", name) for name in threads.values()} == busy_units | {"kernels"}
    slices = [e for e in ev if e["ph"] == "X" and e["cat"] != "kernel"]
    assert len(slices) == len(t)
    assert sum(e["args"]["flops"] for e in slices) == int(t.records["flops"].sum())
    assert {e["name"] for e in slices} <= set(xpusim.trace.KINDS)
    assert {e["args"]["kernel"] for e in slices} == set(t.kernels)
    assert len([e for e in ev if e["ph"] == "X" and e["cat"] == "kernel"]) == len(t.kernels)
    by_tid = {}
    for e in slices:  # the format needs slices of one thread to nest: lanes keep them apart
        by_tid.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in by_tid.values():
        spans.sort()
        assert all(a[1] <= b[0] + 1e-6 for a, b in zip(spans, spans[1:]))
    counters = {e["name"] for e in ev if e["ph"] == "C"}
    assert {"DMA bandwidth (GB/s)", "busy (%)", "power (W)"} <= counters

    small = tmp_path / "small.json"
    assert to_perfetto(str(splitk / "trace.h5"), small, max_events=100) == 100
    doc = json.loads(small.read_text())
    assert doc["otherData"]["truncated"]
    assert len([e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] != "kernel"]) == 100

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    cli_out = tmp_path / "cli.json"
    p = subprocess.run([sys.executable, "-m", "xpusim.perfetto", str(splitk / "trace.h5"), str(cli_out)],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert len([e for e in json.loads(cli_out.read_text())["traceEvents"] if e["ph"] == "X"]) == len(slices) + len(t.kernels)
    assert not [f for f in os.listdir(tmp_path) if ".tmp." in f]


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def _is_svg(path):
    return b"<svg" in path.read_bytes()[:2000] and path.stat().st_size > 1000


def test_timeline_and_utilization_plots_write_png_and_svg(splitk, tmp_path):
    t = Trace(splitk)
    fig = plots.timeline(t, tmp_path / "timeline.png", units="sm0.")
    assert _is_png(tmp_path / "timeline.png") and len(fig.axes[0].get_yticklabels()) == 3
    plots.timeline(splitk, tmp_path / "timeline.svg", max_units=8)
    assert _is_svg(tmp_path / "timeline.svg")
    plots.utilization(t, tmp_path / "util.png", bin_s=100e-9)
    plots.utilization(t.filter(unit="sm0."), tmp_path / "util.svg", by="unit")
    assert _is_png(tmp_path / "util.png") and _is_svg(tmp_path / "util.svg")
    with pytest.raises(ValueError):
        plots.timeline(t, tmp_path / "timeline.jpg")


def test_roofline_places_kernels_under_the_roof(splitk, tmp_path):
    plots.roofline(splitk, path=tmp_path / "roof.png")  # a run folder: bandwidth from its config
    memory_bound = xpusim.kernel("rmsnorm", rows=256, cols=1024)  # bandwidth recovered from its roofline_s
    plots.roofline([memory_bound, stats_of(splitk)], path=tmp_path / "roof.svg")
    assert _is_png(tmp_path / "roof.png") and _is_svg(tmp_path / "roof.svg")
    compute_bound = xpusim.kernel("gemm", m=2048, n=2048, k=2048)
    assert compute_bound["kernels"][0]["bound"] == "compute"
    with pytest.raises(ValueError, match="chip_bandwidth"):  # nothing in a compute-bound report tells it
        plots.roofline(compute_bound)
    fig = plots.roofline(compute_bound, chip_bandwidth="3.35 TB/s")
    (point,) = fig.axes[0].collections  # one kernel, one point, below the compute roof
    x, y = point.get_offsets()[0]
    assert y <= compute_bound["peak_tflops"] * 1e12 and y <= 3.35e12 * x
    # The file second, as timeline(t, "t.png") takes it: it was read as chip_peak_flops and failed with
    # "could not convert string to float".
    plots.roofline(memory_bound, tmp_path / "second.png")
    plots.roofline(memory_bound, str(tmp_path / "second.svg"))
    assert _is_png(tmp_path / "second.png") and _is_svg(tmp_path / "second.svg")
    with pytest.raises(ValueError, match="chip_peak_flops='fast' is not a number of FLOP/s"):
        plots.roofline(memory_bound, "fast", path=tmp_path / "x.png")
    assert plots.roofline(memory_bound, "989e12").axes  # a number as a string is still the roof


def test_a_file_that_is_no_trace_is_named(tmp_path):
    """Trace() of a file that is not HDF5 (a Perfetto trace.json, a text file) raised h5py's bare
    'OSError: Unable to open file (file signature not found)', naming neither the file nor what was expected."""
    for name, data in (("trace.json", '{"traceEvents": []}'), ("notes.txt", "hello")):
        p = tmp_path / name
        p.write_text(data)
        with pytest.raises(ValueError, match=r"^%s: not an HDF5 file \(expected the trace.h5 that" % re.escape(str(p))):
            Trace(str(p))
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["transactions"] = np.arange(5)
    with pytest.raises(ValueError, match=r"^%s: trace records lack the fields" % re.escape(str(p))):
        Trace(str(p))


def test_a_bad_bin_width_or_event_cap_is_named(splitk, tmp_path):
    """QA (session 44): to_perfetto(max_events=-1) wrote all but the last transaction and returned -1; bin_s=nan failed in
    NumPy ("cannot convert float NaN to integer") and bin_s=1e-30 as "Maximum allowed size exceeded"."""
    t = Trace(splitk)
    out = tmp_path / "t.json"
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=r"^max_events=%s: expected None \(every transaction\) or an integer >= 0$"
                           % re.escape(repr(bad))):
            to_perfetto(t, out, max_events=bad)
    for bad in (float("nan"), 0.0, -1e-9, 1e-30, "wide"):
        with pytest.raises(ValueError, match=r"^bin_s=%s: expected a bin width in seconds > 0 and at least .* \(at most "
                           "10000000 bins over this trace's" % re.escape(repr(bad))):
            to_perfetto(t, out, bin_s=bad)
        with pytest.raises(ValueError, match=r"^bin_s="):
            t.utilization(bin_s=bad)
    assert not out.exists()
    assert to_perfetto(t, out, max_events=0) == 0
    assert len(t.bin_edges(bin_s=(t.t1 - t.t0) / 4)) == 5


def test_a_time_that_is_not_a_number_is_named(splitk):
    """QA (session 44): t.window(nan, 1), t.seek(nan) and t.filter(start=nan) raised NumPy's "cannot convert float NaN
    to integer"; filter(start="1us") float()'s "could not convert string to float"."""
    t = Trace(splitk)
    nan = float("nan")
    for call, name, value in ((lambda: t.window(nan, 1e-6), "t0", nan), (lambda: t.window(0, float("inf")), "t1", float("inf")),
                              (lambda: t.seek(nan), "t_s", nan), (lambda: t.filter(start=nan), "start", nan),
                              (lambda: t.filter(end="1us"), "end", "1us")):
        with pytest.raises(ValueError, match=r"^%s=%s: expected a finite time in seconds" % (name, re.escape(repr(value)))):
            call()
    assert len(t.window(0, 1.0)) == len(t) and t.seek(-1) == 0


def test_the_cli_and_python_write_the_same_perfetto_events(run, tmp_path):
    """QA (session 51): the CLI's `--trace-format perfetto` and xpusim.to_perfetto were two writers (the CLI's had no
    kernels track, no per-level DMA or busy counters), so one run gave two files. One writer now (sim/io/perfetto.cpp,
    the module's write_perfetto): the same events. Before that (session 44) the CLI's counter put each copy's bytes in
    the bin of its end (28,872 GB/s where Trace.dma_bandwidth said 9,926)."""
    out = run("both", "gemm", "--m", "512", "--n", "512", "--k", "512", "--trace-format", "both")
    events = json.load(open(out / "trace.json"))["traceEvents"]
    t = Trace(out)
    assert to_perfetto(t, tmp_path / "py.json") == len(t)
    assert json.load(open(tmp_path / "py.json"))["traceEvents"] == events
    assert {e["name"] for e in events if e["ph"] == "C"} == {"DMA bandwidth (GB/s)", "busy (%)"}
    assert "kernels" in {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    # The bandwidth counter is Trace.dma_bandwidth's, per direction and named memory level.
    counter = [e for e in events if e["ph"] == "C" and e["name"] == "DMA bandwidth (GB/s)"]
    edges, bw = t.dma_bandwidth()
    assert len(counter) == len(edges) == 201 and set(counter[0]["args"]) == set(bw) and "read global" in bw
    for name, v in bw.items():
        np.testing.assert_allclose([e["args"][name] for e in counter[:-1]], v / 1e9, rtol=1e-5, atol=1e-2)


def test_the_trace_names_its_memory_levels(run):
    """QA (session 51): trace.h5's `level` was a bare number, so reports said "level0" and "read level3"; the file now
    names the family's levels (attribute level_names) and the reports use the names."""
    out = run("levels", "gemm", "--m", "512", "--n", "512", "--k", "512")
    with h5py.File(out / "trace.h5", "r") as f:
        assert f["transactions"].attrs["level_names"] == "0=global,1=l2,2=smem,3=multicast"
    t = Trace(out)
    assert t.level_names == ["global", "l2", "smem", "multicast"]
    assert "read global" in t.dma_bandwidth()[1] and not any("level" in k for k in t.dma_bandwidth()[1])
    j = stats_of(out)
    # The JSON keys stay level<N> (a contract scripts read); the names stand beside them.
    assert j["bytes"]["level0"] > 0 and j["dma_level_names"]["level0"] == "global"
    assert set(j["bandwidth_Bps"]) == set(j["bytes"])
    tpu = xpusim.kernel("gemm", chip="tpu-v6e", m=256, n=256, k=256)
    assert tpu["bytes"]["level0"] > 0 and tpu["dma_level_names"]["level0"] == "hbm"


def test_the_cli_perfetto_slices_name_their_kernel(run, decode):
    """QA (session 44): `--trace-format perfetto` wrote args.kernel as an index (0, 1) where xpusim.to_perfetto writes
    the kernel's name, so the same field meant two things depending on who wrote the file."""
    out = run("decode_pf", "attention", "--phase", "decode", "--batch", "1", "--heads", "32", "--kv-heads", "8",
              "--seq", "4096", "--head-dim", "128", "--trace-format", "perfetto")
    events = json.load(open(out / "trace.json"))["traceEvents"]
    names = {e["args"]["kernel"] for e in events if e["ph"] == "X" and "task" in e["args"]}  # records, not kernel spans
    assert names == set(Trace(decode).kernels) == {"attention:attention.decode", "attention:attention.combine"}
