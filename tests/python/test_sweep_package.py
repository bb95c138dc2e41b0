"""A chip of one's own and the package: user preset files (`--chip path.yaml` inheriting a shipped preset
by name; errors name the user's file, line and key), presets found beside the installed package,
`pip install --no-build-isolation`, `python3 -m xpusim`, help(xpusim) and the type stubs."""
import ast
import json
import os
import pydoc
import shutil
import subprocess
import sys

import pytest

import xpusim

from conftest import BUILD, ROOT
from test_sweep import env, sweep_cli, write_spec

MY_CHIP = """# my own H100 variant: faster HBM, more SMs
inherits: h100-sxm
description: "H100 with 4.8 TB/s HBM and 144 SMs"
sm:
  count: 144
hbm:
  bandwidth: 4.8 TB/s
"""


def test_user_chip_file(tmp_path, cli):
    chip = write_spec(tmp_path, MY_CHIP, "my_chip.yaml")
    j = json.loads(cli("kernel", "gemm", "--chip", str(chip), "--m", "256", "--n", "256", "--k", "256",
                       "--format", "json").stdout)
    assert j["chip"] == "my_chip"
    cfg = xpusim.chip_config(str(chip))
    assert "bandwidth: 4.8 TB/s" in cfg and "count: 144" in cfg
    ref = xpusim.kernel("gemm", m=256, n=256, k=256, set={"hbm.bandwidth": "4.8 TB/s", "sm.count": 144})
    assert xpusim.kernel("gemm", chip=str(chip), m=256, n=256, k=256)["latency_s"] == ref["latency_s"]
    # a sweep over the user's chip file and a shipped preset
    spec = write_spec(tmp_path, json.dumps({"study": "kernel", "base": {"op": "gemm", "n": 256, "k": 256},
                                            "axes": [{"key": "chip", "values": ["h100-sxm", str(chip)]},
                                                     {"key": "m", "values": [128]}],
                                            "metrics": {"t": "latency_s"}}))
    p = sweep_cli(spec, "--out", tmp_path / "o", "--no-report")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("text, line, key, expect", [
    (MY_CHIP.replace("  bandwidth: 4.8 TB/s", "  bandwith: 4.8 TB/s"), 7, "hbm.bandwith", "nearest valid key"),
    (MY_CHIP.replace("4.8 TB/s", "fast"), 7, "hbm.bandwidth", "fast"),
    (MY_CHIP.replace("inherits: h100-sxm", "inherits: h101"), 2, "inherits", "no shipped preset"),
])
def test_user_chip_errors_name_file_and_key(tmp_path, cli, text, line, key, expect):
    chip = write_spec(tmp_path, text, "my_chip.yaml")
    p = cli("kernel", "gemm", "--chip", str(chip), "--m", "8", "--n", "8", "--k", "8", check=False)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "%s:%d" % (chip, line) in p.stderr and key in p.stderr and expect in p.stderr, p.stderr


def test_presets_from_xpusim_home(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(os.path.join(ROOT, "chips"), home / "chips", ignore=shutil.ignore_patterns("*.cpp", "*.h"))
    shutil.copytree(os.path.join(ROOT, "workloads", "models"), home / "workloads" / "models")
    (home / "chips" / "gpu" / "presets" / "h100_fast.yaml").write_text(MY_CHIP.replace("h100-sxm", "h100_sxm.yaml"))
    p = subprocess.run([os.path.join(BUILD, "xpusim"), "list", "chips"], capture_output=True, text=True,
                       env=dict(env(), XPUSIM_HOME=str(home)))
    assert p.returncode == 0 and "h100-fast" in p.stdout and "h100-sxm" in p.stdout


def test_help_lists_every_public_name_with_a_docstring():
    text = pydoc.render_doc(xpusim, renderer=pydoc.plaintext)
    stub = ast.parse(open(os.path.join(BUILD, "python", "xpusim", "__init__.pyi")).read())
    stubbed = set()
    for node in stub.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stubbed.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            stubbed.update(a.asname or a.name for a in node.names)
    for name in xpusim.__all__:
        obj = getattr(xpusim, name)
        assert (obj.__doc__ or "").strip(), name
        assert name in text, name
        assert name in stubbed, name
    for mod in (xpusim.sweeps, xpusim.sweep_spec, xpusim.analysis):  # every public name of the new modules
        stub = ast.parse(open(mod.__file__[:-3] + ".pyi").read())
        names = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            assert (obj.__doc__ or "").strip() or name == "main", (mod.__name__, name)
            assert name in names, (mod.__name__, name)


def test_pip_install_offline(tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no pip for %s" % sys.executable)
    target = tmp_path / "site"
    src = tmp_path / "src"  # a copy of the tree, so that pip leaves the checkout alone
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns("build", "build-*", ".git", "results", "*.egg-info",
                                                               "__pycache__"))
    e = dict(env(), XPUSIM_CMAKE_BUILD_DIR=BUILD, PIP_NO_INDEX="1")
    e.pop("PYTHONPATH")
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--target", str(target), str(src)], capture_output=True, text=True, env=e, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    pkg = target / "xpusim"
    assert (pkg / "__init__.pyi").exists() and (pkg / "sweeps.pyi").exists() and (pkg / "py.typed").exists()
    assert (pkg / "data" / "chips" / "gpu" / "presets" / "h100_sxm.yaml").exists()
    (pkg / "data" / "chips" / "gpu" / "presets" / "h100_pkg.yaml").write_text(MY_CHIP)  # found only in the package
    e = dict(e, PYTHONPATH=str(target))
    code = "import xpusim; print(xpusim.__file__); print(' '.join(xpusim.list_chips()))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(str(pkg)) and "h100-pkg" in p.stdout
    p = subprocess.run([sys.executable, "-m", "xpusim", "kernel", "gemm", "--chip", "h100-pkg", "--m", "256",
                        "--n", "256", "--k", "256", "--format", "json"], capture_output=True, text=True, env=e,
                       cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["chip"] == "h100-pkg"
