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
def tiny_model():
    return os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
