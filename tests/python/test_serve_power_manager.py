"""The power manager drives a serving run over simulated time as it drives a kernel (sim/power/power_state.h):
each iteration runs at the clock allowed by the running averages of what ran before it. A run from idle
starts at the boost clock; over busy time the short_term_window average stays within short_term_limit once
the boost from idle has left its window, and the one-second average within TDP once the run holds at TDP.
Before (2026-12-03), every iteration ran at the clock mix of the whole run, and an H100 run's hottest 60 ms
drew ~748 W against the 718 W limit. The CLI and the Python module give the same numbers."""
import json
import os
import re

import xpusim


def watts(chip, key):
    m = re.search(r"^\s*%s:\s*([0-9.]+)\s*(k?)W" % key, xpusim.chip_config(chip), re.M)
    return float(m.group(1)) * (1000 if m.group(2) else 1)


def test_prefill_heavy_run_holds_its_averages_within_the_limits(cli):
    # Prompts of 2048 tokens and 8 output tokens: prefill iterations, above TDP at every clock the fast loop allows.
    args = ["serve", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--input", "2048", "--output", "8",
            "--concurrency", "16", "--requests", "128", "--format", "json"]
    j = json.loads(cli(*args).stdout)
    pm = j["power_manager"]
    limit, tdp = watts("h100-sxm", "short_term_limit"), watts("h100-sxm", "tdp")
    # Exact bounds of the law (1e-9: rounding); the run covers them: it reaches the hold and stays there > 1 s.
    assert pm["max_short_term_avg_unboosted_w"] <= limit * (1 + 1e-9), pm
    assert pm["held_from_s"] is not None and pm["held_s"] > 1.0, pm
    assert tdp * 0.95 < pm["max_limit_avg_held_w"] <= tdp * (1 + 1e-9), pm
    # From idle it ran at boost first, for tens of ms (the H200 trace: ~35 ms for a GEMM loop).
    assert 0.005 < pm["boost_s"] < 0.1 and abs(pm["boost_ends_s"] - pm["boost_s"]) < 1e-9, pm
    # The Python module runs the same path: the same numbers.
    p = xpusim.serve(chip="h100-sxm", model="llama-3.1-8b", input=2048, output=8, concurrency=16, requests=128)
    assert p["power_manager"] == pm
    assert (p["ttft_s"], p["tpot_s"], p["avg_power_w"], p["joules_per_token"]) == \
        (j["ttft_s"], j["tpot_s"], j["avg_power_w"], j["joules_per_token"])


def test_short_run_from_idle_runs_at_boost(cli):
    # Two short requests: the whole run lasts a few ms, far less than the short-term window, all of it at boost.
    j = json.loads(cli("serve", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--input", "128", "--output", "4",
                       "--concurrency", "1", "--requests", "2", "--format", "json").stdout)
    pm = j["power_manager"]
    assert pm["short_term_s"] == 0 and pm["held_s"] == 0 and pm["boost_ends_s"] is None, pm
    assert pm["boost_s"] > 0
    # Below the electrical limit all of it (idle included) runs at one clock, the boost clock, above the nominal one.
    assert j["clock_ratio"] > 1.05 and abs(pm["min_clock_ratio"] - j["clock_ratio"]) < 1e-12, (j["clock_ratio"], pm)


def test_disaggregated_instances_run_their_own_manager(cli):
    # Each instance of a pool is a chip with its own power manager over the run: its iterations, then idle to the end.
    j = json.loads(cli("serve", "--system", "hgx-h100x8", "--nodes", "2", "--tp", "4", "--prefill-devices", "8",
                       "--decode-devices", "8", "--model", "llama-3.1-8b", "--concurrency", "4", "--requests", "8",
                       "--input", "512", "--output", "16", "--format", "json").stdout)
    pm = j["power_manager"]  # the chip of either pool that spent the most energy, named in kv_transfer
    assert re.fullmatch(r"(prefill|decode) instance [12] of 2", j["kv_transfer"]["power_manager_chip"]), j["kv_transfer"]
    assert pm["boost_s"] > 0 and pm["idle_s"] > 0, pm
    states = pm["boost_s"] + pm["short_term_s"] + pm["settling_s"] + pm["held_s"] + pm["idle_s"]
    assert abs(states - j["makespan_s"]) < 1e-9 * j["makespan_s"], (states, j["makespan_s"])


def test_disaggregated_power_manager_is_the_busiest_chip_of_either_pool(cli):
    # Short prompts and long outputs: the decode pool works most of the run, so its chip is the one whose power
    # manager the point reports (it was always the first prefill chip's); the table says whose log it is.
    args = ["serve", "--system", "hgx-h100x8", "--nodes", "2", "--tp", "4", "--prefill-devices", "8",
            "--decode-devices", "8", "--model", "llama-3.1-8b", "--concurrency", "8", "--requests", "8",
            "--input", "64", "--output", "256"]
    j = json.loads(cli(*args, "--format", "json").stdout)
    k = j["kv_transfer"]
    assert re.fullmatch(r"decode instance [12] of 2", k["power_manager_chip"]), k
    assert k["decode_busy"] > k["prefill_busy"]
    assert "power manager (%s, the most energy of both pools): " % k["power_manager_chip"] in cli(*args).stdout
    # Long prompts and two output tokens: the prefill pool's chip (667 W against decode's 133 W).
    args[args.index("--input") + 1], args[args.index("--output") + 1] = "2048", "2"
    k = json.loads(cli(*args, "--format", "json").stdout)["kv_transfer"]
    assert re.fullmatch(r"prefill instance [12] of 2", k["power_manager_chip"]) and k["prefill_power_w"] > k["decode_power_w"], k


