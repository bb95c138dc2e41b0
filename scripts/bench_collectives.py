#!/usr/bin/env python3
"""Collective simulation speed benchmark (not a test; speed is never asserted).

Runs `build/xpusim kernel allreduce --bytes 256MiB` as child processes on gb200-nvl72 (72 GPUs on one
NVLink switch domain) and on tpu-v6e-256 (a 16x16 torus), as issue 12 asks, and prints per case:
the algorithm the library model chose, the simulated time, the program's operations, the link
transfers (pieces: one per link a piece of a message crosses), wall and CPU seconds of the child
(user + system, from its own rusage), transfers per wall second and per CPU second, and the child's
peak RSS. CPU time, not wall time, is the figure to compare on a loaded machine; the load average is
printed with the figures. Then one decode step of Llama-3.1-70B at TP8 on hgx-h100x8 (batch 64, 2k
context, fp8) through the system runtime (`xpusim run --system hgx-h100x8 --tp 8`): wall and CPU
seconds, the kernels' transactions, the fabric's link transfers and peak RSS (issue 12's target: under
2 s).

Usage: /usr/bin/python3 scripts/bench_collectives.py [--exe build/xpusim] [--bytes 256MiB]
       [--system gb200-nvl72 --system tpu-v6e-256] [--repeat 1] [--markdown] [--json out.json]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SYSTEMS = ["gb200-nvl72", "tpu-v6e-256"]


def measure(exe, system, size):
    """One all-reduce on `system`: the report's figures plus the child's wall, CPU and peak RSS."""
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    cmd = [exe, "kernel", "allreduce", "--system", system, "--bytes", size, "--format", "json"]
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Read both pipes to the end before reaping, so that the rusage is the child's own.
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code
    wall = time.time() - t0
    if code != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), code, err.strip()[-500:]))
    j = json.loads(out)
    cpu = ru.ru_utime + ru.ru_stime
    transfers = int(j["link_transfers"])
    return {"system": system, "bytes": int(j["bytes"]), "ranks": int(j["ranks"]),
            "algorithm": j["algorithm"] + "/" + j["protocol"], "simulated_s": j["latency_s"],
            "busbw_GBps": j["busbw_GBps"], "operations": int(j["operations"]), "transfers": transfers,
            "wall_s": wall, "cpu_s": cpu, "transfers_per_wall_s": transfers / wall if wall > 0 else 0.0,
            "transfers_per_cpu_s": transfers / cpu if cpu > 0 else 0.0, "peak_rss_mib": ru.ru_maxrss / 1024.0}


HEAD = ("system", "ranks", "algorithm", "sim time", "operations", "transfers", "wall s", "cpu s",
        "transf/wall-s", "transf/cpu-s", "peak RSS MiB")


def cells(r):
    return (r["system"], str(r["ranks"]), r["algorithm"], "%.3f ms" % (r["simulated_s"] * 1e3), str(r["operations"]),
            str(r["transfers"]), "%.2f" % r["wall_s"], "%.2f" % r["cpu_s"], "%.0f" % r["transfers_per_wall_s"],
            "%.0f" % r["transfers_per_cpu_s"], "%.0f" % r["peak_rss_mib"])


def print_table(rows, markdown):
    if markdown:
        print("| " + " | ".join(HEAD) + " |")
        print("|" + "---|" * len(HEAD))
        for r in rows:
            print("| " + " | ".join(cells(r)) + " |")
        return
    widths = [max(len(h), *(len(cells(r)[i]) for r in rows)) for i, h in enumerate(HEAD)]
    print("  ".join(h.rjust(w) for h, w in zip(HEAD, widths)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(cells(r), widths)))


def measure_step(exe):
    """One TP8 decode step of Llama-3.1-70B on hgx-h100x8 (a fresh process: no kernel is cached)."""
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    cmd = [exe, "run", "--system", "hgx-h100x8", "--model", "llama-3.1-70b", "--tp", "8", "--batch", "64",
           "--input", "2048", "--dtype", "fp8", "--format", "json"]
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), err.strip()[-500:]))
    j = json.loads(out)
    cpu = ru.ru_utime + ru.ru_stime
    txn = int(j["transactions"]) + sum(int(s.get("link_transfers", 0)) for s in j["steps"])
    return {"case": "llama-3.1-70b decode step, tp8 on hgx-h100x8", "simulated_s": j["tpot_s"], "wall_s": wall,
            "cpu_s": cpu, "transactions": txn, "per_cpu_s": txn / cpu if cpu > 0 else 0.0,
            "peak_rss_mib": ru.ru_maxrss / 1024.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exe", default=os.path.join(ROOT, "build", "xpusim"))
    ap.add_argument("--bytes", default="256MiB", help="all-reduce size per rank (nccl-tests convention)")
    ap.add_argument("--system", action="append", help="system preset (repeatable); default: %s" % DEFAULT_SYSTEMS)
    ap.add_argument("--repeat", type=int, default=1, help="runs per system; the fastest CPU time is kept")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args()
    if not os.path.exists(a.exe):
        sys.exit("bench_collectives: %s not found (build first, or pass --exe)" % a.exe)
    if a.repeat < 1:
        sys.exit("bench_collectives: --repeat %d: expected at least 1" % a.repeat)
    rows = []
    for system in a.system or DEFAULT_SYSTEMS:
        runs = [measure(a.exe, system, a.bytes) for _ in range(a.repeat)]
        rows.append(min(runs, key=lambda r: r["cpu_s"]))
    print("all-reduce %s per rank; %s; load average %.2f %.2f %.2f" %
          ((a.bytes, datetime.datetime.now().isoformat(timespec="seconds")) + os.getloadavg()))
    print_table(rows, a.markdown)
    step = measure_step(a.exe)
    print("%s: simulated %.3f ms; wall %.2f s, CPU %.2f s, %d transactions + link transfers (%.0f per CPU-second), "
          "peak RSS %.0f MiB" % (step["case"], step["simulated_s"] * 1e3, step["wall_s"], step["cpu_s"],
                                 step["transactions"], step["per_cpu_s"], step["peak_rss_mib"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"bytes": a.bytes, "rows": rows, "tp8_decode_step": step}, f, indent=2)


if __name__ == "__main__":
    main()
