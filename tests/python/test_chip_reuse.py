"""One warm chip per process (sim/engine/chip.h, Chip::rerun): the kernels of a model run and of a
serving study run one after another on the same modules and slot threads. A run on the reused chip
must give exactly what a fresh chip per kernel gives (XPUSIM_NO_CHIP_REUSE=1), and a small serving
study stays far below the 200 MiB the speed issue allows serve and compare."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
EXE = os.path.join(os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build")), "xpusim")


def _run(args, tmp_path, reuse=True):
    """Runs the CLI; returns (its JSON without wall-clock fields, the process's run stats, peak RSS MiB)."""
    stats_file = tmp_path / ("stats_%d.json" % reuse)
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", XPUSIM_RUN_STATS=str(stats_file),
               XPUSIM_NO_PROGRESS="1")
    env.pop("XPUSIM_NO_CHIP_REUSE", None)
    if not reuse:
        env["XPUSIM_NO_CHIP_REUSE"] = "1"
    p = subprocess.Popen([EXE, *args, "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=tmp_path, text=True)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, err

    def clean(o):
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items() if k not in ("wall_s", "transactions_per_s")}
        if isinstance(o, list):
            return [clean(x) for x in o]
        return o

    with open(stats_file) as f:
        return clean(json.loads(out)), json.load(f), ru.ru_maxrss / 1024.0


@pytest.mark.parametrize("chip", ["h100-sxm", "tpu-v6e", "trn2", "maia200"])
def test_a_model_run_on_the_reused_chip_equals_fresh_chips(chip, tmp_path):
    args = ["run", "--chip", chip, "--model", "llama-3.1-8b", "--phase", "decode", "--batch", "8", "--input", "512"]
    reused, stats, _ = _run(args, tmp_path)
    fresh, fresh_stats, _ = _run(args, tmp_path, reuse=False)
    # Every kernel after the first ran on the warm chip, and nothing differs from fresh chips.
    assert stats["simulations"] >= 5 and stats["reused_chips"] == stats["simulations"] - 1
    assert fresh_stats["reused_chips"] == 0 and fresh_stats["simulations"] == stats["simulations"]
    assert reused == fresh


def test_a_small_serving_study_stays_under_its_memory_ceiling(tmp_path):
    if "libasan" in os.environ.get("LD_PRELOAD", ""):  # scripts/test-sanitized
        pytest.skip("under AddressSanitizer RSS includes its quarantine of freed memory; the normal build checks this")
    args = ["serve", "--chip", "h100-sxm", "--concurrency", "4", "--requests", "16", "--input", "256", "--output", "16"]
    reused, stats, rss = _run(args, tmp_path)
    assert stats["simulations"] > 10 and stats["reused_chips"] == stats["simulations"] - 1
    assert rss < 200, "serve peak RSS %.0f MiB" % rss
    fresh, _, _ = _run(args, tmp_path, reuse=False)
    assert reused == fresh


def test_a_system_serving_run_keeps_the_warm_chip_across_its_fabric_runs(tmp_path):
    """On a system every step part simulates its ranks' kernels and then the fabric (sim/engine/
    side_kernel.h): the fabric runs in a kernel context of its own, so the next part's kernels rerun the
    warm chip instead of elaborating a new one, with exactly the results of fresh chips."""
    args = ["serve", "--system", "hgx-h100x8", "--tp", "2", "--dp", "4", "--model", TINY, "--concurrency", "2",
            "--requests", "4", "--input", "64", "--output", "8"]
    reused, stats, _ = _run(args, tmp_path)
    fresh, fresh_stats, _ = _run(args, tmp_path, reuse=False)
    assert stats["simulations"] > 10 and stats["reused_chips"] == stats["simulations"] - 1, stats
    assert fresh_stats["reused_chips"] == 0 and fresh_stats["simulations"] == stats["simulations"]
    assert reused == fresh
