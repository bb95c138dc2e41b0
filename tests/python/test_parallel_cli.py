"""Parallel layouts through the CLI and the module: one path (same numbers), the layout in every report,
collectives in the breakdown, and bad layouts refused in one line naming the flag."""
import json
import os

import pytest
import xpusim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = ("run", "--system", "hgx-h100x8", "--model", "llama-3.1-8b", "--tp", "8", "--batch", "16", "--input", "512")


def test_run_on_a_system_reports_its_layout_and_collectives(cli):
    j = json.loads(cli(*RUN, "--format", "json").stdout)
    assert j["layout"]["tp"] == 8 and j["layout"]["devices"] == 8 and j["system"] == "hgx-h100x8"
    ks = j["steps"][0]["kernels"]
    coll = [k for k in ks if k["collective_bytes"]]
    assert coll and all(k["algorithm"] for k in coll)
    assert {k["op"] for k in coll} == {"allreduce"}
    assert 0 < sum(k["share"] for k in coll) < 1
    # The module gives the same step for the same question.
    r = xpusim.run(model="llama-3.1-8b", system="hgx-h100x8", tp=8, batch=16, input=512)
    assert r["tpot_s"] == j["tpot_s"]
    table = cli(*RUN).stdout
    assert "hgx-h100x8 (8x h100-sxm, tp8)" in table and "memory per device" in table


def test_devices_picks_the_chips_default_system():
    a = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", devices=2, tp=2, batch=8, input=256)
    b = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", batch=8, input=256)
    assert a["devices"] == 2 and a["tpot_s"] < b["tpot_s"]


def test_serve_on_a_system(cli):
    j = json.loads(cli("serve", "--system", "hgx-h100x8", "--tp", "8", "--model", "llama-3.1-8b", "--concurrency", "4",
                       "--requests", "8", "--input", "256", "--output", "16", "--format", "json").stdout)
    assert j["devices"] == 8 and j["layout"]["name"] == "tp8"
    p = j["curve"][0]
    assert p["throughput_tok_s_per_chip"] == pytest.approx(p["throughput_tok_s"] / 8)


def test_compare_takes_serving_units(cli, tmp_path):
    p = cli("compare", "--chips", "hgx-h100x8:tp2", "--model", "llama-3.1-8b", "--input", "256", "--output", "16",
            "--max-batch", "4", "--name", "units_test", "--out", str(tmp_path / "units_test"), "--no-report", check=False)
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "units_test" / "summary.json").read_text())
    row = s["rows"][0]
    assert row["chip"] == "hgx-h100x8:tp2" and row["devices"] == 2 and row["ran"]
    assert row["layout"]["name"] == "tp2" and row["layout_search"] is None  # an explicit layout is not searched


@pytest.mark.parametrize("args,needle", [
    (("run", "--tp", "2"), "--system"),
    (("run", "--system", "hgx-h100x8", "--tp", "4"), "has 8 chips"),
    (("run", "--system", "hgx-h100x8", "--tp", "3", "--dp", "1"), "--tp 3"),
    (("run", "--system", "hgx-h100x8", "--ep", "8", "--tp", "8"), "--ep 8"),
    (("run", "--system", "hgx-h100x8", "--pp", "64", "--tp", "1", "--dp", "1"), "--pp 64"),
    (("run", "--system", "hgx-h100x8", "--tp", "8", "--devices", "8"), "--devices"),
    (("run", "--nodes", "2"), "--nodes"),
    (("run", "--system", "hgx-h100x8", "--chip", "tpu-v6e", "--tp", "8"), "--chip tpu-v6e"),
    (("run", "--system", "hgx-h100x8", "--tp", "4", "--dp", "2", "--batch", "3"), "--dp 2"),
    (("serve", "--system", "hgx-h100x8", "--tp", "4", "--pp", "2"), "serve"),
    (("compare", "--chips", "h100-sxm:tp2"), "system preset"),
    (("compare", "--chips", "hgx-h100x8:tp9"), "tpN"),
])
def test_bad_layouts_are_one_line(cli, args, needle):
    p = cli(*args, check=False)
    assert p.returncode != 0
    line = p.stderr.strip()
    assert line.count("\n") == 0 and needle in line, line


def test_compare_with_a_preset_path_writes_its_config_inside_the_study(cli, tmp_path):
    preset = os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml")
    out = tmp_path / "path_test"
    p = cli("compare", "--chips", preset, "--model", "llama-3.1-8b", "--input", "128", "--output", "8",
            "--max-batch", "2", "--name", "path_test", "--out", str(out), "--no-report", check=False)
    assert p.returncode == 0, p.stderr
    assert (out / "configs" / "h100_sxm.yaml").is_file()
    assert sorted(x.name for x in (out / "configs").iterdir()) == ["h100_sxm.yaml"]


def test_out_of_memory_advice_names_a_layout_that_fits(cli):
    p = cli("run", "--model", "llama-3.1-70b", "--system", "hgx-h100x8", "--tp", "1", "--dp", "8", "--batch", "8",
            check=False)
    assert p.returncode == 2 and "on hgx-h100x8: --tp 2 --dp 4" in p.stderr, p.stderr
    p = cli("run", "--model", "llama-3.1-70b", "--batch", "8", check=False)  # one chip: a shipped system that fits
    assert p.returncode == 2 and "a system that fits: --system hgx-h100x8 --tp 2 --dp 4" in p.stderr, p.stderr


def test_negative_devices_from_python_are_refused():
    with pytest.raises(xpusim.InputError, match="devices -2"):
        xpusim.run(model="llama-3.1-8b", devices=-2)
