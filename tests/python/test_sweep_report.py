"""xpusim.analysis: the Pareto front, one-at-a-time sensitivity, heat maps, and the sweep's report.html
(PNG and SVG plots, self-contained page) rendered in headless Chromium."""
import base64
import os
import re

import pandas as pd
import pytest

import xpusim
from xpusim import analysis

from test_compare_report import CHROMIUM, _chromium, png_size
from test_sweep import gemm_spec


def synthetic():
    df = pd.DataFrame({"point": ["p%d" % i for i in range(6)], "status": ["ok"] * 5 + ["error"],
                       "a": [1, 1, 1, 2, 2, 2], "b": [10, 20, 30, 10, 20, 30],
                       "tpot": [1.0, 2.0, 3.0, 0.5, 2.5, 9.0], "tok_s": [10.0, 30.0, 31.0, 5.0, 20.0, 99.0],
                       "error": [""] * 5 + ["boom"], "wall_s": [0.1] * 6})
    df.attrs.update(axes=["a", "b"], metrics=["tpot", "tok_s"], units={"tpot": "s", "tok_s": "tok/s"})
    return df


def test_pareto_front():
    df = synthetic()
    front = analysis.pareto(df, "tpot", "tok_s")  # lower tpot, higher tok/s; the failed point is ignored
    assert front.attrs["goals"] == ("min", "max")
    assert list(front["point"]) == ["p3", "p0", "p1", "p2"]
    assert list(analysis.pareto(df, "tpot", "tok_s", goals=("min", "min"))["point"]) == ["p3"]


def test_sensitivity_one_at_a_time():
    s = analysis.sensitivity(synthetic(), "tpot", base={"a": 1, "b": 20})
    assert list(s["axis"]) == ["b", "a"]  # largest swing first
    b = s.iloc[0]
    assert (b["min"], b["max"], b["value_at_min"], b["value_at_max"], b["base"]) == (1.0, 3.0, 10, 30, 2.0)
    t = analysis.heatmap_table(synthetic(), "b", "a", "tok_s")
    assert t.loc[1, 30] == 31.0 and t.shape == (2, 3) and t.isna().sum().sum() == 1


def test_heatmap_keeps_the_order_the_spec_gives():
    """QA (session 48): sizes given as text were sorted as strings (the nvlink_allreduce study's bytes axis
    drawn 16MiB, 1MiB, 256MiB, 64KiB); the heat map keeps the order of the points, which is the spec's."""
    df = synthetic()
    df["b"] = ["64KiB", "1MiB", "256MiB"] * 2
    df["a"] = [900, 900, 900, 225, 225, 225]
    t = analysis.heatmap_table(df, "b", "a", "tok_s")
    assert list(t.columns) == ["64KiB", "1MiB", "256MiB"] and list(t.index) == [900, 225]
    assert t.loc[900, "256MiB"] == 31.0 and t.loc[225, "64KiB"] == 5.0
    # The Pareto plot's legend too, with the axis's unit.
    df.attrs["units"]["a"] = "GB/s"
    fig = analysis.plot_pareto(df, "tpot", "tok_s", color="b")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:3] == ["b=64KiB", "b=1MiB", "b=256MiB"]
    fig = analysis.plot_pareto(df, "tpot", "tok_s", color="a")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:2] == ["a=900 GB/s", "a=225 GB/s"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "s"
    spec = gemm_spec(report={"pareto": {"x": "latency", "y": "tflops"}, "heatmap": {"x": "m", "y": "hbm.bandwidth",
                                                                                    "metric": "latency"}})
    spec["axes"][1]["values"] = [64, 128, 256]
    xpusim.sweep(spec, out=str(out), jobs=2, report=True)
    return out


def test_report_files(sweep_dir):
    for name in ("pareto", "tornado", "heatmap"):
        w, h = png_size((sweep_dir / (name + ".png")).read_bytes())
        assert w > 400 and h > 200
        svg = (sweep_dir / (name + ".svg")).read_text()
        assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    page = (sweep_dir / "report.html").read_text()
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(i) for i in imgs] == [(sweep_dir / (n + ".png")).read_bytes()
                                                  for n in ("pareto", "tornado", "heatmap")]
    for bad in ('src="http', "<link", "@import", "url("):
        assert bad not in page
    assert page.count('<tr class="ok">') == 6 and "Pareto front" in page
    assert not [f for f in os.listdir(sweep_dir) if ".tmp" in f]


def test_report_renders_in_headless_chromium(sweep_dir, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("no %s" % CHROMIUM)
    url = "file://" + str(sweep_dir / "report.html")
    shot = tmp_path / "shot.png"
    p = _chromium(tmp_path, "--screenshot=%s" % shot, "--window-size=1280,2000", url)
    assert shot.exists(), p.stderr.decode(errors="replace")[-2000:]
    from PIL import Image
    im = Image.open(shot).convert("RGB").resize((160, 250))
    assert len(im.getcolors(160 * 250)) > 200, "the screenshot looks blank"
    p = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", url)
    dom = p.stdout.decode("utf-8", errors="replace")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert 'data-plots-expected="3"' in body and 'data-plots-loaded="3"' in body, body
