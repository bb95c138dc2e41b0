#!/usr/bin/env python3
"""Simulation speed benchmark (not a test): GEMMs from 1024^3 to 16384^3 on the H100 model.

Prints transactions, simulated time, wall time, transactions per second and peak memory (RSS of the
child process), one row per size. Usage: /usr/bin/python3 scripts/bench_gemm.py [--max 16384]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max", type=int, default=16384)
    ap.add_argument("--chip", default="h100-sxm")
    args = ap.parse_args()
    exe = os.path.join(ROOT, "build", "xpusim")
    print("%8s %12s %12s %10s %12s %12s" % ("size", "transactions", "simulated", "wall s", "txn/s", "peak MiB"))
    size = 1024
    while size <= args.max:
        t0 = time.time()
        p = subprocess.Popen([exe, "kernel", "gemm", "--chip", args.chip, "--m", str(size), "--n", str(size),
                              "--k", str(size), "--format", "json"], stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate()
        wall = time.time() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        j = json.loads(out)
        print("%8d %12d %10.1f us %10.2f %12.3g %12.0f" % (size, j["transactions"], j["latency_s"] * 1e6, wall,
                                                         j["transactions"] / wall, rss))
        sys.stdout.flush()
        size *= 2


if __name__ == "__main__":
    main()
