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
import pytest

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


def test_ctrl_c_while_a_trace_is_written_leaves_all_result_files_or_none(tmp_path):
    """Ctrl-C or SIGTERM prints "interrupted: no results written": the folder then holds no result file, or (the
    signal came after the last rename) all of them. The signal is sent the moment a first result file shows; a 4096^3
    GEMM's trace.json takes about half a second to write after stats.json. Before 2026-12-07 config.resolved.yaml,
    stats.json and trace.h5 stayed without trace.json."""
    import shutil
    out = tmp_path / "out"
    names = {"config.resolved.yaml", "stats.json", "trace.h5", "trace.json"}
    for sig in (signal.SIGINT, signal.SIGTERM):
        shutil.rmtree(out, ignore_errors=True)
        p = subprocess.Popen([os.path.join(BUILD, "xpusim"), "kernel", "gemm", "--m", "4096", "--n", "4096", "--k", "4096",
                              "--trace", "--trace-format", "both", "--out", str(out)], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while p.poll() is None and not (out.is_dir() and any(".tmp." not in f for f in os.listdir(out))):
            time.sleep(0.002)
        p.send_signal(sig)
        p.wait()
        files = set(os.listdir(out)) if out.is_dir() else set()
        left = {f for f in files if ".tmp." not in f}
        assert left in (set(), names), (sig, p.returncode, sorted(files))
        if p.returncode != 0:
            assert files == left, (sig, sorted(files))  # the handler removed its temporaries
        check_folder(str(out))


def test_ctrl_c_while_compare_draws_its_report_says_the_study_is_written(tmp_path):
    """compare writes the study's files, prints its table and "results: DIR", then draws report.html (seconds of
    matplotlib). Ctrl-C then keeps those files, complete; the line said "no results written" (QA, session 48)."""
    out = tmp_path / "out"
    p = subprocess.Popen([os.path.join(BUILD, "xpusim"), "compare", "--chips", "h100-sxm", "--model", TINY, "--input", "64",
                          "--output", "16", "--concurrency", "1", "--jobs", "1", "--out", str(out)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while p.poll() is None and not (out / "tiers.csv").exists():
        time.sleep(0.002)
    time.sleep(0.05)  # the report's script is starting
    p.send_signal(signal.SIGINT)
    _, err = p.communicate()
    if p.returncode == 0:
        pytest.skip("the report was drawn before the signal")
    assert "no results written" not in err and "study's files in %s are complete" % out in err, err
    for f in ("summary.json", "summary.csv", "frontier.csv", "tiers.csv"):
        assert (out / f).exists(), f
    check_folder(str(out))


@pytest.mark.parametrize("argv,names", [
    (["run", "--chip", "h100-sxm", "--devices", "2", "--tp", "2", "--model", TINY, "--input", "64", "--output", "4", "--trace-format", "both"],
     {"system.resolved.yaml", "trace.json"}),
    (["run", "--chip", "h100-sxm", "--model", TINY, "--input", "64", "--output", "4"], set()),  # trace.h5 streamed
    (["serve", "--chip", "h100-sxm", "--model", TINY, "--input", "64", "--output", "8", "--concurrency", "2", "--requests", "4",
      "--trace-format", "both"], {"trace.json"}),
    (["kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB"], set()),
], ids=["run-system-both", "run-chip-hdf5", "serve-both", "kernel-allreduce-hdf5"])
def test_a_folder_in_the_way_of_stats_json_leaves_no_result_file_of_a_traced_run(tmp_path, argv, names):
    """run, serve and kernel <collective> stage every result file (config.resolved.yaml, system.resolved.yaml,
    stats.json, the --trace files) and rename the set into place once all are written, as kernel <op> does. A folder
    named stats.json in --out fails the command with one line and leaves none of them; before 2026-12-07 the trace
    files and config.resolved.yaml were already in place. A normal run still writes every file."""
    names = names | {"config.resolved.yaml", "stats.json", "trace.h5"}
    whole = tmp_path / "whole"
    p = subprocess.run([os.path.join(BUILD, "xpusim")] + argv + ["--trace", "--out", str(whole)], env=ENV, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    assert set(os.listdir(whole)) == names
    blocked = tmp_path / "blocked"
    (blocked / "stats.json").mkdir(parents=True)
    p = subprocess.run([os.path.join(BUILD, "xpusim")] + argv + ["--trace", "--out", str(blocked)], env=ENV, capture_output=True,
                       text=True)
    assert p.returncode != 0
    assert "stats.json: cannot write (a folder of that name is in the way)" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert os.listdir(blocked) == ["stats.json"], sorted(os.listdir(blocked))  # no result file, no temporary
    assert os.listdir(blocked / "stats.json") == []


def test_the_python_run_with_a_folder_in_the_way_of_stats_json_leaves_no_result_file(tmp_path):
    """xpusim.run(out=, trace=True) commits its files as `xpusim run` does (one set, sim/io/output.h's StagedFiles)."""
    import xpusim
    (tmp_path / "stats.json").mkdir()
    with pytest.raises(xpusim.InputError, match="a folder of that name is in the way"):
        xpusim.run(model=TINY, chip="h100-sxm", devices=2, tp=2, input=64, output=4, out=tmp_path, trace=True, trace_format="both")
    assert os.listdir(tmp_path) == ["stats.json"], sorted(os.listdir(tmp_path))
