import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")  # scripts/test-sanitized preloads the ASan runtime


@pytest.fixture
def cli():
    def run(*args, check=True):
        env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
        p = subprocess.run([os.path.join(BUILD, "xpusim"), *args], capture_output=True, text=True, env=env)
        if check and p.returncode != 0:
            raise AssertionError("xpusim %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p
    return run


@pytest.fixture
def peak_rss(tmp_path):
    """Runs xpusim with the arguments and returns its own peak RSS in MiB (VmHWM, which it writes to
    XPUSIM_RUN_STATS at exit: wait4's ru_maxrss would also count this pytest process's pages, which
    the fork carries into the child until its exec). Under scripts/test-sanitized every test that takes it
    is skipped: AddressSanitizer's quarantine keeps freed memory resident, so RSS there measures how much
    was allocated over the run, not what was held; the normal build checks these bounds."""
    if SANITIZED:
        pytest.skip("under AddressSanitizer RSS includes its quarantine of freed memory; the normal build checks this")

    def run(*args):
        stats = tmp_path / "run_stats.json"
        env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", XPUSIM_RUN_STATS=str(stats))
        p = subprocess.run([os.path.join(BUILD, "xpusim"), *args], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env)
        assert p.returncode == 0, p.stderr
        with open(stats) as f:
            kib = json.load(f)["peak_rss_kib"]
        assert kib > 0, "no VmHWM in /proc/self/status"
        return kib / 1024.0
    return run


@pytest.fixture
def tiny_model():
    return os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
