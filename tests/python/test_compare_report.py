"""scripts/compare_report.py: summary.json of `xpusim compare` -> report.html and plots, rendered in Chromium.

Runs on the synthetic fixture tests/data/compare/summary.json (no simulator build needed): the files exist and
are real PNG/SVG, the page names every chip and marks the assumed price, it is self-contained, headless
Chromium renders it with every plot decoded, and bad input gives one clear line and a non-zero exit.
"""
import base64
import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "compare_report.py")
FIXTURE = os.path.join(ROOT, "tests", "data", "compare", "summary.json")
CHROMIUM = "/usr/bin/chromium"
PLOTS = ["frontier", "throughput_vs_tpot", "kernel_breakdown", "power_energy", "cost"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_report(folder, *extra):
    env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=os.path.join(str(folder), ".mpl"))
    env.pop("XPUSIM_DEBUG", None)
    return subprocess.run([sys.executable, SCRIPT, str(folder), *extra], capture_output=True, text=True, env=env,
                          timeout=120)


def png_size(data):
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def fixture_doc():
    with open(FIXTURE) as f:
        return json.load(f)


def study(tmp_path, doc, name="study"):
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(doc))
    return d


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The folder of a report made from a copy of the fixture."""
    d = tmp_path_factory.mktemp("compare") / "default"
    d.mkdir()
    shutil.copy(FIXTURE, d / "summary.json")
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    assert "report.html" in p.stdout
    return d


def row_html(page, chip):
    m = re.search(r'<tr data-chip="%s"[^>]*>(.*?)</tr>' % re.escape(chip), page, re.S)
    assert m, "no table row for %s" % chip
    return m.group(0)


def test_files_are_written(report):
    for name in PLOTS:
        png = (report / (name + ".png")).read_bytes()
        w, h = png_size(png)
        assert w >= 800 and h >= 300, (name, w, h)
        svg = (report / (name + ".svg")).read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>"), name
        assert len(svg) > 5000, name
    assert (report / "report.html").stat().st_size > 10000
    # written under temporary names and renamed: nothing half-written is left behind
    assert not [f for f in os.listdir(report) if f.endswith(".tmp")]


def test_page_content(report):
    page = (report / "report.html").read_text()
    doc = fixture_doc()
    assert doc["model"] in page and "chat" in page and "2026-11-22" in page
    for r in doc["rows"]:
        assert r["chip"] in page
        row = row_html(page, r["chip"])
        if r["price_assumed"]:
            assert 'data-price="assumed"' in row and 'class="badge assumed"' in row and ">assumed<" in row
        else:
            assert 'data-price="published"' in row and "badge assumed" not in row
        if r["throttled"]:
            assert "throttled" in row and "94%" in row
    assert row_html(page, "h100-sxm").count("1.00\u00d7") == 1  # perf/$ relative to the first chip
    assert "$0.0865" in row_html(page, "maia200")
    for r in doc["rows"]:  # the notes per row, and where each price comes from
        assert html.escape(r["note"]) in page and html.escape(r["price_source"]) in page
    assert "How to read this" in page


def test_page_is_self_contained(report):
    page = (report / "report.html").read_text()
    imgs = re.findall(r'<img class="plot"[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(imgs) == len(PLOTS)
    for b64, name in zip(imgs, PLOTS):
        assert base64.b64decode(b64) == (report / (name + ".png")).read_bytes()
    for bad in ('src="http', "src='http", "<link", "@import", "url(", 'src="//'):
        assert bad not in page, bad


def _chromium(tmp_path, *args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=%s" % (tmp_path / "chromium-profile"), *args]
    return subprocess.run(cmd, capture_output=True, timeout=90, cwd=str(tmp_path))


def test_renders_in_headless_chromium(report, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("no %s" % CHROMIUM)
    url = "file://" + str(report / "report.html")
    shot = tmp_path / "shot.png"
    p = _chromium(tmp_path, "--screenshot=%s" % shot, "--window-size=1280,2400", url)
    assert shot.exists(), p.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (1280, 2400)
    from PIL import Image  # matplotlib's own dependency
    im = Image.open(shot).convert("RGB").resize((160, 300))
    colors = im.getcolors(160 * 300)
    assert len(colors) > 200, "the screenshot looks blank"  # text, table and colored plots

    p = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", url)
    dom = p.stdout.decode("utf-8", errors="replace")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, p.stderr.decode(errors="replace")[-2000:]
    loaded = re.search(r'data-plots-loaded="(\d+)"', body.group(1))
    expected = re.search(r'data-plots-expected="(\d+)"', body.group(1))
    assert expected and int(expected.group(1)) == len(PLOTS)
    assert loaded and int(loaded.group(1)) == len(PLOTS), body.group(0)
    imgs = re.findall(r"<img [^>]*>", dom)
    assert len(imgs) == len(PLOTS)
    for tag, name in zip(imgs, PLOTS):
        nat = re.search(r'data-natural="(\d+)x(\d+)"', tag)
        assert nat, tag[:200]
        assert (int(nat.group(1)), int(nat.group(2))) == png_size((report / (name + ".png")).read_bytes())
    for r in fixture_doc()["rows"]:
        assert r["chip"] in dom


def test_tiers_verdict_and_validation_sections(report):
    page = (report / "report.html").read_text()
    doc = fixture_doc()
    assert "Interactivity tiers" in page and "Verdict" in page and "What is validated" in page
    for v in doc["verdict"]:
        assert html.escape(v) in page
    for r in doc["rows"]:
        for t in r["tiers"]:
            m = re.search(r'<tr data-tier="%g" data-chip="%s">(.*?)</tr>' % (t["tok_s_per_user"], re.escape(r["chip"])), page, re.S)
            assert m, (r["chip"], t["tok_s_per_user"])
            assert "{:,}".format(int(round(t["throughput_tok_s_per_chip"]))) in m.group(1)
        assert html.escape(r["validation"]) in page
    assert "TCO: " in page  # the TCO assumptions, the study asked for them


def _chromium_dom(tmp_path, folder):
    url = "file://" + str(folder / "report.html")
    p = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", url)
    return p.stdout.decode("utf-8", errors="replace"), p


def test_failed_chip_keeps_its_row_and_renders(tmp_path):
    """One chip made to fail (as `compare` writes it) and one unreachable tier: the report is still
    written, every chip has its row with why, and Chromium decodes every plot."""
    if "libasan" in os.environ.get("LD_PRELOAD", ""):  # scripts/test-sanitized: Chromium does not start under it
        pytest.skip("headless Chromium does not start under the preloaded ASan runtime (it runs no xpusim code)")
    doc = fixture_doc()
    doc["all_ran"] = False
    failed = {"chip": "trn2", "family": "trainium", "ran": False, "batch": None, "throughput_tok_s": None,
              "ttft_s": None, "tpot_s": None, "note": "llama-3.1-70b does not fit on trn2: weights 70 GB of 96 GB",
              "price_source": "no published per-chip price", "tiers": [
                  {"tok_s_per_user": t, "reachable": False, "why": "the chip did not run: does not fit"} for t in doc["tiers"]]}
    doc["rows"][2] = failed
    doc["rows"][0]["tiers"][2] = {"tok_s_per_user": 100, "reachable": False, "bound": "weight streaming",
                                  "bound_share": 0.7, "why": "at most 88.0 tok/s per user (concurrency 1)"}
    d = study(tmp_path, doc)
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    page = (d / "report.html").read_text()
    row = row_html(page, "trn2")
    assert 'data-ran="false"' in row and "did not run" in row
    assert html.escape(failed["note"]) in page
    assert "at most 88.0 tok/s per user" in page
    for name in PLOTS:
        png_size((d / (name + ".png")).read_bytes())
    if not os.path.exists(CHROMIUM):
        pytest.skip("no %s" % CHROMIUM)
    dom, proc = _chromium_dom(tmp_path, d)
    body = re.search(r"<body([^>]*)>", dom)
    assert body, proc.stderr.decode(errors="replace")[-2000:]
    assert 'data-plots-loaded="%d"' % len(PLOTS) in body.group(1)
    for r in doc["rows"]:
        assert re.search(r'<tr data-chip="%s"' % re.escape(r["chip"]), dom), r["chip"]


def test_no_unit_ran(tmp_path):
    """Every unit failed (`compare --chips h100-sxm --model deepseek-v3 --tiers 20`: it does not fit): the report
    is still written, each row says why, and every plot renders (the kernel breakdown had no legend entries and
    matplotlib refused a legend of 0 columns: `compare_report: internal error: ValueError`, exit 3)."""
    doc = fixture_doc()
    doc["all_ran"] = False
    rows = []
    for r in doc["rows"]:
        rows.append({"chip": r["chip"], "family": r["family"], "ran": False, "batch": None, "throughput_tok_s": None,
                     "ttft_s": None, "tpot_s": None, "note": "deepseek-v3 does not fit in %s's memory" % r["chip"],
                     "price_source": r.get("price_source", ""), "tiers": [
                         {"tok_s_per_user": t, "reachable": False, "why": "the chip did not run: does not fit"}
                         for t in doc["tiers"]]})
    doc["rows"] = rows
    d = study(tmp_path, doc)
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    page = (d / "report.html").read_text()
    for r in rows:
        assert 'data-ran="false"' in row_html(page, r["chip"])
        assert html.escape(r["note"]) in page
    for name in PLOTS:
        png_size((d / (name + ".png")).read_bytes())


def test_how_to_read_states_the_unit_s_figures(report):
    """A system unit's throughput and J/token are the unit's (every chip), its power and price per chip: the page's
    "How to read this" said "output tokens per second for one chip" and "$/Mtok = $/hour / (tokens/s x 3600) x 1e6",
    which gives an 8-chip unit's cost 8x too low (hgx-h100x8:tp8: $0.88 where the table says $7.00)."""
    page = (report / "report.html").read_text()
    howto = page[page.index("How to read this"):]
    assert "for one chip at its operating point" not in howto
    assert "output tokens per second of the serving unit (one chip, or every chip of a system unit together)" in howto
    assert "$/hour of the unit&#x27;s chips" in howto or "$/hour of the unit's chips" in howto
    # What the text states holds for a system unit as `compare` writes it (hgx-h100x8:tp8, 2026-12-06).
    row = {"devices": 8, "usd_per_hour": 4.916, "usd_per_mtok": 7.004551130312792, "throughput_tok_s": 1559.6209152029717,
           "avg_power_w": 362.1738191084208, "joules_per_token": 1.857753076163572}
    assert row["usd_per_hour"] * row["devices"] / (row["throughput_tok_s"] * 3600) * 1e6 == pytest.approx(row["usd_per_mtok"])
    assert row["avg_power_w"] * row["devices"] / row["throughput_tok_s"] == pytest.approx(row["joules_per_token"])