def test_a_run_without_an_unboosted_window_says_so(cli):
    # A run whose every 60 ms window held work run above the short-term limit printed "(0 W without boost in the
    # window)" and wrote 0: a window that never was. JSON null, and the line says every window held boost.
    small = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "models", "small-llama-100m.json")
    args = ["serve", "--chip", "h100-sxm", "--model", small, "--input", "128", "--output", "16", "--concurrency", "16",
            "--requests", "16"]
    pm = json.loads(cli(*args, "--format", "json").stdout)["power_manager"]
    assert pm["boost_s"] > 0 and pm["max_short_term_avg_unboosted_w"] is None, pm
    text = cli(*args).stdout
    assert "(every window held boost)" in text and "0 W without boost" not in text, text
    # "short-term limit 0 s" read as a limit of 0 s (QA session 42): the figures are the time spent in each state.
    line = next(l for l in text.splitlines() if "power manager:" in l)
    assert re.search(r"power manager: \S+ \S+ at boost, \S+ \S+ at the short-term limit, ", line), line


def test_the_power_line_names_the_limits_it_is_held_to(cli):
    """QA session 43: an H100 run printed "highest 60 ms average 947 W" beside a 700 W TDP. Not a breach of the model:
    its fast loop ends the boost from idle when the 60 ms average reaches power.short_term_limit (718 W) and then caps
    each iteration at 718 W, so a window still holding the boost (up to power.peak_limit, 1090 W) averages above the
    limit, as the H200 trace's calls ran between 40 and 100 ms. The line now says which limit holds what, with the
    figure's source; the windows are the preset's (it said "60 ms" on a TPU, whose window is 50 ms)."""
    args = ["serve", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--input", "2048", "--output", "8",
            "--concurrency", "16", "--requests", "128"]
    pm = json.loads(cli(*args, "--format", "json").stdout)["power_manager"]
    lim = pm["limits"]
    limit, peak, window = watts("h100-sxm", "short_term_limit"), watts("h100-sxm", "peak_limit"), lim["short_term_window_s"]
    assert (lim["short_term_limit_w"], lim["peak_limit_w"], lim["tdp_w"]) == (limit, peak, watts("h100-sxm", "tdp")), lim
    assert window == 0.06 and lim["limit_window_s"] == 1 and "G001-G009" in lim["short_term_source"], lim
    # Above the limit only by the boost still in the window: at most the boost at peak_limit, the rest at the limit.
    boosted = min(pm["boost_s"], window)
    assert limit < pm["max_short_term_avg_w"] <= (boosted * peak + (window - boosted) * limit) / window * (1 + 1e-9), pm
    text = cli(*args).stdout
    assert "highest 60 ms average %.0f W (718 W without boost in the window)" % pm["max_short_term_avg_w"] in text, text
    line = next(l for l in text.splitlines() if l.startswith("    limits:"))
    assert "up to 1090 W (power.peak_limit) until the 60 ms average reaches 718 W (power.short_term_limit" in line, line
    assert "each iteration draws at most 718 W" in line and "TDP 700 W on the 1 s average (power.tdp)" in line, line
    assert lim["short_term_source"] + " (power.short_term_source)" in line, line
    # A chip without a fast loop: its own window, and no short-term limit named as if it were one.
    tpu = ["serve", "--chip", "tpu-v6e", "--model", "llama-3.1-8b", "--input", "512", "--output", "32", "--concurrency", "8",
           "--requests", "16"]
    t = json.loads(cli(*tpu, "--format", "json").stdout)["power_manager"]["limits"]
    assert t["short_term_limit_w"] == 0 and t["short_term_window_s"] == 0.05 and t["short_term_source"] is None, t
    text = cli(*tpu).stdout
    assert "no short-term limit, " in text and "highest 50 ms average" in text and "60 ms" not in text, text


def test_a_run_shorter_than_the_tdp_window_says_its_windows_hold_idle(cli):
    """QA session 44: a 0.57 s H100 run at 513 W said "1 s 347 W" beside its W/chip and nothing more: every 1 s
    window of a run shorter than one holds the idle chip before it. The line says so, with the run's length; a run
    longer than the window does not."""
    args = ["serve", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--input", "512", "--output", "64",
            "--concurrency", "8", "--requests", "16"]
    j = json.loads(cli(*args, "--format", "json").stdout)
    pm = j["power_manager"]
    run_s = pm["boost_s"] + pm["short_term_s"] + pm["settling_s"] + pm["held_s"] + pm["idle_s"]
    assert run_s < 1 and pm["max_limit_avg_w"] < j["avg_power_w"], (run_s, pm, j["avg_power_w"])
    line = next(l for l in cli(*args).stdout.splitlines() if l.startswith("  power manager:"))
    # The run's length as the CLI prints durations (four significant digits: "574 ms", "573.9 ms").
    m = re.search(r"1 s (\d+) W \(the run lasted ([\d.]+) ms: every 1 s window holds the idle chip before it\)", line)
    assert m and int(m.group(1)) == round(pm["max_limit_avg_w"]), line
    assert abs(float(m.group(2)) - run_s * 1e3) <= 0.05, (line, run_s)
    long = ["serve", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--input", "2048", "--output", "8",
            "--concurrency", "16", "--requests", "128"]
    assert "holds the idle chip" not in cli(*long).stdout
