"""The tutorial runs end to end (as a student would run it) and the notebook matches the script."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def test_tutorial_runs(tmp_path):
    build = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
    env = dict(os.environ, MPLBACKEND="Agg", SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1",
               PYTHONPATH=os.path.join(build, "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "tutorial.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "stepped run" in p.stdout and "memory" in p.stdout
    assert (tmp_path / "roofline.png").stat().st_size > 1000


def test_notebook_is_the_script():
    import tutorial_notebook
    src = open(os.path.join(ROOT, "scripts", "tutorial.py")).read()
    nb = json.load(open(os.path.join(ROOT, "scripts", "tutorial.ipynb")))
    assert nb == json.loads(json.dumps(tutorial_notebook.notebook(src))), \
        "scripts/tutorial.ipynb is stale: run scripts/tutorial_notebook.py"