def test_rows_without_price_targets_or_breakdown(tmp_path):
    doc = fixture_doc()
    doc["scenario"]["ttft_slo_s"] = doc["scenario"]["tpot_slo_s"] = None
    r = doc["rows"][1]
    r.update(usd_per_hour=None, usd_per_mtok=None, perf_per_usd_rel=None, price_basis="none", price_source="",
             price_assumed=False, meets_slo=False, curve=[], kernels=[], energy=None)
    r2 = doc["rows"][2]
    del r2["energy"]["active_j"]
    doc["rows"][3]["kernels"] = [{"label": k["label"], "time_s": None, "share": k["share"]}
                                 for k in doc["rows"][3]["kernels"]]
    d = study(tmp_path, doc)
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    page = (d / "report.html").read_text()
    row = row_html(page, "tpu-v6e")
    assert 'data-price="none"' in row and "no price" in row and "n/a" in row and "misses targets" in row
    assert "no latency targets" in page
    for name in PLOTS:
        png_size((d / (name + ".png")).read_bytes())


def _bad(doc, path, value):
    doc = copy.deepcopy(doc)
    obj = doc
    for k in path[:-1]:
        obj = obj[k]
    if value is KeyError:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value
    return doc


@pytest.mark.parametrize("case, expect", [
    ("missing", "summary.json not found"),
    ("not json", "not valid JSON"),
    ("nan", "not valid JSON"),
    ("list", "top level must be an object"),
    ("no rows", "rows must be a non-empty list"),
    ("no chip", "rows[1].chip"),
    ("string throughput", "rows[0].throughput_tok_s"),
    ("bool price", "rows[3].usd_per_mtok"),
    ("bad curve", "rows[2].curve[0].tpot_s"),
])
def test_bad_input_gives_one_line(tmp_path, case, expect):
    doc = fixture_doc()
    d = tmp_path / "study"
    d.mkdir()
    text = {
        "missing": None,
        "not json": '{"model": "llama-3.1-8b", "rows": [',
        "nan": json.dumps(doc).replace('"ttft_s": 0.3996', '"ttft_s": NaN', 1),
        "list": "[]",
        "no rows": json.dumps(_bad(doc, ["rows"], [])),
        "no chip": json.dumps(_bad(doc, ["rows", 1, "chip"], KeyError)),
        "string throughput": json.dumps(_bad(doc, ["rows", 0, "throughput_tok_s"], "fast")),
        "bool price": json.dumps(_bad(doc, ["rows", 3, "usd_per_mtok"], True)),
        # (a null TPOT is a point of one output token: valid; a text is not)
        "bad curve": json.dumps(_bad(doc, ["rows", 2, "curve", 0, "tpot_s"], "slow")),
    }[case]
    if text is not None:
        (d / "summary.json").write_text(text)
    p = run_report(d)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], p.stderr
    assert not (d / "report.html").exists()


