#!/usr/bin/env python3
"""Sweep throughput (a benchmark, not a test): points per minute of a 200-point kernel sweep and a 50-point
serving sweep, on local worker processes and on a local Dask cluster of two single-threaded workers.

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench_sweep.py [--jobs N] [--skip-dask]

Prints a Markdown table (the README's "Sweep throughput" figures come from it).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
import xpusim  # noqa: E402

TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
KERNEL = {  # 200 points: 8 HBM bandwidths x 5 M x 5 N of a 1024-deep bf16 GEMM
    "study": "kernel", "base": {"op": "gemm", "chip": "h100-sxm", "k": 1024, "dtype": "bf16"},
    "axes": [{"key": "hbm.bandwidth", "range": {"start": 1, "stop": 8, "num": 8}, "unit": "TB/s"},
             {"key": "m", "log": {"start": 64, "stop": 1024, "num": 5}},
             {"key": "n", "log": {"start": 256, "stop": 4096, "num": 5}}],
    "metrics": {"latency": "latency_s", "tflops": "tflops"}}
SERVE = {  # 50 points: 10 HBM bandwidths x 5 output lengths, serving the tiny Llama on the H100
    "study": "serve", "base": {"model": TINY, "input": 256, "max_batch": 64},
    "axes": [{"key": "hbm.bandwidth", "range": {"start": 1, "stop": 5.5, "num": 10}, "unit": "TB/s"},
             {"key": "output", "values": [16, 32, 64, 128, 256]}],
    "metrics": {"tok_s": "throughput_tok_s", "tpot": "tpot_s"}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dask_cluster(workers=2):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python"), SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    log = open(os.devnull, "w")
    procs = [subprocess.Popen(["dask-scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=log, stderr=log, start_new_session=True)]
    for i in range(workers):
        procs.append(subprocess.Popen(["dask-worker", "tcp://127.0.0.1:%d" % port, "--nthreads", "1", "--nworkers",
                                       "1", "--no-dashboard", "--host", "127.0.0.1"], env=env, stdout=log,
                                      stderr=log, start_new_session=True))
    return "tcp://127.0.0.1:%d" % port, procs


def timed(spec, **kw):
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        df = xpusim.sweep(spec, out=os.path.join(d, "o"), **kw)
        wall = time.perf_counter() - t0
    assert (df["status"] == "ok").all(), df[df.status != "ok"]["error"].tolist()[:3]
    return len(df), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--skip-dask", action="store_true")
    a = ap.parse_args()
    rows = []
    for name, spec in (("kernel (gemm, 200 points)", KERNEL), ("serve (tiny Llama, 50 points)", SERVE)):
        n, wall = timed(spec, jobs=a.jobs)
        rows.append((name, "local, %d workers" % a.jobs, n, wall))
    if not a.skip_dask:
        from distributed import Client
        address, procs = dask_cluster()
        try:
            with Client(address, timeout=60) as c:
                c.wait_for_workers(2, timeout=120)
                for name, spec in (("kernel (gemm, 200 points)", KERNEL), ("serve (tiny Llama, 50 points)", SERVE)):
                    n, wall = timed(spec, client=c)
                    rows.append((name, "Dask, 2 workers x 1 thread", n, wall))
        finally:
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                p.wait()
    print("| sweep | executor | points | wall | points/min |\n|---|---|---|---|---|")
    for name, ex, n, wall in rows:
        print("| %s | %s | %d | %.1f s | %.0f |" % (name, ex, n, wall, 60 * n / wall))


if __name__ == "__main__":
    main()
