"""The driver shared by the CUDA C++ probes (cluster_probe.py, latency_probe.py): --emit writes the source for a
compile check here; on the device machine the source is built with nvcc for sm_90a, run, and its stdout kept
as $OUT/<name>.csv."""
import argparse
import os
import subprocess


def main(doc, src, name):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--emit", help="only write the CUDA source to this path")
    a = ap.parse_args()
    if a.emit:
        open(a.emit, "w").write(src)
        return 0
    work = os.path.join("/tmp", name)
    os.makedirs(work, exist_ok=True)
    cu, exe = os.path.join(work, name + ".cu"), os.path.join(work, name)
    open(cu, "w").write(src)
    subprocess.run(["nvcc", "-O3", "-std=c++17", "-arch=sm_90a", "-o", exe, cu], check=True)
    p = subprocess.run([exe], stdout=subprocess.PIPE, text=True)
    open(os.path.join(os.environ.get("OUT", "."), name + ".csv"), "w").write(p.stdout)
    print(p.stdout)
    return p.returncode