def test_missing_folder(tmp_path):
    p = run_report(tmp_path / "nope")
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1 and "no such folder" in p.stderr


def test_energy_chart_stacks_every_component_of_joules_per_token():
    """The six parts of EnergyBreakdown are disjoint: the bar of a row is its joules per token, and the clocked
    (active) power of the cores and uncore is one of its segments, not a total the others are subtracted from."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("compare_report", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for r in fixture_doc()["rows"]:
        if not r.get("energy"):
            continue
        parts = {k: v for k, _, _, v in mod._energy_parts(r)}
        assert parts["active_j"] == r["energy"]["active_j"] > 0, r["chip"]
        assert abs(sum(parts.values()) - r["joules_per_token"]) <= 1e-6 * r["joules_per_token"] + 1e-9, r["chip"]


def test_searched_layouts_are_stated_and_a_unit_with_none_keeps_its_row(tmp_path):
    """A system unit whose layout was searched shows the chosen layout and why each other one was not
    chosen; a unit no layout fits keeps its row with the reason, and Chromium still renders every row."""
    doc = fixture_doc()
    doc["all_ran"] = False
    crit = "screened on the chip model before any engine run: the layout reaching the most interactivity tiers"
    r0 = doc["rows"][0]
    r0["chip"], r0["layout"] = "hgx-h100x8", {"name": "dp4 x tp2", "devices": 8}
    r0["layout_search"] = {"criterion": crit, "chosen": "dp4 x tp2", "tried": [
        {"layout": "dp8 x tp1", "fits": False, "ran": False, "chosen": False,
         "verdict": "does not fit: weights 70.6 GB + activations 1.2 GB per chip of 80 GB leave a KV cache of 0 tokens"},
        {"layout": "dp4 x tp2", "fits": True, "ran": True, "chosen": True, "verdict": "chosen: 900 tok/s per chip at 20"},
        {"layout": "tp8", "fits": True, "ran": True, "chosen": False, "verdict": "slower: 500 tok/s per chip at 20"}]}
    failed = {"chip": "trn2-48xl", "family": "trainium", "ran": False, "batch": None, "throughput_tok_s": None,
              "ttft_s": None, "tpot_s": None, "layout": None,
              "note": "no layout of trn2-48xl serves llama-3.1-70b: dp16 x tp1 does not fit",
              "layout_search": {"criterion": crit, "chosen": None, "tried": [
                  {"layout": "dp16 x tp1", "fits": False, "ran": False, "chosen": False, "verdict": "does not fit: ..."}]},
              "tiers": [{"tok_s_per_user": t, "reachable": False, "why": "the chip did not run"} for t in doc["tiers"]]}
    doc["rows"][2] = failed
    doc["study_definition"] = {"name": "frontier", "file": "workloads/studies/frontier.yaml", "waiting": ["deepseek-v3"],
                               "waiting_reason": "expert parallelism in serve"}
    d = study(tmp_path, doc)
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    page = (d / "report.html").read_text()
    assert "<h2>Layouts</h2>" in page and html.escape(crit) in page
    for t in r0["layout_search"]["tried"] + failed["layout_search"]["tried"]:
        assert html.escape(t["verdict"]) in page, t["layout"]
    assert "<b>dp4 x tp2</b>" in page
    assert "also covers deepseek-v3" in page
    assert 'data-ran="false"' in row_html(page, "trn2-48xl")
    if "libasan" in os.environ.get("LD_PRELOAD", "") or not os.path.exists(CHROMIUM):
        pytest.skip("no headless Chromium here")
    dom, proc = _chromium_dom(tmp_path, d)
    assert re.search(r"<body([^>]*)>", dom), proc.stderr.decode(errors="replace")[-2000:]
    for r in doc["rows"]:
        assert re.search(r'<tr data-chip="%s"' % re.escape(r["chip"]), dom), r["chip"]


def test_power_manager_of_the_best_point_is_in_the_notes(tmp_path):
    """The serving power manager's figures that `xpusim serve` prints under its table (summary.json's row
    `power_manager`) are in the report's notes; a row without them (no power model) renders as before."""
    doc = fixture_doc()
    doc["rows"][0]["power_manager"] = {
        "boost_s": 0.25, "short_term_s": 0.5, "settling_s": 0.1, "held_s": 12.0, "idle_s": 0.0, "boost_ends_s": 0.25,
        "held_from_s": 3.5, "max_short_term_avg_w": 812.0, "max_short_term_avg_unboosted_w": 700.0,
        "max_limit_avg_w": 705.0, "max_limit_avg_held_w": 699.0, "min_clock_ratio": 0.9}
    doc["rows"][1]["power_manager"] = dict(doc["rows"][0]["power_manager"], held_from_s=None, max_limit_avg_held_w=None,
                                           max_short_term_avg_unboosted_w=None)
    d = study(tmp_path, doc)
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    page = (d / "report.html").read_text()
    assert ("Power manager at the best point: 250 ms at boost, 500 ms at the short-term limit, TDP average reached at 3.50 s, "
            "held 12.0 s (highest 1 s average there 699 W); highest 60 ms average 812 W (700 W without boost in the "
            "window), 1 s 705 W.") in page
    assert page.count("Power manager at the best point") == 2 and "TDP average not reached" in page
    assert "highest 60 ms average 812 W (every window held boost)" in page  # null: no window free of boost
    doc["rows"][0]["power_manager"] = "hot"
    bad = run_report(study(tmp_path, doc, "bad"))
    assert bad.returncode != 0 and "power_manager must be an object or null" in bad.stderr


