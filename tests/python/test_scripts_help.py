"""Every script of scripts/ answers -h/--help with its usage and exit status 0, and does nothing else: no
install, no build, no file written (setup used to install and build, tutorial_notebook.py rewrote the
notebook, golden_collectives.py took --help for the binary's path and check_layers.py for the tree)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")


@pytest.mark.parametrize("script,needle", [
    ("setup", "scripts/setup --no-build"),
    ("test", "-L slow"),
    ("fuzz", "SECONDS_PER_TARGET"),
    ("golden_collectives.py", "usage: golden_collectives.py"),
    ("check_layers.py", "usage: check_layers.py"),
    ("tutorial_notebook.py", "usage: tutorial_notebook.py"),
    ("tutorial.py", "usage: tutorial.py"),
    ("bench_speed.py", "usage: bench_speed.py"),
    ("bench_collectives.py", "usage: bench_collectives.py"),
    ("bench_sweep.py", "usage: bench_sweep.py"),
    ("compare_report.py", "usage: compare_report.py"),
])
def test_scripts_answer_help_and_do_nothing_else(script, needle):
    path = os.path.join(SCRIPTS, script)
    cmd = [sys.executable, path] if script.endswith(".py") else ["bash", path]
    watched = [os.path.join(SCRIPTS, "tutorial.ipynb"), os.path.join(ROOT, "tests", "golden", "systems", "collectives.json")]
    before = [os.stat(f).st_mtime_ns for f in watched]
    env = dict(os.environ, PYTHONPATH="")  # tutorial.py's help must not need the module
    p = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert needle in p.stdout, p.stdout
    assert "ninja" not in p.stdout + p.stderr and "apt-get" not in p.stdout + p.stderr
    assert [os.stat(f).st_mtime_ns for f in watched] == before


def test_module_report_answers_help():
    # `python3 -m xpusim report --help` printed its usage on stderr and exited 2, as for a missing folder.
    build = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    p = subprocess.run([sys.executable, "-m", "xpusim", "report", "--help"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 0 and "usage: python3 -m xpusim report DIR" in p.stdout and not p.stderr, p
    p = subprocess.run([sys.executable, "-m", "xpusim", "report"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 2 and "usage:" in p.stderr, p
