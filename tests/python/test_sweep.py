"""Sweeps (xpusim.sweep, `xpusim sweep`): spec expansion, the same numbers as the single-run API, table
files with units, failing points recorded, kill -9 and resume, and bad input as one line naming the
spec file, line and key with nothing written."""
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import pandas as pd
import pytest

import xpusim
from xpusim.sweep_spec import load_spec

from conftest import BUILD, ROOT

TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
WALL = ("wall_s",)


def same(a, b):
    """Equal tables, value for value (wall-clock columns aside)."""
    pd.testing.assert_frame_equal(a.drop(columns=list(WALL)), b.drop(columns=list(WALL)), check_exact=True)


def gemm_spec(**extra):
    spec = {
        "study": "kernel",
        "base": {"op": "gemm", "chip": "h100-sxm", "n": 256, "k": 256, "dtype": "bf16"},
        "axes": [{"key": "hbm.bandwidth", "values": [2, 3.35], "unit": "TB/s"},
                 {"key": "m", "values": [128, 256]}],
        "metrics": {"latency": "latency_s", "tflops": "tflops", "hbm_read": {"path": "bytes.hbm_read", "unit": "B"}},
    }
    spec.update(extra)
    return spec


def write_spec(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def env():
    e = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", PYTHONPATH=os.path.join(BUILD, "python"))
    e.pop("XPUSIM_DEBUG", None)
    return e


def sweep_cli(*args, via="xpusim", **kw):
    cmd = [os.path.join(BUILD, "xpusim"), "sweep"] if via == "xpusim" else [sys.executable, "-m", "xpusim", "sweep"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env(), timeout=300, **kw)


def test_expansion_ranges_zip_and_constraints():
    spec = load_spec({
        "study": "kernel", "base": {"op": "gemm", "k": 256},
        "axes": [{"key": "m", "range": {"start": 128, "stop": 512, "step": 128}},
                 {"key": "sm.count", "log": {"start": 16, "stop": 128, "num": 4}},
                 {"zip": [{"key": "n", "values": [64, 128]}, {"key": "dtype", "values": ["bf16", "fp8"]}]}],
        "constraints": [{"require": "m * sm_count <= 512 * 64", "reason": "too big"}],
        "metrics": {"t": "latency_s"}})
    assert [a.values for a in spec.axes[:2]] == [[128, 256, 384, 512], [16, 32, 64, 128]]
    assert len(spec.points) == 4 * 4 * 2
    dropped = [p for p in spec.points if p.dropped]
    assert dropped and all(p.values["m"] * p.values["sm.count"] > 512 * 64 for p in dropped)
    assert all(p.dropped == "too big" for p in dropped)
    p = spec.points[0]
    assert p.args == {"op": "gemm", "k": 256, "m": 128, "n": 64, "dtype": "bf16"}
    assert p.sets == ["sm.count=16"]
    assert {(q.args["n"], q.args["dtype"]) for q in spec.points} == {(64, "bf16"), (128, "fp8")}
    lin = load_spec(dict(gemm_spec(), axes=[{"key": "hbm.efficiency", "range": {"start": 0.5, "stop": 0.9, "num": 3}}]))
    assert lin.axes[0].values == [0.5, 0.7, 0.9]


def test_preset_keys_are_checked_on_the_chips_the_points_use():
    spec = load_spec({"study": "kernel", "base": {"op": "gemm", "m": 64, "n": 64, "k": 64},
                      "axes": [{"key": "chip", "values": ["tpu-v6e", "tpu-v5e"]},
                               {"key": "mxu.rows", "values": [128, 256]}], "metrics": {"t": "latency_s"}})
    assert len(spec.points) == 4  # mxu.rows is a TPU key: the default chip (an H100) is not asked
    with pytest.raises(xpusim.SpecError, match="nor a key of preset h100-sxm"):
        load_spec({"study": "kernel", "base": {"op": "gemm", "m": 64, "n": 64, "k": 64},
                   "axes": [{"key": "chip", "values": ["tpu-v6e", "h100-sxm"]},
                            {"key": "mxu.rows", "values": [128, 256]}], "metrics": {"t": "latency_s"}})


def test_a_preset_axis_value_the_preset_does_not_take_is_refused_with_its_line(tmp_path):
    # `values: [8TB, 4TB/s]` on hbm.bandwidth ran the 4TB/s point, wrote the 8TB one as an error row of results.csv
    # and exited 0 (QA session 43): with one preset axis, a value that does not load fails every point that has it.
    p = write_spec(tmp_path, "study: run\nbase: {model: llama-3.1-8b, chip: tpu-v6e}\naxes:\n  - key: hbm.bandwidth\n"
                             "    values: [8TB, 4TB/s]\nmetrics: {tpot: tpot_s}\n")
    out = tmp_path / "out"
    r = sweep_cli(p, "--out", out, "--jobs", "1", "--no-report")
    assert r.returncode != 0 and not out.exists(), (r.returncode, r.stdout)
    err = r.stderr.strip()
    assert "\n" not in err and str(p) + ":5: axes.0.values.0: set hbm.bandwidth: '8 TB': unknown unit 'TB'" in err, err
    assert err.endswith("(on tpu-v6e)"), err
    # With a second preset axis a value may need the other's (cores_used above the preset's cores, cores raised by
    # the other axis): each point says it, as before.
    spec = load_spec({"study": "kernel", "base": {"op": "gemm", "m": 64, "n": 64, "k": 64, "chip": "trn2"},
                      "axes": [{"key": "cores", "values": [16]}, {"key": "cores_used", "values": [12]}],
                      "metrics": {"t": "latency_s"}})
    assert len(spec.points) == 1


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(ROOT, "scripts", "studies"))))
def test_example_studies_load(name):
    spec = load_spec(os.path.join(ROOT, "scripts", "studies", name))
    assert 6 <= len([p for p in spec.points if not p.dropped]) <= 40 and spec.metrics and spec.report


