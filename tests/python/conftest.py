import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))


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
def peak_rss():
    """Runs xpusim with the arguments and returns its peak RSS in MiB (that child, from wait4)."""
    def run(*args):
        env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
        p = subprocess.Popen([os.path.join(BUILD, "xpusim"), *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=env)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, err
        return ru.ru_maxrss / 1024.0
    return run


@pytest.fixture
def tiny_model():
    return os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
