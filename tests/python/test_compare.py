"""`xpusim serve` and `xpusim compare` end to end on a tiny model (the full default study is the main job)."""
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")


def test_serve_json_fields(cli):
    j = json.loads(cli("serve", "--chip", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16",
                       "--dtype", "bf16", "--max-batch", "8", "--format", "json").stdout)
    for k in ("throughput_tok_s", "ttft_s", "tpot_s", "batch", "avg_power_w", "joules_per_token", "usd_per_mtok"):
        assert k in j and j[k] is not None, k
    assert j["avg_power_w"] < j["tdp_w"] * 1.01


def test_compare_writes_the_study(cli, tmp_path):
    out = tmp_path / "study"
    p = cli("compare", "--chips", "h100-sxm,tpu-v6e", "--model", TINY, "--input", "64", "--output", "16",
            "--max-batch", "8", "--out", str(out), "--set", "tpu-v6e:cost.published=false")
    assert "h100-sxm" in p.stdout and "tpu-v6e" in p.stdout
    # Tokens per MW in whole tokens, as the report prints them (the tier table printed 2.01e+06).
    assert "e+0" not in p.stdout, p.stdout
    s = json.loads((out / "summary.json").read_text())
    assert [r["chip"] for r in s["rows"]] == ["h100-sxm", "tpu-v6e"]
    assert s["rows"][0]["perf_per_usd_rel"] == 1.0
    assert s["rows"][1]["price_assumed"] is True
    assert (out / "summary.csv").read_text().startswith("chip,")
    assert (out / "configs" / "h100-sxm.yaml").exists()
    assert (out / "report.html").exists() and "tpu-v6e" in (out / "report.html").read_text()
    # The energy split the report stacks adds up to the energy per token, the clocked (active) part included.
    for r in s["rows"]:
        e = r["energy"]
        assert e["active_j"] > 0, r["chip"]
        assert abs(sum(e.values()) - r["joules_per_token"]) <= 1e-6 * r["joules_per_token"], r["chip"]