def test_one_at_a_time_design():
    spec = load_spec(dict(gemm_spec(), design="one-at-a-time", axes=[
        {"key": "m", "values": [64, 128, 256], "base": 128}, {"key": "n", "values": [64, 128, 256]}]))
    assert [(p.values["m"], p.values["n"]) for p in spec.points] == [(128, 128), (64, 128), (256, 128), (128, 64),
                                                                       (128, 256)]


def test_sweep_matches_single_runs_and_writes_table(tmp_path):
    out = tmp_path / "out"
    df = xpusim.sweep(gemm_spec(), out=str(out), jobs=2)
    assert list(df.columns) == ["point", "status", "hbm.bandwidth", "m", "latency", "tflops", "hbm_read", "error",
                                "wall_s"]
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    for r in df.itertuples():
        one = xpusim.kernel("gemm", m=r.m, n=256, k=256, dtype="bf16", set={"hbm.bandwidth": "%s TB/s" % r[3]})
        assert (r.latency, r.tflops, r.hbm_read) == (one["latency_s"], one["tflops"], one["bytes"]["hbm_read"])
    assert df.attrs["units"]["hbm.bandwidth"] == "TB/s" and df.attrs["units"]["latency"] == "s"
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header.startswith("point,status,hbm.bandwidth [TB/s],m,latency [s],tflops [TFLOP/s],hbm_read [B]")
    with h5py.File(out / "results.h5") as f:
        assert f["table/latency"].attrs["unit"] == "s"
        assert list(f["table/latency"][:]) == list(df["latency"])
        assert json.loads(f.attrs["axes"]) == ["hbm.bandwidth", "m"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["done"] == {"p%05d" % i: "ok" for i in range(4)}
    for i in range(4):  # every point writes its resolved config and its full report
        cfg = (out / "points" / ("p%05d.config.yaml" % i)).read_text()
        assert "bandwidth: %s TB/s" % ("2" if i < 2 else "3.35") in cfg
        rec = json.loads((out / "points" / ("p%05d.json" % i)).read_text())
        assert rec["report"]["op"] == "gemm" and rec["status"] == "ok"
    loaded = xpusim.analysis.load(str(out))
    same(loaded, df)
    again = xpusim.sweep(gemm_spec(), out=str(out))  # everything done: nothing rerun, same table
    same(again, df)


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = gemm_spec(axes=[{"key": "dtype", "values": ["bf16", "fp4", "fp8"]}])  # H100 has no fp4 path
    spec["base"]["m"] = 128
    with pytest.warns(xpusim.SweepFailedWarning):
        df = xpusim.sweep(spec, out=str(tmp_path / "o"), jobs=2)
    assert list(df["status"]) == ["ok", "error", "ok"]
    assert "fp4" in df["error"][1] and df["latency"].isna()[1]
    assert df["error"][0] == "" and df["latency"][2] > 0


def test_a_sustained_axis_takes_booleans_and_refuses_text_by_name(tmp_path):
    # QA: a kernel study's `sustained` went through bool(), so a quoted "false" ran sustained without a word.
    spec = gemm_spec(axes=[{"key": "sustained", "values": [False, True, "false"]}])
    spec["base"]["m"] = 128
    with pytest.warns(xpusim.SweepFailedWarning):
        df = xpusim.sweep(spec, out=str(tmp_path / "o"), jobs=1)
    assert list(df["status"]) == ["ok", "ok", "error"]
    assert "sustained='false': expected True or False" in df["error"][2]
    one = xpusim.kernel("gemm", chip="h100-sxm", n=256, k=256, m=128, dtype="bf16", sustained=True)
    assert df["latency"][1] == one["latency_s"]


def test_dropped_points_keep_their_reason(tmp_path):
    spec = gemm_spec(constraints=[{"require": "m < 200", "reason": "m too large for this budget"}])
    df = xpusim.sweep(spec, out=str(tmp_path / "o"), jobs=1)
    assert list(df["status"]) == ["ok", "dropped", "ok", "dropped"]
    assert set(df[df.status == "dropped"]["error"]) == {"m too large for this budget"}


def test_run_serve_and_compare_studies(tmp_path):
    run = xpusim.sweep({"study": "run", "base": {"model": TINY, "phase": "decode", "input": 64},
                        "axes": [{"key": "batch", "values": [1, 4]}], "metrics": {"tpot": "tpot_s"}}, jobs=2)
    for r in run.itertuples():
        assert r.tpot == xpusim.run(model=TINY, phase="decode", input=64, batch=r.batch)["tpot_s"]
    serve = xpusim.sweep({"study": "serve", "base": {"model": TINY, "input": 64, "output": 8, "max_batch": 2},
                          "axes": [{"key": "hbm.bandwidth", "values": ["2 TB/s", "4 TB/s"]}],
                          "metrics": {"tok_s": "throughput_tok_s"}}, jobs=2)
    assert list(serve["hbm.bandwidth"]) == [2, 4] and serve.attrs["units"]["hbm.bandwidth"] == "TB/s"
    assert serve["tok_s"][0] == xpusim.serve(model=TINY, input=64, output=8, max_batch=2,
                                             set={"hbm.bandwidth": "2 TB/s"})["throughput_tok_s"]
    # The tiny model's steps are shorter than vLLM's per-request host work, which would bind them whatever the
    # HBM: the study runs without it (host_us_per_request=0) so that the swept bandwidth shows.
    cmp = xpusim.sweep({"study": "compare", "base": {"chips": ["h100-sxm", "tpu-v6e"], "model": TINY, "input": 64,
                                                     "output": 8, "max_batch": 2, "host_us_per_request": 0},
                        "axes": [{"key": "tpu-v6e:hbm.bandwidth", "values": ["1 TB/s", "2 TB/s"]}],
                        "metrics": {"tpu_tok_s": "rows[chip=tpu-v6e].throughput_tok_s",
                                    "h100_tok_s": "rows.0.throughput_tok_s"}}, jobs=2)
    assert set(cmp["status"]) == {"ok"} and cmp["tpu_tok_s"][1] > cmp["tpu_tok_s"][0]
    assert cmp["h100_tok_s"][0] == cmp["h100_tok_s"][1]


def test_cli_and_python_m_give_the_same_table(tmp_path):
    spec = write_spec(tmp_path, json.dumps(gemm_spec()))  # JSON is YAML
    for via in ("xpusim", "python"):
        p = sweep_cli(spec, "--out", tmp_path / via, "--no-report", via=via)
        assert p.returncode == 0, p.stderr
        assert "4 ok" in p.stdout and "results.csv" in p.stdout
        assert "sweep: 4/4 points (0 failed)" in p.stderr and "points/s, ETA" in p.stderr  # plain progress lines
    a = (tmp_path / "xpusim" / "results.csv").read_text().splitlines()
    b = (tmp_path / "python" / "results.csv").read_text().splitlines()
    strip = lambda lines: [",".join(r.split(",")[:-1]) for r in lines]  # noqa: E731  (wall_s is last)
    assert strip(a) == strip(b)


def test_a_dying_worker_fails_only_its_point():
    class Dying(xpusim.sweeps.LocalPool):  # workers that die on point p1 (as a crash in the simulator would)
        def _start(self):
            code = ("import json, os, sys\nfor line in sys.stdin:\n    t = json.loads(line)\n"
                    "    if t['id'] == 'p1':\n        os._exit(3)\n"
                    "    print(json.dumps(dict(id=t['id'], ok=True, report={}, config='', error=None, wall_s=0)),"
                    " flush=True)\n")
            return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
    results = {r["id"]: r for r in Dying(2).run([{"id": "p%d" % i} for i in range(5)])}
    assert sorted(results) == ["p0", "p1", "p2", "p3", "p4"]
    assert not results["p1"]["ok"] and "died (exit status 3)" in results["p1"]["error"]
    assert all(results[i]["ok"] for i in ("p0", "p2", "p3", "p4"))


def test_python_m_runs_the_cli():
    p = subprocess.run([sys.executable, "-m", "xpusim", "kernel", "gemm", "--m", "256", "--n", "256", "--k", "256",
                        "--format", "json"], capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["latency_s"] == xpusim.kernel("gemm", m=256, n=256, k=256)["latency_s"]
    p = subprocess.run([sys.executable, "-m", "xpusim", "kernel", "gemm", "--chip", "h101"], capture_output=True,
                       text=True, env=env(), timeout=60)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "unknown chip 'h101'" in p.stderr


def slow_spec():
    return dict(gemm_spec(), axes=[{"key": "m", "values": [512 * (i + 1) for i in range(16)]}],
                base={"op": "gemm", "chip": "h100-sxm", "n": 2048, "k": 2048, "dtype": "bf16"})


def test_kill_9_and_resume_loses_nothing(tmp_path):
    spec = write_spec(tmp_path, json.dumps(slow_spec()))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "xpusim", "sweep", str(spec), "--out", str(out), "--jobs", "1", "--no-report",
           "--quiet"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = out / "manifest.json"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = len(json.loads(manifest.read_text())["done"])
        except (OSError, ValueError):
            done = 0
        if done >= 3:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = len(list((out / "points").glob("p*.json")))
    assert 3 <= killed_at < 16
    assert not (out / "results.csv").exists()
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    full = tmp_path / "full"
    assert sweep_cli(spec, "--out", full, "--no-report", "--quiet", via="python").returncode == 0
    resumed = xpusim.analysis.load(str(out))
    whole = xpusim.analysis.load(str(full))
    assert list(resumed["point"]) == ["p%05d" % i for i in range(16)]  # every point exactly once
    same(resumed, whole)
    assert sorted(os.listdir(out / "points")) == sorted(os.listdir(full / "points"))
    assert not [f for f in os.listdir(out / "points") if ".tmp." in f]
    for name in os.listdir(full / "points"):
        if name.endswith(".json"):
            a = json.loads((out / "points" / name).read_text())
            b = json.loads((full / "points" / name).read_text())
            for r in (a, b):
                r.pop("wall_s")
                r["report"].pop("wall_s")
                r["report"].pop("transactions_per_s")
            assert a == b


def _tree(pid):
    """pid and all its descendants (Linux /proc)."""
    out = [pid]
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        return out
    for k in kids:
        out += _tree(int(k))
    return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_killing_the_cli_takes_the_whole_sweep_with_it(tmp_path):
    spec = write_spec(tmp_path, json.dumps(slow_spec()))
    out = tmp_path / "o"
    proc = subprocess.Popen([os.path.join(BUILD, "xpusim"), "sweep", str(spec), "--out", str(out), "--jobs", "2",
                             "--quiet", "--no-report"], env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    points = out / "points"
    while time.time() < deadline and proc.poll() is None and not (points.exists() and list(points.glob("p*.json"))):
        time.sleep(0.01)
    pids = _tree(proc.pid)
    assert proc.poll() is None and len(pids) >= 3, pids  # CLI -> python3 -m xpusim sweep -> workers
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in pids[1:]):
        time.sleep(0.05)
    assert not [p for p in pids[1:] if _alive(p)], "processes left behind"


BAD = {
    "unknown top key": ("study: kernel\nbase: {op: gemm}\naxis:\n  - {key: m, values: [1]}\n",
                        ":3: axis: unknown key (nearest: axes)"),
    "unknown argument": ("study: kernel\nbase:\n  op: gemm\n  mm: 4\naxes:\n  - {key: m, values: [1]}\n"
                         "metrics: {t: latency_s}\n", ":4: base.mm: unknown argument of `kernel` (nearest: m)"),
    "axis over a key the preset lacks": (
        "study: kernel\nbase: {op: gemm, m: 8, n: 8, k: 8}\naxes:\n  - key: hbm.bandwith\n    values: [1, 2]\n"
        "metrics: {t: latency_s}\n", ":4: axes.0.key: 'hbm.bandwith' is not a study argument of `kernel` nor a key "
                                     "of preset h100-sxm (nearest: hbm.bandwidth)"),
    "empty range": ("study: kernel\nbase: {op: gemm, n: 8, k: 8}\naxes:\n  - key: m\n    range: {start: 8, stop: 4, "
                    "step: 1}\nmetrics: {t: latency_s}\n", ":5: axes.0.range: empty: the axis has no values"),
    "metric the study does not produce": (
        "study: kernel\nbase: {op: gemm, n: 8, k: 8}\naxes:\n  - {key: m, values: [8, 16]}\nmetrics:\n"
        "  t: latency_s\n  ttft: ttft_s\n", ":7: metrics.ttft: 'ttft_s' is not in the kernel report"),
    "malformed yaml": ("study: kernel\nbase: {op: gemm\n", "malformed YAML"),
    # A required key left out is named as missing (it said "expected one of ..., got None" and "expected a mapping").
    "no study": ("base: {op: gemm, m: 8, n: 8, k: 8}\naxes:\n  - {key: m, values: [8]}\nmetrics: {t: latency_s}\n",
                 ": study: missing (required): what each point runs, one of kernel, run"),
    "no metrics": ("study: kernel\nbase: {op: gemm, m: 8, n: 8, k: 8}\naxes:\n  - {key: m, values: [8]}\n",
                   ": metrics: missing (required)"),
    # QA (session 50): values equal in other units ran every point twice (3.35 TB/s and 3350 GB/s: one setting).
    "values equal in other units": (
        "study: kernel\nbase: {op: gemm, m: 64, n: 64, k: 64}\naxes:\n  - key: hbm.bandwidth\n"
        "    values: [2 TB/s, 3.35 TB/s, 3350 GB/s]\nmetrics: {t: latency_s}\n",
        ":5: axes.0.values.2: hbm.bandwidth 3.35 TB/s and 3350 GB/s: the same setting once resolved (3.35 TB/s), so every "
        "point would run twice; give each value once"),
    "numbers equal as written otherwise": (
        "study: kernel\nbase: {op: gemm, n: 64, k: 64}\naxes:\n  - key: m\n    values: [64, 64.0]\nmetrics: {t: latency_s}\n",
        ":5: axes.0.values.1: m 64 and 64.0: the same value, so every point would run twice"),
    "bad constraint": ("study: kernel\nbase: {op: gemm, n: 8, k: 8}\naxes:\n  - {key: m, values: [8]}\n"
                       "constraints:\n  - require: \"mm < 4\"\nmetrics: {t: latency_s}\n",
                       ":6: constraints.0.require: unknown name 'mm'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_one_line_naming_file_line_and_key(tmp_path, case):
    text, expect = BAD[case]
    spec = write_spec(tmp_path, text, "study.yaml")
    out = tmp_path / "out"
    p = sweep_cli(spec, "--out", out)
    assert p.returncode == 2, p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("xpusim: error: %s" % spec), lines[0]
    assert expect in lines[0], lines[0]
    assert not out.exists()  # nothing half-written


def test_a_chip_file_that_does_not_load_is_named(tmp_path):
    chip = write_spec(tmp_path, "inherits: h100-sxm\nhbm:\n  bandwith: 4 TB/s\n", "mine.yaml")
    spec = write_spec(tmp_path, "study: kernel\nbase: {op: gemm, m: 8, n: 8, k: 8}\naxes:\n"
                                "  - {key: chip, values: [h100-sxm, %s]}\nmetrics: {t: latency_s}\n" % chip)
    p = sweep_cli(spec, "--out", tmp_path / "o")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "%s:3: axes:" % spec in p.stderr and "mine.yaml:3: hbm.bandwith: unknown key" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()


def test_other_spec_in_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "o"
    xpusim.sweep(gemm_spec(), out=str(out), jobs=1)
    with pytest.raises(xpusim.SweepError, match="different spec .*; give a new out= to run this one"):
        xpusim.sweep(dict(gemm_spec(), axes=[{"key": "m", "values": [64]}]), out=str(out))


def test_a_collective_study_sweeps_system_preset_keys(tmp_path):
    """Axes over a system preset's keys (here the NVLink rate) through the collective study."""
    spec = {"study": "collective", "base": {"op": "allreduce", "system": "hgx-h100x8", "bytes": "64MiB"},
            "axes": [{"key": "scale_up.link.bandwidth", "values": ["12.5 GB/s", "25 GB/s"]}],
            "metrics": {"busbw": "busbw_GBps", "t": "latency_s"}}
    df = xpusim.sweep(spec, out=str(tmp_path / "out"), jobs=1)
    assert len(df) == 2 and set(df["status"]) == {"ok"}
    for r in df.itertuples():
        one = xpusim.collective(op="allreduce", system="hgx-h100x8", bytes="64MiB",
                                set={"scale_up.link.bandwidth": "%s GB/s" % r[3]})
        assert (r.busbw, r.t) == (one["busbw_GBps"], one["latency_s"])
    slow, fast = sorted(df.itertuples(), key=lambda r: r[3])
    assert fast.t < slow.t  # twice the link rate, a shorter all-reduce
    with pytest.raises(xpusim.SpecError, match="scale_up.link.bandwith"):
        load_spec(dict(spec, axes=[{"key": "scale_up.link.bandwith", "values": ["25 GB/s"]}]))


def test_a_run_study_on_a_system_sweeps_its_fabrics_keys(tmp_path):
    """run/serve studies take the system preset's keys as run --set does (load_run_target): axes over the NVLink rate of
    a TP8 step give what xpusim.run gives, each point's config holds the system with its value, and a system key is
    checked against the study's system (none: one chip, refused)."""
    spec = {"study": "run", "base": {"model": "llama-3.1-8b", "system": "hgx-h100x8", "tp": 8, "batch": 8, "input": 256},
            "axes": [{"key": "scale_up.link.bandwidth", "values": ["225 GB/s", "450 GB/s"]}], "metrics": {"tpot": "tpot_s"}}
    df = xpusim.sweep(spec, out=str(tmp_path / "out"), jobs=1)
    assert list(df["status"]) == ["ok", "ok"] and df["tpot"][0] > df["tpot"][1]
    for r in df.itertuples():
        one = xpusim.run(model="llama-3.1-8b", system="hgx-h100x8", tp=8, batch=8, input=256,
                         set={"scale_up.link.bandwidth": "%s GB/s" % r[3]})
        assert r.tpot == one["tpot_s"]
    config = (tmp_path / "out" / "points" / "p00000.config.yaml").read_text()
    assert "# system: hgx-h100x8" in config and "    bandwidth: 225 GB/s" in config
    with pytest.raises(xpusim.SpecError, match="'scale_up.link.bandwith' is not a key of system hgx-h100x8 "
                                               r"\(nearest: scale_up.link.bandwidth\)"):
        load_spec(dict(spec, axes=[{"key": "scale_up.link.bandwith", "values": ["225 GB/s"]}]))
    with pytest.raises(xpusim.SpecError, match="a field of a system preset .* run on one chip"):
        load_spec(dict(spec, base={"model": "llama-3.1-8b"}))


def test_a_compare_study_sweeps_system_units(tmp_path):
    """compare takes system units (hgx-h100x8:tp2) and their fabric's keys (hgx-h100x8:scale_up.link.bandwidth);
    the sweep's spec check refused them as unknown chips. Now each unit is resolved by compare's own code: the
    points give what xpusim.compare gives, each point's config holds the unit's system with the swept value, and
    a misspelt key of the unit is still refused naming the nearest."""
    base = {"chips": ["h100-sxm", "hgx-h100x8:tp2"], "model": TINY, "input": 64, "output": 8, "concurrency": 2,
            "requests": 4, "tiers": [1]}
    spec = {"study": "compare", "base": base,
            "axes": [{"key": "hgx-h100x8:scale_up.link.bandwidth", "values": ["25 GB/s", "450 GB/s"]}],
            "metrics": {"tok_s": "rows.1.throughput_tok_s"}}
    df = xpusim.sweep(spec, out=str(tmp_path / "out"), jobs=1)
    assert list(df["status"]) == ["ok", "ok"], list(df["error"])
    for r in df.itertuples():
        one = xpusim.compare(set=["hgx-h100x8:scale_up.link.bandwidth=%s GB/s" % r[3]], **base)
        assert r.tok_s == one["rows"][1]["throughput_tok_s"]
    config = (tmp_path / "out" / "points" / "p00000.config.yaml").read_text()
    assert "# chip: hgx-h100x8:tp2" in config and "# system: hgx-h100x8" in config and "bandwidth: 25 GB/s" in config
    with pytest.raises(xpusim.SpecError, match="'hgx-h100x8:scale_up.link.bandwith' is not a study argument of `compare` "
                                               r"nor a key of unit hgx-h100x8:tp2 \(nearest: scale_up.link.bandwidth\)"):
        load_spec(dict(spec, axes=[{"key": "hgx-h100x8:scale_up.link.bandwith", "values": ["25 GB/s"]}]))
    with pytest.raises(xpusim.SpecError, match="unknown chip or system 'hgx-h100x9'"):
        load_spec(dict(spec, base=dict(base, chips=["hgx-h100x9"])))


def test_a_compare_sweep_over_a_study_of_several_models(tmp_path):
    """A named study of several models (each a study of its own) in a compare sweep: a point is one study,
    so the spec names the model (base.model or a `model` axis), else one error line at load; its preset keys
    are checked against the study's units at load (they were left to the points); a model given as a
    config.json path names the study's folder by its file (the path itself was refused as --name)."""
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    study = write_spec(tmp_path, "description: two\nunits: [h100-sxm, tpu-v6e]\nmodels: [%s, %s]\ndtype: fp8\nscenario: chat\n" % (TINY, small),
                       "two.yaml")
    base = {"study": str(study), "input": 64, "output": 8, "max_batch": 4, "jobs": 1}
    axis = {"key": "hbm.bandwidth", "values": [2, 3], "unit": "TB/s"}
    with pytest.raises(xpusim.SpecError, match=r"base.study: .* is a study of 2 models .* give base.model or an axis"):
        load_spec({"study": "compare", "base": base, "axes": [axis], "metrics": {"t": "rows.0.throughput_tok_s"}})
    with pytest.raises(xpusim.SpecError, match=r"'hbm.bandwith' is not a study argument of `compare` nor a key of unit"):
        load_spec({"study": "compare", "base": dict(base, model=TINY), "axes": [dict(axis, key="hbm.bandwith")],
                   "metrics": {"t": "rows.0.throughput_tok_s"}})
    df = xpusim.sweep({"study": "compare", "base": base, "axes": [{"key": "model", "values": [TINY, small]}, axis],
                       "metrics": {"t": "rows.0.throughput_tok_s"}})
    assert list(df["status"]) == ["ok"] * 4 and df["t"].notna().all()
    out = tmp_path / "cmp"
    reports = xpusim.compare(study=str(study), input=64, output=8, max_batch=4, jobs=1, out=out, no_report=True)
    assert [r["model"] for r in reports] == ["tiny-llama", "small-llama-100m"]
    assert sorted(os.listdir(out)) == ["small-llama-100m", "tiny-llama"]


def test_jobs_below_one_are_refused_before_anything_is_written(tmp_path):
    """--jobs 0 ran on every core and --jobs -3 on one, silently; compare refuses both (1 to 1024)."""
    spec = write_spec(tmp_path, "study: kernel\nbase: {op: gemm, n: 8, k: 8}\naxes:\n  - {key: m, values: [8]}\n"
                      "metrics: {t: latency_s}\n")
    for jobs in ("0", "-3"):
        out = tmp_path / ("out" + jobs)
        p = subprocess.run([os.path.join(BUILD, "xpusim"), "sweep", str(spec), "--out", str(out), "--jobs", jobs],
                           capture_output=True, text=True, env=env())
        assert p.returncode == 2 and p.stderr == "xpusim: error: --jobs %s: expected 1 to 1024 worker processes " \
                                                 "(default: all cores)\n" % jobs, p.stderr
        assert not out.exists()
    # From Python the error names the keyword the caller wrote (session 45: it quoted the CLI's --jobs).
    with pytest.raises(xpusim.SweepError, match="^jobs=0: expected 1 to 1024"):
        xpusim.sweep(str(spec), jobs=0)


def test_an_out_that_cannot_be_a_folder_is_one_line_before_any_point_runs(tmp_path):
    """--out naming a file (or a path under one) ran every point and then ended in a Python traceback
    (NotADirectoryError from os.makedirs, exit 1); now one line naming the folder, exit 2, nothing run."""
    spec = write_spec(tmp_path, "study: kernel\nbase: {op: gemm, n: 8, k: 8}\naxes:\n  - {key: m, values: [8]}\n"
                      "metrics: {t: latency_s}\n")
    afile = tmp_path / "afile"
    afile.write_text("")
    for out in (afile, afile / "sub"):
        p = sweep_cli(spec, "--out", out, "--jobs", "1")
        assert p.returncode == 2, p.stderr
        assert p.stderr == "xpusim: error: %s: --out: cannot create the output folder (%s is not a folder)\n" % (
            out, afile), p.stderr
    with pytest.raises(xpusim.SweepError) as e:
        xpusim.sweep(str(spec), out=str(afile / "sub"), jobs=1)
    assert str(e.value) == "out=%r: cannot create the output folder (%s is not a folder)" % (str(afile / "sub"), afile)
    assert afile.read_text() == ""


def test_a_sweep_whose_points_all_fail_exits_non_zero(tmp_path):
    """Every point refused (fp4 on an H100): the sweep wrote its table and exited 0, so a script took the study
    for done; now the table is still written (each point's error in it) and the exit is 1, naming the spec and
    each point with its error."""
    spec = write_spec(tmp_path, "study: kernel\nbase: {op: gemm, n: 64, k: 64, dtype: fp4}\naxes:\n"
                      "  - {key: m, values: [64, 128]}\nmetrics: {t: latency_s}\n")
    out = tmp_path / "o"
    p = sweep_cli(spec, "--out", out, "--jobs", "1", "--no-report", "--quiet")
    assert p.returncode == 1, p.stderr
    lines = p.stderr.splitlines()
    assert lines[0] == "xpusim: error: %s: none of its 2 points ran:" % spec, p.stderr
    assert lines[1].startswith("  point p00000 (m=64): ") and lines[2].startswith("  point p00001 (m=128): "), p.stderr
    assert len(lines) == 3 and "fp4" in lines[1], p.stderr
    df = pd.read_csv(out / "results.csv", comment="#")
    assert list(df["status"]) == ["error", "error"]


def test_a_sweep_with_some_failed_points_exits_non_zero(tmp_path):
    """One point failing among good ones (fp4 on an H100) exited 0 with the error only in results.csv (QA qa48,
    issue 13): now the good points are written (atomically, as always), the exit is 1, and stderr names the
    failed point, its axis values and its error; the CLI, `python3 -m xpusim` and a resumed run agree, and
    xpusim.sweep() warns with the same lines and keeps them in df.attrs["failed"]."""
    mixed = write_spec(tmp_path, "study: kernel\nbase: {op: gemm, n: 64, k: 64, m: 64}\naxes:\n"
                       "  - {key: dtype, values: [bf16, fp4, fp8]}\nmetrics: {t: latency_s}\n", name="mixed.yaml")
    out = tmp_path / "m"
    for via in ("xpusim", "python", "python"):  # the second python run resumes: nothing reruns, same answer
        p = sweep_cli(mixed, "--out", out, "--jobs", "1", "--no-report", "--quiet", via=via)
        assert p.returncode == 1, (via, p.stderr)
        lines = p.stderr.splitlines()
        assert lines[0] == "xpusim: error: %s: 1 of its 3 points failed (the 2 that ran are in %s):" % (
            mixed, out / "results.csv"), p.stderr
        assert len(lines) == 2 and lines[1].startswith("  point p00001 (dtype=fp4): ") and "fp4" in lines[1][30:], p.stderr
        df = pd.read_csv(out / "results.csv", comment="#")
        assert list(df["status"]) == ["ok", "error", "ok"] and df["t [s]"][0] > 0
        assert not [f for f in os.listdir(out) if ".tmp." in f]
    with pytest.warns(xpusim.SweepFailedWarning, match=r"1 of its 3 points failed[^\n]*\n  point p00001 \(dtype=fp4\)"):
        df = xpusim.sweep(str(mixed), out=str(out), jobs=1)
    assert list(df.attrs["failed"]) == ["p00001"] and "fp4" in df.attrs["failed"]["p00001"]


def test_the_example_of_sweep_help_runs_as_printed(tmp_path):
    # `xpusim sweep --help` showed no example to start from; it now shows one that runs from the source folder
    # (its --out is the one word replaced here, so that the test writes under its own folder).
    p = sweep_cli("--help")
    assert p.returncode == 0, p.stderr
    lines = [l.split() for l in p.stdout.splitlines() if l.strip().startswith("xpusim sweep ")]
    assert len(lines) == 1, p.stdout
    words = lines[0][2:]
    words[words.index("--out") + 1] = str(tmp_path / "out")
    p = sweep_cli(*words, cwd=ROOT)
    assert p.returncode == 0 and "12 points (12 ok)" in p.stdout, p.stdout + p.stderr
    assert (tmp_path / "out" / "results.csv").is_file() and (tmp_path / "out" / "report.html").is_file()
