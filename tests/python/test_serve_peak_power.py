"""A serving iteration never draws more than the chip's electrical limit (power.peak_limit): the hardware
holds the clock of the work at hand within microseconds, whatever the run's average. Before, a decode-heavy
run below TDP ran every iteration at the boost clock, and its prefill iterations drew 1443 W on an H100
(peak_limit 1090 W) and 1836 W on a B200 (1545 W)."""
import json
import re

import pytest

import xpusim


def peak_limit_w(chip):
    m = re.search(r"^\s*peak_limit:\s*([0-9.]+)\s*(k?)W", xpusim.chip_config(chip), re.M)
    return float(m.group(1)) * (1000 if m.group(2) else 1)


@pytest.mark.parametrize("chip", ["h100-sxm", "b200"])
def test_iterations_stay_within_the_electrical_limit(cli, chip):
    # Decode-heavy (below TDP on average: the run stays at the boost clock), with prefill iterations.
    args = ["serve", "--chip", chip, "--model", "llama-3.1-8b", "--input", "1024", "--output", "256",
            "--concurrency", "32", "--requests", "48", "--format", "json"]
    j = json.loads(cli(*args).stdout)
    limit = peak_limit_w(chip)
    assert j["avg_power_w"] < j["tdp_w"]
    assert 0.9 * limit < j["peak_power_w"] <= limit * 1.001, (j["peak_power_w"], limit)
    # The Python module answers the same question with the same numbers.
    p = xpusim.serve(chip=chip, model="llama-3.1-8b", input=1024, output=256, concurrency=32, requests=48)
    assert p["peak_power_w"] == j["peak_power_w"] and p["ttft_s"] == j["ttft_s"]