def test_compare_bad_input(cli, tmp_path):
    p = cli("compare", "--chips", "h100-sxm,nope", "--model", TINY, "--out", str(tmp_path / "x"), check=False)
    assert p.returncode != 0 and "valid chips" in p.stderr
    # A unit may be a system too: an unknown one is offered the systems, and the nearest name of either.
    p = cli("compare", "--chips", "hgx-h100x9", "--model", TINY, "--out", str(tmp_path / "z"), check=False)
    assert p.returncode == 2 and "valid systems: dgx-b200x8" in p.stderr and "(did you mean hgx-h100x8?)" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "z").exists()
    p = cli("compare", "--scenario", "party", "--out", str(tmp_path / "y"), check=False)
    assert p.returncode != 0 and "chat or long" in p.stderr
    # A unit's layout over chips of a torus that form no block of it is named in the unit with the counts
    # that do (it was the preset file's "ranks [0..5] do not form a block of the 8-chip torus").
    p = cli("compare", "--chips", "tpu-v6e-8:tp2dp3", "--model", TINY, "--out", str(tmp_path / "t"), check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert ("--chips tpu-v6e-8:tp2dp3: dp3 x tp2 takes 6 of tpu-v6e-8's 8 chips, which form no block of its fabric "
            "(expected a layout over 1, 2, 4, 8 chips)") in p.stderr, p.stderr
    # A system of NeuronCore ranks (collectives only) is named as the unit given.
    p = cli("compare", "--chips", "h100-sxm,trn1-32xl-cores", "--model", TINY, "--out", str(tmp_path / "n"), check=False)
    assert p.returncode == 2 and p.stderr.startswith("xpusim: error: --chips trn1-32xl-cores: system trn1-32xl-cores counts parts"), p.stderr
    # A layout without tp whose pp x dp leaves no whole TP degree says so (the message listed the degrees).
    p = cli("compare", "--chips", "hgx-h100x8:dp3", "--model", TINY, "--out", str(tmp_path / "d"), check=False)
    assert p.returncode == 2 and "without tpN the TP degree is what pp x dp = 3 leaves of its 8 chips" in p.stderr, p.stderr
    assert "tp1dp3 takes 3 chips" in p.stderr


def test_a_fixed_unit_layout_takes_the_redundant_experts_the_search_gives(cli, tmp_path):
    """gb200-nvl72:dp72ep72 is the layout the search gives DeepSeek-V3 on an NVL72 (+32 redundant experts,
    256 + 32 = 4 x 72); asked for by name it takes them too. It was refused with 'or --redundant-experts
    32', a flag compare does not take. The unreachable tier stops the study after the layout checks."""
    p = cli("compare", "--chips", "gb200-nvl72:dp72ep72", "--model", "deepseek-v3", "--tiers", "100000", "--jobs", "1",
            "--out", str(tmp_path / "x"), check=False)
    assert p.returncode == 2 and "--tiers 100000: no chip can stream that" in p.stderr, p.stderr
    # More EP ranks than experts: one expert per rank, the replicas filling the rest (60 + 12 = 72), as the
    # error of `run` suggests with --redundant-experts 12 (it was refused naming that flag, which compare lacks).
    qwen = os.path.join(ROOT, "tests", "data", "models", "qwen1.5-moe-a2.7b.json")
    j = cli("compare", "--chips", "gb200-nvl72:dp72ep72", "--model", qwen, "--input", "128", "--output", "8", "--max-batch", "2",
            "--jobs", "1", "--no-report", "--out", str(tmp_path / "q"))
    assert "dp72 x ep72 (+12 redundant experts)" in j.stdout, j.stdout


def test_compare_with_a_failing_chip_writes_every_row_and_exits_1(cli, tmp_path):
    """A chip that cannot serve the model keeps its row (with why) in summary.json, the CSVs and the
    report; the exit status says that not every chip ran. The tiers, frontier economics, TCO and
    verdict are there for the chip that ran."""
    out = tmp_path / "study"
    p = cli("compare", "--chips", "h100-sxm,tpu-v6e", "--model", TINY, "--input", "64", "--output", "16",
            "--max-batch", "16", "--out", str(out), "--set", "tpu-v6e:hbm.capacity=1 MiB", "--tco", check=False)
    assert p.returncode == 1, p.stderr
    assert "tpu-v6e" in p.stderr.strip().splitlines()[-1]
    # The unit that did not run has no priced row: its price column is "-", not "no price" (its price is listed).
    row = next(l for l in p.stdout.splitlines() if l.startswith("tpu-v6e "))
    assert row.split()[-1] == "-" and "no price" not in row, row
    s = json.loads((out / "summary.json").read_text())
    assert [r["chip"] for r in s["rows"]] == ["h100-sxm", "tpu-v6e"]
    ok, bad = s["rows"]
    assert ok["ran"] is True and bad["ran"] is False and bad["note"]
    assert s["all_ran"] is False and s["tco"] is True and s["tiers"] == [20, 50, 100]
    assert len(s["verdict"]) == 3 and all("tpu-v6e did not run" in v for v in s["verdict"])
    for t in ok["tiers"]:
        assert t["reachable"] or t["why"], t
        if t["reachable"]:
            assert t["throughput_tok_s_per_chip"] > 0 and t["tok_s_per_mw"] > 0 and t["usd_per_mtok"] > 0
            # The table groups its digits (seven of them read badly); summary.json keeps the number.
            assert f" {round(t['tok_s_per_mw']):,} " in p.stdout, p.stdout
            assert t["bound"] in ("weight streaming", "KV-cache traffic", "compute", "communication", "activation traffic",
                                  "vector units", "latency", "on-chip transfer", "other", "host", "memory capacity",
                                  "weight streaming over the DMA path", "KV-cache traffic over the DMA path",
                                  "activation traffic over the DMA path")
    for i, t in enumerate(ok["tiers"]):  # the verdict groups them as the table does
        if t["reachable"]:
            assert f"{round(t['tok_s_per_mw']):,} tok/s per provisioned MW" in s["verdict"][i], s["verdict"][i]
    for t in bad["tiers"]:
        assert not t["reachable"] and "did not run" in t["why"]
    for f in ok["frontier"]:
        assert f["tok_s_per_mw"] > 0 and f["tco_usd_per_mtok"] > 0 and f["usd_per_mtok"] > 0
    # tok/s per provisioned MW: throughput per chip over TDP x PUE
    f0 = ok["frontier"][0]
    assert abs(f0["tok_s_per_mw"] - f0["throughput_tok_s_per_chip"] / ok["provisioned_w_per_chip"] * 1e6) < 1e-6 * f0["tok_s_per_mw"]
    assert ok["tco"]["usd_per_mtok"] > 0 and "capex $30000" in ok["tco"]["assumptions"]
    assert ok["validation"].startswith("gpu:") and bad["validation"].startswith("tpu:")
    tiers_csv = (out / "tiers.csv").read_text().splitlines()
    assert tiers_csv[0].startswith("chip,tok_s_per_user,reachable") and len(tiers_csv) == 1 + 2 * 3
    assert len((out / "frontier.csv").read_text().splitlines()) == 1 + len(ok["frontier"])
    page = (out / "report.html").read_text()
    assert 'data-chip="tpu-v6e"' in page and 'data-ran="false"' in page and "Verdict" in page


def test_a_tier_bound_by_the_framework_host_says_host(cli, tmp_path):
    """A small model at 64 users on one H100: vLLM's 21.5 us of host work per running request (1.376 ms)
    sets every decode iteration's time, far above the chip's step. The tier called that latency-bound
    (97%), the decode step's own largest category, as if a faster chip would serve more; it is
    host-bound, and serve's table says so. Without host work the chip's own bound is back."""
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    base = ["compare", "--chips", "h100-sxm", "--model", small, "--input", "128", "--output", "32",
            "--concurrency", "64", "--tiers", "20", "--jobs", "1", "--no-report"]
    cli(*base, "--out", str(tmp_path / "a"))
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    t = s["rows"][0]["tiers"][0]
    assert t["reachable"] and t["bound"] == "host" and t["bound_share"] >= 0.9, t
    assert "h100-sxm: host-bound (97%)" in s["verdict"][0], s["verdict"]
    cli(*base, "--host-us-per-request", "0", "--out", str(tmp_path / "b"))
    free = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert free["rows"][0]["tiers"][0]["bound"] != "host"
    table = cli("serve", "--chip", "h100-sxm", "--model", small, "--input", "128", "--output", "32", "--concurrency", "64").stdout
    assert "host: the framework's host work per iteration (0 us + 21.5 us per running request" in table, table
    assert "set the time of 97% of the iterations" in table, table
    quiet = cli("serve", "--chip", "h100-sxm", "--model", small, "--input", "128", "--output", "32", "--concurrency", "64",
                "--host-us-per-request", "0").stdout
    assert "host:" not in quiet, quiet


def test_serve_reports_prefix_and_speculation(cli):
    # The tiny model's steps (tens of us) sit below vLLM's host work per iteration, which would bound them
    # and hide what the chip gains: that work set to zero here (test_serve_engine.py tests it).
    base = ["serve", "--chip", "h100-sxm", "--model", TINY, "--input", "256", "--output", "32", "--dtype", "bf16",
            "--concurrency", "4", "--requests", "16", "--host-us-per-request", "0", "--format", "json"]
    plain = json.loads(cli(*base).stdout)
    assert plain["prefix_hit"] == 0 and plain["speculative"] is None
    hit = json.loads(cli(*base, "--prefix-hit", "0.5").stdout)
    assert hit["prefix_hit"] == 0.5 and hit["ttft_s"] < plain["ttft_s"]
    spec = json.loads(cli(*base, "--spec-tokens", "2", "--spec-accept", "0.7").stdout)
    sp = spec["speculative"]
    assert sp["tokens"] == 2 and sp["acceptance"] == 0.7 and sp["method"] == "mtp"
    assert abs(sp["expected_tokens_per_step"] - (1 + 0.7 + 0.49)) < 1e-12
    # 31 tokens per answer after the first: the last step of each may have fewer drafts left to verify
    assert 0.85 * sp["expected_tokens_per_step"] < spec["tokens_per_decode_step"] <= sp["expected_tokens_per_step"] + 1e-9
    table = cli(*base[:-2], "--spec-tokens", "2", "--spec-accept", "0.7", "--prefix-hit", "0.25").stdout
    assert "speculative decoding: 2 drafts" in table and "prefix cache: 25%" in table


def test_python_compare_keywords(cli):
    import xpusim
    s = xpusim.compare(chips="h100-sxm", model=TINY, input=64, output=16, max_batch=4, tco=True, tiers=[5, 1e5],
                       prefix_hit=0.5, spec_tokens=2, spec_accept=0.6)
    assert s["tiers"] == [5, 1e5] and s["tco"] is True
    sc = s["scenario"]
    assert sc["prefix_hit"] == 0.5 and sc["spec_tokens"] == 2 and sc["spec_accept"] == 0.6
    row = s["rows"][0]
    assert row["speculative"]["tokens"] == 2 and row["prefix_hit"] == 0.5
    assert row["tiers"][0]["reachable"] and not row["tiers"][1]["reachable"] and "at most" in row["tiers"][1]["why"]


def test_python_compare_takes_the_load_the_cli_takes(cli, tmp_path):
    # xpusim.compare had no concurrency, rate, requests, scheduler or seed: a Python study could only run the
    # default sweep (TypeError: compare() got an unexpected keyword argument 'concurrency').
    import xpusim
    load = ["--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--no-report", "--jobs", "1",
            "--format", "json"]
    for kw, flags in [(dict(concurrency=[2, 3], scheduler="sglang"), ["--concurrency", "2,3", "--scheduler", "sglang"]),
                      (dict(rate=50.0, requests=12, seed=7), ["--rate", "50", "--requests", "12", "--seed", "7"])]:
        py = xpusim.compare(chips="h100-sxm", model=TINY, input=64, output=16, **kw)
        j = json.loads(cli("compare", *load, *flags, "--out", str(tmp_path / flags[0][2:])).stdout)
        for k in ("throughput_tok_s", "tpot_s", "ttft_s", "batch"):
            assert py["rows"][0][k] == j["rows"][0][k], (kw, k)
    assert xpusim.compare(chips="h100-sxm", model=TINY, input=64, output=16, concurrency=2)["rows"][0]["batch"] == 2
    with pytest.raises(ValueError, match=r"^concurrency=\[0\]: "):
        xpusim.compare(chips="h100-sxm", model=TINY, input=64, output=16, concurrency=[0])
    for f in (xpusim.serve, xpusim.compare):  # a drafter's acceptance rate has no default (it ran at 0)
        with pytest.raises(ValueError, match="give spec_accept=A too"):
            f(model=TINY, input=64, output=16, concurrency=2, spec_tokens=2)


def test_layout_search_picks_a_layout_that_fits_and_says_why_not_the_others(cli, tmp_path):
    """hgx-h100x8 given without a layout: every tp x dp layout is tried; with the H100s cut to 10 GiB,
    Llama-3.1-8B's FP8 weights leave one chip no KV cache, so dp8 does not fit and is never simulated."""
    out = tmp_path / "search"
    p = cli("compare", "--chips", "hgx-h100x8", "--model", "llama-3.1-8b", "--input", "64", "--output", "16",
            "--max-batch", "4", "--out", str(out), "--no-report", "--set", "h100-sxm:hbm.capacity=10 GiB")
    assert "layouts searched" in p.stdout
    row = json.loads((out / "summary.json").read_text())["rows"][0]
    ls = row["layout_search"]
    tried = {t["layout"]: t for t in ls["tried"]}
    assert set(tried) == {"dp8", "dp4 x tp2", "dp2 x tp4", "tp8"}
    assert tried["dp8"]["fits"] is False and tried["dp8"]["verdict"].startswith("does not fit"), tried["dp8"]
    chosen = [t for t in ls["tried"] if t["chosen"]]
    assert len(chosen) == 1 and chosen[0]["fits"] and chosen[0]["layout"] == ls["chosen"] == row["layout"]["name"]
    for t in ls["tried"]:
        if t["fits"] and not t["chosen"]:
            assert t["verdict"].startswith(("slower", "serves the")), t
        # A layout screened at the lowest concurrency alone reached fewer tiers there than the chosen one.
        if t["screened_at_lowest_concurrency_only"]:
            reached = lambda x: sum(1 for v in x["throughput_tok_s_per_chip_at_tiers"] if v)
            assert reached(t) < reached(chosen[0]) and "screened there alone" in t["verdict"], t
    assert row["ran"] and row["devices"] == 8 and "criterion" in ls and ls["criterion"]
    # The unit's figures are the replicas': per chip unchanged, the whole unit's throughput is per chip x 8.
    assert abs(row["throughput_tok_s"] - 8 * row["throughput_tok_s_per_chip"]) <= 1e-6 * row["throughput_tok_s"]
    assert '"dp4 x tp2"' in (out / "summary.csv").read_text() or ls["chosen"] != "dp4 x tp2"


def test_an_open_loop_study_says_its_layouts_were_screened_as_a_closed_loop(cli, tmp_path):
    # With --rate the screen ran a closed loop of as many users as the cache holds (dp8: 46444 tok/s per chip,
    # no 50 tok/s-per-user tier) beside a run that reached every tier at 14126, and nothing said the loads differ.
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    base = ["compare", "--chips", "hgx-h100x8", "--model", small, "--input", "128", "--output", "32", "--jobs", "1", "--no-report"]
    p = cli(*base, "--rate", "400", "--out", str(tmp_path / "r"))
    ls = json.loads((tmp_path / "r" / "summary.json").read_text())["rows"][0]["layout_search"]
    note = "this study's load is an open loop at --rate, which the screen does not run"
    assert note in ls["criterion"] and note in p.stdout, ls["criterion"]
    # The screen's best two (the finalists) ran the engine under the study's open loop and the layout was
    # chosen among them on those runs (the chosen one's figures are its run's: every tier at 14122 per
    # chip, where the screen said 46444 at the slowest tier alone); the others keep the screen's verdict.
    row = json.loads((tmp_path / "r" / "summary.json").read_text())["rows"][0]
    finalists = [t for t in ls["tried"] if t["verdict"].endswith("(a finalist, figures from its engine run under the study's load)")]
    assert len(finalists) == 2 and sum(t["chosen"] for t in finalists) == 1, ls["tried"]
    chosen = [t for t in finalists if t["chosen"]][0]
    assert chosen["layout"] == ls["chosen"]
    assert chosen["throughput_tok_s_per_chip_at_tiers"] == [t["throughput_tok_s_per_chip"] for t in row["tiers"]], (chosen, row["tiers"])
    assert chosen["max_throughput_tok_s_per_chip"] == row["throughput_tok_s_per_chip"]
    others = [t for t in ls["tried"] if t["fits"] and t not in finalists]
    assert others and all(t["verdict"].startswith("not a finalist, by the closed-loop screen: slower") for t in others), others
    cli(*base, "--concurrency", "4", "--out", str(tmp_path / "c"))
    ls = json.loads((tmp_path / "c" / "summary.json").read_text())["rows"][0]["layout_search"]
    assert "which the screen does not run" not in ls["criterion"]
    # --finalists 0: every layout that fits runs the engine under the open loop, none keeps the screen's figures,
    # and one of them is chosen.
    cli(*base, "--rate", "400", "--finalists", "0", "--out", str(tmp_path / "all"))
    rall = json.loads((tmp_path / "all" / "summary.json").read_text())["rows"][0]
    fits = [t for t in rall["layout_search"]["tried"] if t["fits"]]
    assert len(fits) > 2 and all(t["verdict"].endswith("(a finalist, figures from its engine run under the study's load)")
                                 for t in fits), fits
    assert "every layout that fits (--finalists 0) then ran the study's engine" in rall["layout_search"]["criterion"]
    assert sum(t["chosen"] for t in fits) == 1 and rall["layout_search"]["chosen"] == rall["layout"]["name"]
    bad = cli(*base, "--rate", "400", "--finalists", "-1", check=False)
    assert bad.returncode != 0 and "--finalists -1: expected 0 (every layout) or a count of layouts" in bad.stderr


def test_each_tier_is_reported_at_the_searched_layout_that_serves_it_best(cli, tmp_path):
    """Llama-3.1-8B on hgx-h100x8 at 100-400 tok/s per user: dp8 serves the slow tiers best, wider tensor
    parallelism the fast ones. Each tier cell names its layout, and no searched layout's screen serves
    that tier more per chip than the cell (beyond the screen's stated 2% against the engine); the
    frontier is the upper envelope over the layouts run, each point naming its layout."""
    out = tmp_path / "tiers"
    cli("compare", "--chips", "hgx-h100x8", "--model", "llama-3.1-8b", "--input", "64", "--output", "16", "--max-batch", "16",
        "--tiers", "100,200,300,400", "--out", str(out), "--no-report")
    s = json.loads((out / "summary.json").read_text())
    row = s["rows"][0]
    tried = [t for t in row["layout_search"]["tried"] if t["ran"]]
    for k, tier in enumerate(s["tiers"]):
        cell = row["tiers"][k]
        assert cell["reachable"], cell
        at = [(t["throughput_tok_s_per_chip_at_tiers"][k] or 0, t["layout"]) for t in tried]
        best, best_layout = max(at)
        assert cell["throughput_tok_s_per_chip"] >= 0.98 * best, (tier, cell["layout"], cell["throughput_tok_s_per_chip"], at)
        assert cell["layout"] == best_layout == row["layout_at_tok_s_per_user"]["%g" % tier], (tier, cell["layout"], at)
        assert any(p["layout"] == cell["layout"] and p["throughput_tok_s_per_chip"] == cell["throughput_tok_s_per_chip"]
                   for p in row["frontier"]), cell
        assert tier in next(t for t in tried if t["layout"] == cell["layout"])["serves_tiers"]
    assert len({c["layout"] for c in row["tiers"]}) >= 2  # the case does exercise the per-tier choice
    f = row["frontier"]
    for p in f:
        assert not any(q["layout"] != p["layout"] and q["tok_s_per_user"] >= p["tok_s_per_user"]
                       and q["throughput_tok_s_per_chip"] > p["throughput_tok_s_per_chip"] for q in f), p
    assert (out / "tiers.csv").read_text().splitlines()[0].endswith(",layout,rate")
    assert (out / "frontier.csv").read_text().splitlines()[0].endswith(",layout,rate")
    assert "layout_at_100_per_user" in (out / "summary.csv").read_text().splitlines()[0]


def test_named_study_chat_8b_runs_the_single_chip_study(cli, tmp_path):
    out = tmp_path / "chat8b"
    p = cli("compare", "--study", "chat-8b", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--out", str(out), "--no-report")
    s = json.loads((out / "summary.json").read_text())
    assert [r["chip"] for r in s["rows"]] == ["h100-sxm", "tpu-v6e", "trn2", "maia200"]
    assert s["study"] == "chat-8b" and s["study_definition"]["name"] == "chat-8b"
    assert all(r["layout_search"] is None for r in s["rows"])  # single chips: nothing to search
    assert "also covers" not in p.stdout


def test_layout_search_of_a_moe_tries_expert_parallel_kinds_and_prunes_by_memory(cli, tmp_path):
    """DeepSeek-V2-Lite (64 experts, about 16 GB at FP8) on hgx-h100x8 with the H100s cut to 6 GiB: one or
    two chips per replica cannot hold it (dp8, dp4 x tp2 and their tp-ep twin do not fit, never simulated),
    while experts over four or eight chips, and data-parallel attention with the experts over all eight, do."""
    out = tmp_path / "moe"
    cli("compare", "--chips", "hgx-h100x8", "--model", os.path.join(ROOT, "tests", "data", "models", "deepseek-v2-lite.json"),
        "--input", "64", "--output", "16", "--max-batch", "4", "--out", str(out), "--no-report",
        "--set", "h100-sxm:hbm.capacity=6 GiB")
    row = json.loads((out / "summary.json").read_text())["rows"][0]
    tried = {t["layout"]: t for t in row["layout_search"]["tried"]}
    assert {t["kind"] for t in tried.values()} == {"tp-dp", "tp-ep", "dp-attention-ep"}
    assert {"tp8 x ep8", "dp8 x ep8", "dp2 x tp4 x ep4"} <= set(tried)
    for lay in ("dp8", "dp4 x tp2", "dp4 x tp2 x ep2"):
        assert not tried[lay]["fits"] and tried[lay]["verdict"].startswith("does not fit"), tried[lay]
    for lay in ("tp8", "tp8 x ep8", "dp8 x ep8"):
        assert tried[lay]["fits"] and tried[lay]["ran"], tried[lay]
    chosen = [t for t in tried.values() if t["chosen"]]
    assert len(chosen) == 1 and chosen[0]["layout"] == row["layout"]["name"] and row["ran"] and row["devices"] == 8
    for t in tried.values():
        assert t["chosen"] or t["verdict"].startswith(("slower", "does not fit", "serves the")), t
    if chosen[0]["kind"] == "dp-attention-ep":  # the sweep's concurrency is per attention group
        dp = int(chosen[0]["layout"].split()[0][2:])
        assert [p["concurrency"] for p in row["frontier"]] == [dp * c for c in (1, 4)]


def test_the_default_study_serves_deepseek_v3_and_a_unit_that_cannot_hold_it_says_why(cli, tmp_path):
    """The frontier study (no --study) covers DeepSeek-V3: reduced to one unit that holds it at an explicit (tensor-parallel, as both models run it)
    layout and one that cannot, its folder has both rows, the second with why and the units that would
    hold it, and the exit status says that not every unit ran."""
    out = tmp_path / "frontier"
    p = cli("compare", "--chips", "hgx-h200x8:tp8,tpu-v6e-8", "--input", "64", "--output", "16", "--max-batch", "4",
            "--out", str(out), "--no-report", check=False)
    assert p.returncode == 1, p.stderr
    s = json.loads((out / "deepseek-v3" / "summary.json").read_text())
    assert s["model"] == "deepseek-v3" and s["study_definition"]["name"] == "frontier"
    rows = {r["chip"]: r for r in s["rows"]}
    assert rows["hgx-h200x8:tp8"]["ran"] and rows["hgx-h200x8:tp8"]["layout"]["name"] == "tp8"
    tpu = rows["tpu-v6e-8"]
    assert not tpu["ran"] and "does not fit" in tpu["note"] and "--chips tpu-v6e-32" in tpu["note"], tpu["note"]
    assert all(not t["fits"] for t in tpu["layout_search"]["tried"])
    assert (out / "llama-3.1-70b" / "summary.json").exists()


def _without_clock(v):
    """A study's JSON without what differs between two runs of it: when it was made, host seconds."""
    if isinstance(v, dict):
        return {k: _without_clock(x) for k, x in v.items() if k not in ("created", "wall_s")}
    if isinstance(v, list):
        return [_without_clock(x) for x in v]
    return v


def test_compare_jobs_give_the_study_one_process_gives(cli, tmp_path):
    """--jobs 2 runs the units in worker processes: summary.json (but its date and host seconds), the
    CSVs and the table are those of --jobs 1, and the module's compare returns the same study in its own
    process (the default) and with jobs=2."""
    import xpusim
    args = ["compare", "--chips", "h100-sxm,tpu-v6e,trn2", "--model", TINY, "--input", "64", "--output", "16",
            "--max-batch", "16", "--no-report"]
    p1 = cli(*args, "--jobs", "1", "--out", str(tmp_path / "one"))
    p2 = cli(*args, "--jobs", "2", "--out", str(tmp_path / "two"))
    assert p1.stdout.replace(str(tmp_path / "one"), "OUT") == p2.stdout.replace(str(tmp_path / "two"), "OUT")
    s1 = json.loads((tmp_path / "one" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert _without_clock(s1) == _without_clock(s2)
    for f in ("summary.csv", "frontier.csv", "tiers.csv"):
        assert (tmp_path / "one" / f).read_text() == (tmp_path / "two" / f).read_text(), f
    kw = dict(chips="h100-sxm,tpu-v6e,trn2", model=TINY, input=64, output=16, max_batch=16)
    m1, m2 = xpusim.compare(**kw), xpusim.compare(jobs=2, **kw)
    assert _without_clock(m1) == _without_clock(m2)


def test_compare_worker_killed_names_its_unit(cli, tmp_path):
    """A worker killed by a signal: one error line naming the unit, a non-zero exit, no study written,
    no worker left behind."""
    import signal
    import subprocess
    import time
    out = tmp_path / "study"
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    exe = os.path.join(os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build")), "xpusim")
    p = subprocess.Popen([exe, "compare", "--chips", "hgx-h100x8,h100-sxm", "--model", "llama-3.1-8b", "--input", "256",
                          "--output", "64", "--jobs", "2", "--out", str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)

    def children():
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == p.pid:
                    found.append(int(pid))
            except (OSError, ValueError, IndexError):
                pass
        return found

    deadline = time.time() + 60
    kids = children()
    while len(kids) < 2 and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
        kids = children()
    assert len(kids) == 2, "no two workers seen"
    os.kill(kids[0], signal.SIGKILL)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 3, err
    last = err.strip().splitlines()[-1]
    assert "compare: unit " in last and "(pid %d) was killed by signal 9" % kids[0] in last, last
    assert "hgx-h100x8" in last or "h100-sxm" in last, last
    assert not (out / "summary.json").exists()
    for pid in kids:  # the other worker was killed and both were reaped
        assert not os.path.exists("/proc/%d" % pid), pid


def test_table_columns_fit_system_unit_names(cli, tmp_path):
    # A system unit's name (hgx-h100x8:tp8, 14 characters) once pushed its row's columns right of the
    # header's (the chip column was 10 wide).
    out = cli("compare", "--chips", "h100-sxm,hgx-h100x8:tp8", "--model", "llama-3.1-8b", "--max-batch", "4",
              "--no-report", "--jobs", "1", "--out", str(tmp_path / "c")).stdout.splitlines()
    head = next(i for i, l in enumerate(out) if l.startswith("chip "))
    col = out[head].index("precision")
    for row in out[head + 1:head + 3]:
        assert row[col:].startswith("fp8"), (out[head], row)
    tier = next(i for i, l in enumerate(out) if l.strip().startswith("tier "))
    col = out[tier].index("layout")
    for row in out[tier + 1:tier + 3]:
        assert row[col:].startswith("tp"), (out[tier], row)


def test_table_labels_per_chip_columns_times_at_scale_and_long_layouts(cli, tmp_path):
    # A system unit's row set the unit's tok/s beside power and $/h per chip under "power W" and "$/h" (an 8-GPU
    # system read as renting for one GPU's $4.92/h); a sub-millisecond TTFT printed "0ms"; and a layout
    # longer than 16 characters ("dp8 x ep8 (+4 redundant experts)") pushed the tier row's columns right.
    qwen = os.path.join(ROOT, "tests", "data", "models", "qwen1.5-moe-a2.7b.json")
    out = tmp_path / "c"
    lines = cli("compare", "--chips", "hgx-h100x8:dp8ep8", "--model", qwen, "--input", "64", "--output", "8",
                "--max-batch", "2", "--no-report", "--jobs", "1", "--out", str(out)).stdout.splitlines()
    row = json.loads((out / "summary.json").read_text())["rows"][0]
    head = next(i for i, l in enumerate(lines) if l.startswith("chip "))
    assert " W/chip " in lines[head] and " $/h/chip " in lines[head], lines[head]
    cells = lines[head + 1]
    for key, col in (("ttft_s", "TTFT"), ("tpot_s", "TPOT")):
        s = row[key]
        text = "%.4g us" % (s * 1e6) if s < 1e-3 else "%.4g ms" % (s * 1e3) if s < 1 else "%.4g s" % s
        end = lines[head].index(col) + len(col)
        assert cells[:end].rstrip().endswith(text), (key, text, lines[head], cells)
    tier = next(i for i, l in enumerate(lines) if l.strip().startswith("tier "))
    col = lines[tier].index("conc")
    for r in lines[tier + 1:tier + 4]:
        assert "dp8 x ep8 (+4 redundant experts)" in r and r[col - 2] == " " and r[col - 1:col + 4].strip().isdigit(), \
            (lines[tier], r)


def test_format_json_prints_the_summary(cli, tmp_path):
    # --format json was accepted and ignored (the table was printed).
    out = tmp_path / "c"
    p = cli("compare", "--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--no-report", "--jobs", "1", "--out", str(out), "--format", "json")
    j = json.loads(p.stdout)
    assert [r["chip"] for r in j["rows"]] == ["h100-sxm"]
    assert j["rows"] == json.loads((out / "summary.json").read_text())["rows"]
    assert "results: " in p.stderr


def test_the_table_names_each_price_basis_and_notes_a_mix(cli, tmp_path):
    # trn2 has no hourly price and is priced by the TCO of its assumed $20k unit; h100-sxm by AWS's list
    # price. The table said only "assumed" and "published", so $/Mtok and perf/$ set a rental price (with
    # the provider's margin) beside an owner's cost unsaid (Qwen3-30B-A3B at 32 users, 2026-12-03: trn2
    # 3.22x the H100's perf/$ on these bases).
    p = cli("compare", "--chips", "h100-sxm,trn2", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--no-report", "--jobs", "1", "--out", str(tmp_path / "c"))
    rows = {l.split()[0]: l for l in p.stdout.splitlines() if l.startswith(("h100-sxm ", "trn2 "))}
    assert rows["h100-sxm"].endswith("published list price") and rows["trn2"].endswith("assumed TCO"), rows
    assert "note: $/Mtok and perf/$ set cloud list prices (h100-sxm) beside TCO estimates" in p.stdout, p.stdout
    assert "--tco adds every unit's all-in cost" in p.stdout
    p = cli("compare", "--chips", "h100-sxm,trn2", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--no-report", "--jobs", "1", "--out", str(tmp_path / "t"), "--tco")
    assert "the tiers' TCO $/Mtok gives every unit's all-in cost" in p.stdout, p.stdout
    # One basis: no note.
    p = cli("compare", "--chips", "h100-sxm,trn2", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--no-report", "--jobs", "1", "--out", str(tmp_path / "d"), "--set", "trn2:cost.chip_hour=2.4")
    assert "price set by --set" in p.stdout and "note: $/Mtok" not in p.stdout, p.stdout


def test_a_price_set_by_the_user_is_not_called_published(cli, tmp_path):
    # --set h100-sxm:cost.chip_hour=1 kept the preset's `published: true` and AWS's source: the table said
    # "published list price" beside the user's $1.00 (QA session 40).
    out = tmp_path / "c"
    p = cli("compare", "--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--no-report", "--jobs", "1", "--out", str(out), "--set", "h100-sxm:cost.chip_hour=1")
    row = next(l for l in p.stdout.splitlines() if l.startswith("h100-sxm "))
    assert row.endswith("price set by --set"), row
    r = json.loads((out / "summary.json").read_text())["rows"][0]
    assert r["price_assumed"] is True and r["price_source"] == "as given with --set", r
    # The resolved config says the same (it kept `published: true` and AWS's source).
    k = tmp_path / "k"
    cli("kernel", "gemm", "--chip", "h100-sxm", "--m", "64", "--n", "64", "--k", "64", "--set", "cost.chip_hour=1",
        "--out", str(k))
    resolved = (k / "config.resolved.yaml").read_text()
    assert "  published: false\n" in resolved and "  source: as given with --set\n" in resolved, resolved


def test_a_price_the_user_set_is_labelled_as_theirs(cli, tmp_path):
    # `--set h100-sxm:cost.chip_hour=1` (and a user's preset that changes an inherited price) was labelled
    # "assumed list price", as if the preset assumed it (QA qa48, issue 14). The table, summary.json, serve's
    # text and the HTML report now say who set it; the preset's own prices keep their labels.
    user = tmp_path / "mine.yaml"
    user.write_text("inherits: h100_sxm.yaml\ncost:\n  chip_hour: 2.5\n")
    out = tmp_path / "c"
    p = cli("compare", "--chips", "h100-sxm,%s,trn2" % user, "--model", TINY, "--input", "64", "--output", "16",
            "--max-batch", "4", "--jobs", "1", "--out", str(out), "--set", "h100-sxm:cost.chip_hour=1",
            "--set", "trn2:cost.unit_price=15000")
    rows = [l for l in p.stdout.splitlines() if l.startswith(("h100-sxm ", "mine", str(user), "trn2 "))]
    assert len(rows) == 3, p.stdout
    assert rows[0].endswith("  price set by --set") and rows[1].endswith("  price set in %s" % user), rows
    assert rows[2].endswith("  TCO, unit price set by --set"), rows
    js = json.loads((out / "summary.json").read_text())["rows"]
    assert [r["price_set_by"] for r in js] == ["--set", str(user), "--set"], [r["price_set_by"] for r in js]
    html = (out / "report.html").read_text()
    assert 'class="badge user"' in html and ">set by --set<" in html and ">set in %s<" % user in html
    p = cli("serve", "--chip", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--set", "cost.chip_hour=1")
    assert "(cloud list price, price set by --set)" in p.stdout, p.stdout
    # The preset's own: published (h100-sxm), assumed TCO (trn2's assumed unit price); no price_set_by.
    p = cli("compare", "--chips", "h100-sxm,trn2", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4",
            "--no-report", "--jobs", "1", "--out", str(tmp_path / "d"))
    assert "published list price" in p.stdout and "assumed TCO" in p.stdout and "set by" not in p.stdout, p.stdout
    assert all(r["price_set_by"] is None for r in json.loads((tmp_path / "d" / "summary.json").read_text())["rows"])


def test_an_open_loop_tier_has_no_concurrency(cli, tmp_path):
    # Under --rate the tier table printed "conc 0" (zero users) for the open-loop point; it now prints "-".
    out = cli("compare", "--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "8", "--rate", "5",
              "--no-report", "--jobs", "1", "--out", str(tmp_path / "r")).stdout.splitlines()
    head = next(i for i, l in enumerate(out) if l.strip().startswith("tier "))
    col = out[head].index("conc")
    rows = [l for l in out[head + 1:] if l.strip().startswith(("20/user", "50/user", "100/user"))]
    assert len(rows) == 3 and all(r[col:col + 4].strip() == "-" for r in rows), out[head:head + 4]


def _compare_flags(cli, command="compare"):
    """Every long option of `xpusim compare --help` (or another command's)."""
    import re
    return set(re.findall(r"^  (?:-\w \[ )?--([a-z][a-z-]*)", cli(command, "--help").stdout, re.M))


def test_python_compare_takes_every_cli_option_and_gives_the_cli_study(cli, tmp_path):
    """xpusim.compare lacked --study, --lengths-csv, --token-budget, --max-seqs, --name, --out and --no-report
    (and took only fixed --input/--output lengths); its keywords now go through the CLI's own parsing, so a
    small study with them gives the summary.json the CLI writes, field for field, and the same files."""
    import inspect
    import xpusim
    params = set(inspect.signature(xpusim.compare).parameters)
    missing = {f for f in _compare_flags(cli) if f.replace("-", "_") not in params} - {"help", "format"}
    assert not missing, missing  # --format: the module returns the dict; --help: the docstring
    study = tmp_path / "tiny_study.yaml"
    study.write_text("description: tiny\nunits: [h100-sxm]\nmodels: [%s]\ndtype: bf16\nscenario: chat\ntiers: 5,1000\n" % TINY)
    lengths = tmp_path / "lengths.csv"
    lengths.write_text("input,output\n48,8\n80,16\n")
    flags = ["--study", str(study), "--lengths-csv", str(lengths), "--token-budget", "96", "--max-seqs", "3",
             "--concurrency", "1,3", "--requests", "6", "--no-report", "--jobs", "1", "--format", "json"]
    j = json.loads(cli("compare", *flags, "--out", str(tmp_path / "cli")).stdout)
    py = xpusim.compare(study=str(study), lengths_csv=str(lengths), token_budget=96, max_seqs=3, concurrency=[1, 3],
                        requests=6, no_report=True, out=str(tmp_path / "py"))
    assert j["rows"][0]["scheduler"]["token_budget"] == 96 and j["rows"][0]["scheduler"]["max_seqs"] == 3
    assert j["rows"][0]["lengths"]["input"] == str(lengths) and j["study_definition"]["name"] == "tiny-study"
    assert _without_clock(py) == _without_clock(j)
    for f in ("summary.csv", "frontier.csv", "tiers.csv", "configs/h100-sxm.yaml"):
        assert (tmp_path / "py" / f).read_text() == (tmp_path / "cli" / f).read_text(), f
    assert _without_clock(json.loads((tmp_path / "py" / "summary.json").read_text())) == _without_clock(j)
    # input/output take the CLI's distributions too, and a bad value is the CLI's error.
    d = xpusim.compare(chips="h100-sxm", model=TINY, input="uniform:32:64", output=8, concurrency=2, requests=4)
    assert d["rows"][0]["lengths"]["input"] == "uniform:32:64"
    with pytest.raises(ValueError, match="^token_budget must be positive"):
        xpusim.compare(chips="h100-sxm", model=TINY, input=64, output=8, concurrency=2, token_budget=-1)


def test_open_loop_tiers_have_no_concurrency_but_their_rate(cli, tmp_path):
    """An open loop (--rate) has no users: summary.json wrote concurrency 0 for its tiers and frontier, tiers.csv
    and frontier.csv a 0, and the HTML report refused the study (concurrency must be >= 1). Now null / empty,
    with the arrival rate beside it (a new last column in the CSVs); a closed loop's rate is null / empty."""
    out = tmp_path / "open"
    cli("compare", "--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--rate", "40",
        "--requests", "8", "--tiers", "1", "--jobs", "1", "--out", str(out))
    assert (out / "report.html").exists()
    row = json.loads((out / "summary.json").read_text())["rows"][0]
    assert row["tiers"][0]["reachable"] and row["tiers"][0]["concurrency"] is None and row["tiers"][0]["rate"] == 40
    import csv
    tiers = list(csv.DictReader((out / "tiers.csv").open()))
    assert (tiers[0]["concurrency"], tiers[0]["rate"]) == ("", "40")
    frontier = list(csv.DictReader((out / "frontier.csv").open()))
    assert (frontier[0]["concurrency"], frontier[0]["rate"]) == ("", "40")
    closed = tmp_path / "closed"
    cli("compare", "--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--concurrency", "2",
        "--requests", "8", "--tiers", "1", "--jobs", "1", "--no-report", "--out", str(closed))
    t = json.loads((closed / "summary.json").read_text())["rows"][0]["tiers"][0]
    assert (t["concurrency"], t["rate"]) == (2, None)
    assert list(csv.DictReader((closed / "tiers.csv").open()))[0]["rate"] == ""


def test_a_system_units_configs_hold_its_resolved_system(cli, tmp_path):
    """configs/ held each unit's chip preset only: a system unit's --set NAME:key=value on its fabric was not
    recorded. Now configs/<unit>.system.resolved.yaml holds its system as it ran, as run/serve write it."""
    out = tmp_path / "sys"
    cli("compare", "--chips", "h100-sxm,hgx-h100x8:tp2", "--model", TINY, "--input", "64", "--output", "16",
        "--concurrency", "2", "--requests", "4", "--tiers", "1", "--jobs", "1", "--no-report", "--out", str(out),
        "--set", "hgx-h100x8:scale_up.link.bandwidth=225GB/s", "--set", "h100-sxm:hbm.bandwidth=3 TB/s")
    system = (out / "configs" / "hgx-h100x8_tp2.system.resolved.yaml").read_text()
    assert "bandwidth: 225 GB/s" in system, system
    assert "bandwidth: 3 TB/s" in (out / "configs" / "hgx-h100x8_tp2.yaml").read_text()
    assert not (out / "configs" / "h100-sxm.system.resolved.yaml").exists()


def test_python_serve_takes_every_cli_option_and_gives_the_cli_run(cli, tmp_path):
    """xpusim.serve lacked --lengths-csv, --token-budget, --max-seqs, --sp, --overlap and --out, took only fixed
    --input/--output lengths and checked its values apart from the CLI; its keywords now go through the CLI's own
    parsing and run, so the same options give the same report and the same files."""
    import inspect
    import xpusim
    params = set(inspect.signature(xpusim.serve).parameters)
    flags = {f for f in _compare_flags(cli, "serve")} - {"help", "format"}
    assert not {f for f in flags if f.replace("-", "_") not in params}
    lengths = tmp_path / "lengths.csv"
    lengths.write_text("input,output\n48,8\n80,16\n")
    args = ["--chip", "h100-sxm", "--model", TINY, "--lengths-csv", str(lengths), "--token-budget", "96", "--max-seqs", "3",
            "--concurrency", "1,3", "--requests", "6", "--format", "json"]
    j = json.loads(cli("serve", *args, "--out", str(tmp_path / "cli")).stdout)
    py = xpusim.serve(chip="h100-sxm", model=TINY, lengths_csv=str(lengths), token_budget=96, max_seqs=3, concurrency=[1, 3],
                      requests=6, out=str(tmp_path / "py"))
    assert j["scheduler"]["token_budget"] == 96 and j["scheduler"]["max_seqs"] == 3 and j["lengths"]["input"] == str(lengths)
    assert _without_clock(py) == _without_clock(j)
    assert (tmp_path / "py" / "config.resolved.yaml").read_text() == (tmp_path / "cli" / "config.resolved.yaml").read_text()
    d = xpusim.serve(model=TINY, input="uniform:32:64", output=8, concurrency=2, requests=4)
    assert d["lengths"]["input"] == "uniform:32:64"
    with pytest.raises(ValueError, match="^requests must be positive"):
        xpusim.serve(model=TINY, input=64, output=8, concurrency=2, requests=-3)


def test_a_set_naming_no_unit_is_refused(cli, tmp_path):
    """--set h100-sx:hbm.bandwidth=1TB/s (a typo in the unit's name) went to no unit and the study ran without
    it, exit 0. Now one line naming the override and the units; a system unit's chip is a name too."""
    p = cli("compare", "--chips", "h100-sxm,hgx-h100x8:tp2", "--model", TINY, "--concurrency", "2", "--no-report",
            "--out", str(tmp_path / "x"), "--set", "h100-sx:hbm.bandwidth=1TB/s", check=False)
    assert p.returncode == 2 and "--set h100-sx:hbm.bandwidth: 'h100-sx' is no unit of the study" in p.stderr, p.stderr
    assert "did you mean h100-sxm?" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
    import xpusim
    with pytest.raises(ValueError, match="'hgx-h100x9' is no unit of the study"):
        xpusim.compare(chips="hgx-h100x8:tp2", model=TINY, set=["hgx-h100x9:scale_up.link.bandwidth=1GB/s"])
    from xpusim.sweep_spec import load_spec
    with pytest.raises(xpusim.SpecError, match="'tpu-v6:hbm.bandwidth': 'tpu-v6' is no unit of the study"):
        load_spec({"study": "compare", "base": {"chips": ["h100-sxm", "tpu-v6e"], "model": TINY},
                   "axes": [{"key": "tpu-v6:hbm.bandwidth", "values": ["1 TB/s"]}], "metrics": {"t": "rows.0.tpot_s"}})
