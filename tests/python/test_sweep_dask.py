"""Sweeps on a real Dask cluster: a dask-scheduler and two single-threaded dask-worker processes on
127.0.0.1 (random free ports), started here and always torn down. The same points give the same
results bit for bit on local workers and on Dask (wall-clock fields excluded); an unreachable
scheduler is one error line and nothing written."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import xpusim

from conftest import BUILD
from test_sweep import TINY, env, gemm_spec, same, sweep_cli, write_spec

distributed = pytest.importorskip("distributed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The scheduler address of a local cluster with two `--nthreads 1` workers."""
    log = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = "tcp://127.0.0.1:%d" % port
    procs = []
    e = dict(env(), DASK_DISTRIBUTED__WORKER__DAEMON="False")
    try:
        def start(cmd, name):
            procs.append(subprocess.Popen(cmd, env=e, cwd=str(log), stdout=open(log / (name + ".log"), "w"),
                                          stderr=subprocess.STDOUT, start_new_session=True))
        start(["dask-scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler")
        for i in range(2):
            start(["dask-worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                   "--no-dashboard", "--name", "w%d" % i, "--local-directory", str(log / ("w%d" % i))], "w%d" % i)
        with distributed.Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=90)
            assert all(w["nthreads"] == 1 for w in c.scheduler_info()["workers"].values())
        yield address
    finally:
        _stop(procs)


def strip_wall(report):
    if isinstance(report, dict):
        return {k: strip_wall(v) for k, v in report.items() if k not in xpusim.sweeps.WALL_FIELDS}
    if isinstance(report, list):
        return [strip_wall(v) for v in report]
    return report


def points(out):
    recs = {}
    for name in sorted(os.listdir(out / "points")):
        if name.endswith(".json"):
            r = json.loads((out / "points" / name).read_text())
            r.pop("wall_s")
            recs[name] = strip_wall(r)
        else:
            recs[name] = (out / "points" / name).read_text()
    return recs


def test_local_and_dask_identical(cluster, tmp_path):
    spec = dict(gemm_spec(), axes=[{"key": "hbm.bandwidth", "values": [2, 3.35, 4.8], "unit": "TB/s"},
                                   {"key": "m", "values": [128, 256]},
                                   {"key": "dtype", "values": ["bf16", "fp4"]}])  # fp4 fails on H100: same error
    with pytest.warns(xpusim.SweepFailedWarning, match="6 of its 12 points failed"):
        local = xpusim.sweep(spec, out=str(tmp_path / "local"), jobs=2)
    with distributed.Client(cluster, timeout=30) as client, \
            pytest.warns(xpusim.SweepFailedWarning, match="6 of its 12 points failed"):
        dask = xpusim.sweep(spec, client=client, out=str(tmp_path / "dask"))
        ran_on = client.run(lambda: os.getpid())
    assert len(ran_on) == 2
    same(local, dask)
    assert (local["status"] == "error").sum() == 6 and local.attrs["failed"] == dask.attrs["failed"]
    assert points(tmp_path / "local") == points(tmp_path / "dask")
    a = (tmp_path / "local" / "results.csv").read_text().splitlines()
    b = (tmp_path / "dask" / "results.csv").read_text().splitlines()
    assert [r.rsplit(",", 1)[0] for r in a] == [r.rsplit(",", 1)[0] for r in b]


def test_dask_cli_with_a_model_run(cluster, tmp_path):
    spec = write_spec(tmp_path, json.dumps({
        "study": "run", "base": {"model": TINY, "phase": "decode", "input": 64},
        "axes": [{"key": "batch", "values": [1, 2, 4]}], "metrics": {"tpot": "tpot_s"}}))
    p = sweep_cli(spec, "--out", tmp_path / "d", "--dask", cluster, "--no-report")
    assert p.returncode == 0, p.stderr
    q = sweep_cli(spec, "--out", tmp_path / "l", "--no-report")
    assert q.returncode == 0, q.stderr
    assert points(tmp_path / "d") == points(tmp_path / "l")


def test_unreachable_scheduler(tmp_path):
    spec = write_spec(tmp_path, json.dumps(gemm_spec()))
    out = tmp_path / "o"
    t0 = time.time()
    p = sweep_cli(spec, "--out", out, "--dask", "tcp://127.0.0.1:%d" % free_port(), "--dask-timeout", "2")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0] and str(spec) in lines[0], p.stderr
    assert not out.exists() and time.time() - t0 < 60
