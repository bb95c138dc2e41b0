"""Interruption, output folders, resource limits and threads (issue 18, robustness beyond single bad values)."""
import fcntl
import json
import os
import signal
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
XPUSIM = os.path.join(BUILD, "xpusim")
ENV = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")


def test_ctrl_c_exits_130_with_one_line_and_no_files(tmp_path):
    out = tmp_path / "run"
    # A run that lasts well past the second below: 16384^3 took 0.75 CPU-seconds with the slot loop (2026-12-05).
    p = subprocess.Popen([XPUSIM, "kernel", "gemm", "--m", "32768", "--n", "32768", "--k", "32768", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xpusim: interrupted"), stderr
    assert not out.exists() or not [f for f in os.listdir(out) if not f.startswith(".")]


def test_stale_temporaries_are_removed_by_the_next_run(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    # A pid that cannot be running (above pid_max) and our own tests' live pid: only the dead one goes.
    stale = out / "stats.json.tmp.999999999"
    stale.write_text("partial")
    live = out / ("stats.json.tmp.%d" % os.getpid())
    live.write_text("in progress elsewhere")
    cli("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--out", str(out))
    assert not stale.exists() and live.exists()
    assert (out / "stats.json").exists()


def test_output_folder_is_locked_against_a_second_process(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    fd = os.open(str(out), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a concurrent xpusim holds while writing
        p = cli("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--out", str(out), check=False)
        assert p.returncode == 2 and "another xpusim process" in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    finally:
        os.close(fd)
    cli("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--out", str(out))
    assert (out / "stats.json").exists()


def test_limits_are_flags_of_every_command_and_raise_the_ceiling(cli):
    p = cli("--max-transactions", "1000", "kernel", "gemm", "--m", "1024", "--n", "1024", "--k", "1024", check=False)
    assert p.returncode == 2 and "the limit is 1000" in p.stderr and "--max-transactions" in p.stderr, p.stderr
    p = cli("kernel", "gemm", "--m", "1024", "--n", "1024", "--k", "1024", "--max-transactions=1e9")
    assert "latency" in p.stdout
    p = cli("--max-memory", "1MiB", "kernel", "gemm", "--m", "2048", "--n", "2048", "--k", "2048", "--trace", "--out",
            "/nonexistent/never", check=False)
    assert p.returncode == 2 and "--max-memory" in p.stderr, p.stderr


def test_python_refuses_oversized_runs_with_valueerror(monkeypatch):
    xpusim = pytest.importorskip("xpusim")
    with pytest.raises(ValueError, match="transactions"):
        xpusim.kernel("gemm", m=16777216, n=32768, k=32768)
    with pytest.raises(ValueError, match="hbm.bandwidth"):
        xpusim.kernel("gemm", m=64, n=64, k=64, set={"hbm.bandwidth": "nan TB/s"})


def test_python_calls_from_two_threads_are_serialized():
    xpusim = pytest.importorskip("xpusim")
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append(xpusim.kernel("gemm", m=512, n=512, k=512)["latency_s"])
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 6 and len(set(results)) == 1  # identical runs, none refused


TINY_MODEL = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
TINY_GPU = os.path.join(ROOT, "tests", "data", "presets", "tiny_gpu.yaml")
RUN = ["run", "--model", TINY_MODEL, "--phase", "request", "--input", "64", "--output", "8", "--batch", "2"]


def _kernel_transactions(cli, chip=TINY_GPU):
    """The whole run's simulated transactions and its largest single kernel's, from an unlimited run."""
    j = json.loads(cli(*RUN, "--chip", chip, "--format", "json").stdout)
    per_kernel = [k["transactions"] for s in j["steps"] for k in s["kernels"] if k["transactions"]]
    return j["transactions"], max(per_kernel)


def test_max_transactions_bounds_a_whole_run_up_front(cli, tmp_path):
    total, largest = _kernel_transactions(cli)
    assert total > 2 * largest  # a limit between them passes every kernel alone but not the run
    limit = (largest + total) // 2
    out = tmp_path / "run"
    p = cli("--max-transactions", str(limit), *RUN, "--chip", TINY_GPU, "--out", str(out), check=False)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xpusim: error: running tiny-llama on tiny_gpu needs about"), p.stderr
    assert "the limit is %d transactions" % limit in lines[0] and "--max-transactions" in lines[0], p.stderr
    assert not out.exists()
    # The same run fits a limit at its size.
    cli("--max-transactions", str(int(total * 1.5)), *RUN, "--chip", TINY_GPU)


def test_max_transactions_stops_a_serving_study_cleanly(cli, tmp_path):
    _, largest = _kernel_transactions(cli)
    serve = ["serve", "--chip", TINY_GPU, "--model", TINY_MODEL, "--input", "64", "--output", "8", "--requests", "16"]
    # 6x the run's largest kernel: a serving step's batched kernels take several times as many transactions (its
    # prefill's kernels over every prompt token), the limit must let each kernel start, and the 16 requests' run
    # must not fit in it (about 3,500 transactions on tiny_gpu since the fused add + RMSNorm, 2026-12-05).
    out = tmp_path / "serve"
    p = cli("--max-transactions", str(6 * largest), *serve, "--out", str(out), check=False)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("xpusim: error: serving tiny-llama on tiny_gpu: stopped after"), p.stderr
    assert not out.exists()  # stopped mid-run: --out is written only once the study has run
    assert "over the limit of %d transactions for the whole run" % (6 * largest) in lines[0], p.stderr
    # compare: the chip's study stops the same way and its row carries the reason (the others go on); on the
    # H100's 132 SMs the batch-4 steps' kernels stay within 3x the run's largest (10x lets the study finish).
    _, largest = _kernel_transactions(cli, "h100-sxm")
    p = cli("--max-transactions", str(3 * largest), "compare", "--chips", "h100-sxm", "--model", TINY_MODEL, "--input",
            "64", "--output", "8", "--max-batch", "4", "--no-report", "--out", str(tmp_path / "cmp"), check=False)
    assert p.returncode == 1, p.stderr  # the study is written; the exit status says a chip did not run
    assert "serving tiny-llama on h100-sxm: stopped after" in p.stdout, p.stdout
