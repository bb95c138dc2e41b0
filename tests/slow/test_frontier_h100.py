"""`xpusim compare --study frontier-h100` end to end, as the study is defined (workloads/studies/
frontier_h100.yaml: both models on the 8-chip units, minutes of simulation, CTest label `slow`).

DeepSeek-V3 at FP8 does not fit 8x H100 nor a TPU v6e-8 slice: the study still writes every model's
report (JSON, CSVs, HTML), those rows say why and which unit would hold it, every other row ran, and
the exit status is 1 (not every unit ran). tests/python covers the same paths on tiny models and on
single units; this is the named study itself."""
import csv
import json
import os
import subprocess

BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.join(BUILD, "xpusim")

NOT_FIT = {"hgx-h100x8", "tpu-v6e-8"}  # DeepSeek-V3's rows that cannot hold it


def test_frontier_h100_study_writes_every_row_and_exits_1(tmp_path):
    out = tmp_path / "frontier-h100"
    p = subprocess.run([EXE, "compare", "--study", "frontier-h100", "--out", str(out)], capture_output=True, text=True,
                       env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"), timeout=3000)
    assert p.returncode == 1, p.stderr[-3000:]
    last = p.stderr.strip().splitlines()[-1]
    for unit in NOT_FIT:
        assert unit in last, last
    units = {"llama-3.1-70b": ["hgx-h100x8", "dgx-b200x8", "tpu-v6e-8", "trn2-48xl", "maia200-quads"],
             "deepseek-v3": ["hgx-h100x8", "hgx-h200x8", "dgx-b200x8", "tpu-v6e-8", "trn2-48xl", "maia200-quads"]}
    for model, chips in units.items():
        folder = out / model
        s = json.loads((folder / "summary.json").read_text())
        assert s["model"] == model and s["study_definition"]["name"] == "frontier-h100"
        assert s["tiers"] == [20, 50, 100] and s["all_ran"] is (model == "llama-3.1-70b")
        assert [r["chip"] for r in s["rows"]] == chips
        for r in s["rows"]:
            if model == "deepseek-v3" and r["chip"] in NOT_FIT:
                assert not r["ran"], r["chip"]
                # Why: the weights against the unit's memory, every layout tried, and a unit that holds it.
                assert "does not fit" in r["note"] and "every layout kind searched" in r["note"], r["note"]
                assert "a unit that holds it: --chips " in r["note"], r["note"]
                assert r["layout_search"]["tried"] and all(not t["fits"] for t in r["layout_search"]["tried"])
                assert all(not t["reachable"] and t["why"] for t in r["tiers"]), r["tiers"]
                continue
            assert r["ran"], (model, r["chip"], r.get("note"))
            assert r["devices"] >= 8 and r["frontier"] and r["layout"]["name"]
            chosen = [t for t in r["layout_search"]["tried"] if t["chosen"]]
            assert len(chosen) == 1 and chosen[0]["layout"] == r["layout"]["name"]
            for f in r["frontier"]:
                assert f["throughput_tok_s_per_chip"] > 0 and f["tok_s_per_user"] > 0 and f["tok_s_per_mw"] > 0
        assert len(s["verdict"]) == 3
        with open(folder / "summary.csv") as f:
            rows = list(csv.DictReader(f))
        assert [r["chip"] for r in rows] == chips
        tiers_csv = (folder / "tiers.csv").read_text().splitlines()
        assert len(tiers_csv) == 1 + 3 * len(chips)
        page = (folder / "report.html").read_text()
        for c in chips:
            assert 'data-chip="%s"' % c in page, c
        if model == "deepseek-v3":
            assert page.count('data-ran="false"') >= len(NOT_FIT)
