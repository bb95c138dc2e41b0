"""kill -9 at random moments never leaves a corrupt or half-written result: every file in the folder is
either complete (it parses, h5py opens it) or an obviously temporary `*.tmp.<pid>`, and the next run into
that folder removes the temporaries of the dead process. (Sweeps: the kill-and-resume test.)"""
import json
import os
import random
import signal
import subprocess
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
ENV = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")


def check_folder(d):
    if not os.path.isdir(d):
        return
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            if ".tmp." in f:
                assert f.rsplit(".tmp.", 1)[1].isdigit(), p  # temporary, and named so
            elif f.endswith(".json"):
                json.load(open(p))
            elif f.endswith(".h5"):
                with h5py.File(p, "r") as h:
                    assert "transactions" in h
            elif f.endswith((".yaml", ".csv")):
                assert open(p).read().endswith("\n"), p


def kill_loop(tmp_path, args, tries=8):
    rng = random.Random(1234)
    out = tmp_path / "out"
    for _ in range(tries):
        p = subprocess.Popen([os.path.join(BUILD, "xpusim"), *args, "--out", str(out)], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.02, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        check_folder(str(out))
    # A complete run into the same folder clears what the killed ones left.
    subprocess.run([os.path.join(BUILD, "xpusim"), *args, "--out", str(out)], env=ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check_folder(str(out))
    left = [f for _, _, fs in os.walk(out) for f in fs if ".tmp." in f]
    assert not left, left


def test_kill_during_a_traced_kernel(tmp_path):
    kill_loop(tmp_path, ["kernel", "gemm", "--m", "8192", "--n", "4096", "--k", "2048", "--trace"])


def test_kill_during_compare(tmp_path):
    kill_loop(tmp_path, ["compare", "--chips", "h100-sxm,tpu-v6e", "--model", TINY, "--input", "64", "--output", "16",
                         "--max-batch", "8", "--no-report"])