def test_power_manager_note_names_its_windows_and_short_term_limit(tmp_path):
    """Since session 43 `power_manager.limits` gives the preset's windows and short-term limit with its source: the note
    labels the averages with those windows (it said 60 ms and 1 s on every chip) and names the limit and its source."""
    doc = fixture_doc()
    pm = {"boost_s": 0.037, "short_term_s": 0.9, "settling_s": 0.01, "held_s": 3.0, "idle_s": 0.0, "boost_ends_s": 0.037,
          "held_from_s": 0.95, "max_short_term_avg_w": 947.0, "max_short_term_avg_unboosted_w": 718.0,
          "max_limit_avg_w": 731.0, "max_limit_avg_held_w": 700.0, "min_clock_ratio": 0.8,
          "limits": {"tdp_w": 700.0, "limit_window_s": 1.0, "peak_limit_w": 1090.0, "short_term_limit_w": 718.0,
                     "short_term_window_s": 0.06, "short_term_source": "calibration from a trace"}}
    doc["rows"][0]["power_manager"] = pm
    doc["rows"][1]["power_manager"] = dict(pm, limits=dict(pm["limits"], short_term_limit_w=0.0, short_term_window_s=0.05,
                                                           short_term_source=None))
    d = study(tmp_path, doc)
    p = run_report(d)
    assert p.returncode == 0, p.stderr
    page = (d / "report.html").read_text()
    assert "highest 60 ms average 947 W (718 W without boost in the window), 1 s 731 W." in page
    assert ("Its short-term limit, 718 W on the 60 ms average, caps each iteration once the boost from idle has ended, so a "
            "window still holding the boost averages above it (calibration from a trace).") in page
    assert "highest 50 ms average 947 W" in page and page.count("Its short-term limit") == 1
    doc["rows"][0]["power_manager"] = dict(pm, limits=3)
    bad = run_report(study(tmp_path, doc, "bad"))
    assert bad.returncode != 0 and "power_manager.limits must be an object or null" in bad.stderr


