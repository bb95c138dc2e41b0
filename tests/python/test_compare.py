"""`xpusim serve` and `xpusim compare` end to end on a tiny model (the full default study is the main job)."""
import json
import os

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
    p = cli("compare", "--scenario", "party", "--out", str(tmp_path / "y"), check=False)
    assert p.returncode != 0 and "chat or long" in p.stderr
