#!/usr/bin/env python3
"""Regenerates tests/golden/systems/collectives.json: one reference collective per system preset plus a
few per collective kind, from `xpusim kernel <collective> --system S --bytes B --format json`.

Run it deliberately when the systems model changes (and say why in the commit), never to make a
failing golden test pass unexamined. Usage: scripts/golden_collectives.py [build/xpusim]
"""
import argparse
import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
_parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
_parser.add_argument("xpusim", nargs="?", default=str(ROOT / "build" / "xpusim"), help="the binary (default: build/xpusim)")
XPUSIM = _parser.parse_args().xpusim


def run(system, collective, size, nodes=0):
    args = [XPUSIM, "kernel", collective, "--system", system, "--bytes", size, "--format", "json"]
    if nodes:
        args += ["--nodes", str(nodes)]
    j = json.loads(subprocess.check_output(args, text=True))
    return {"system": system, "collective": collective, "bytes": size, "nodes": nodes,
            "algorithm": j["algorithm"], "protocol": j["protocol"], "latency_s": j["latency_s"],
            "busbw_GBps": round(j["busbw_GBps"], 3)}


def main():
    systems = [l.split()[0] for l in subprocess.check_output([XPUSIM, "list", "systems"], text=True).splitlines()[1:]]
    # tpu-v6e-256 at 4 MiB keeps the suite fast (256 chips).
    cases = [run(s, "allreduce", "4MiB" if s == "tpu-v6e-256" else "64MiB") for s in systems]
    for coll, size in [("allgather", "64MiB"), ("reducescatter", "64MiB"), ("alltoall", "16MiB"),
                       ("broadcast", "16MiB"), ("sendrecv", "16MiB"), ("allreduce", "4KiB")]:
        cases.append(run("hgx-h100x8", coll, size))
    # jax.lax.ppermute's neighbour shift on the ICI slices the marin-*-pp-* validation rows run on.
    cases += [run("tpu-v5p-8", "sendrecv", "64MiB"), run("tpu-v6e-8", "sendrecv", "64MiB")]
    cases += [run("tpu-v6e-8", "allgather", "16MiB"), run("hgx-h100x8", "allreduce", "256MiB", nodes=4),
              run("p5-h100x8", "allreduce", "1MiB"), run("maia200-quads", "alltoall", "16MiB"),
              run("trn1-32xl-cores", "allreduce", "64MiB", nodes=2)]
    out = {"note": "Reference collective runs per system preset; regenerate with scripts/golden_collectives.py "
                   "deliberately when the model changes, never to make a failing test pass.",
           "tolerance": 0.01, "cases": cases}
    path = ROOT / "tests" / "golden" / "systems" / "collectives.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