def test_tpot_target_label_clear_of_the_legend():
    """QA (session 48): the TPOT target's label sat at the foot of its line, and the line stands at 1/1.15 of the axis
    whenever every point meets the target (the shaded span runs 15% past it), right under the legend in the lower
    right corner: the two were drawn over each other on the default compare's plot."""
    import importlib.util
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    spec = importlib.util.spec_from_file_location("compare_report", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = mod.check_summary(fixture_doc())
    tpots = [c["tpot_s"] for r in doc["rows"] if not r["failed"] for c in (r["curve"] or [r])]
    doc["scenario"]["tpot_slo_s"] = 20 * max(tpots)  # every point meets it: the line stands at the right
    fig = mod.plot_throughput_vs_tpot(plt, doc)
    fig.canvas.draw()
    ax = fig.axes[0]
    label = [t for t in ax.texts if t.get_text().startswith("TPOT target")]
    assert len(label) == 1
    r = fig.canvas.get_renderer()
    box, legend = label[0].get_window_extent(r), ax.get_legend().get_window_extent(r)
    assert not box.overlaps(legend), (box, legend)
    assert ax.get_window_extent(r).contains(box.x0, box.y0) and ax.get_window_extent(r).contains(box.x1, box.y1)
    plt.close(fig)


def test_frontier_legend_covers_no_point_nor_label():
    """QA (session 50): the frontier's legend sat in the upper right corner, where a chip whose throughput holds up as
    its users speed up ends its curve: its last point and label "c=1" were drawn under the legend. The legend is
    drawn beside the axes; no label's box and no point may fall inside its box."""
    import importlib.util
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    spec = importlib.util.spec_from_file_location("compare_report", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    raw = fixture_doc()
    top = max(c["throughput_tok_s_per_chip"] for r in raw["rows"] for c in (r.get("frontier") or []))
    fast = max(c["tok_s_per_user"] for r in raw["rows"] for c in (r.get("frontier") or []))
    for c in raw["rows"][0]["frontier"]:  # a flat frontier that reaches the upper right corner
        c["throughput_tok_s_per_chip"] = top * (0.95 + 0.05 * c["tok_s_per_user"] / fast)
        c["tok_s_per_user"] *= fast / max(f["tok_s_per_user"] for f in raw["rows"][0]["frontier"])
    doc = mod.check_summary(raw)
    fig = mod.plot_frontier(plt, doc)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(r)
    labels = [t for t in ax.texts if t.get_text().startswith("c=")]
    assert labels
    for t in labels:
        assert not t.get_window_extent(r).overlaps(legend), (t.get_text(), t.get_window_extent(r), legend)
    for line in ax.lines:
        for x, y in ax.transData.transform(np.column_stack(line.get_data())):
            assert not legend.contains(x, y), (line.get_label(), x, y, legend)
    plt.close(fig)
