"""Analysis of a sweep table (xpusim.sweep / `xpusim sweep`): Pareto fronts, one-at-a-time sensitivity
with a tornado chart, heat maps over two axes, and report.html combining them.

    >>> from xpusim import analysis
    >>> df = analysis.load("results/sweeps/maia_decode")
    >>> front = analysis.pareto(df, "tpot", "tokens_per_s")             # goals guessed from names/units
    >>> analysis.plot_pareto(df, "tpot", "tokens_per_s", "front")       # front.png + front.svg
    >>> analysis.sensitivity(df, "tpot")                                 # one row per axis
    >>> analysis.report("results/sweeps/maia_decode")                    # report.html + plots

Figures are drawn without pyplot (Agg canvas), so this runs headless; every plot is written as PNG
and SVG, and report.html embeds the PNGs (self-contained).
"""
import base64
import html
import json
import os
import re
import sys

_MAXIMIZE = re.compile(r"(tok_s|tokens_per_s|throughput|tflops|flops_per|perf|share_of_peak|utilization|per_usd|"
                       r"per_watt|bandwidth)", re.I)


def goal(name, unit=""):
    """'max' for throughput-like metrics, 'min' for times, power, energy and cost."""
    return "max" if _MAXIMIZE.search(name) or ("/s" in (unit or "") and unit != "s") else "min"


def load(out):
    """The table of a sweep folder as a DataFrame (units, axes and metrics in df.attrs)."""
    import h5py
    import pandas as pd
    df = pd.read_csv(os.path.join(out, "results.csv"), float_precision="round_trip")
    units, names = {}, []
    for c in df.columns:
        m = re.fullmatch(r"(.*) \[(.*)\]", c)
        names.append(m.group(1) if m else c)
        if m:
            units[m.group(1)] = m.group(2)
    df.columns = names
    df["error"] = df["error"].fillna("")
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        df.attrs["axes"] = json.loads(f.attrs["axes"])
        df.attrs["metrics"] = json.loads(f.attrs["metrics"])
        df.attrs["study"] = str(f.attrs["study"])
        df.attrs["base"] = json.loads(f.attrs.get("base", "{}"))
    df.attrs["units"] = units
    df.attrs["out"] = os.path.abspath(out)
    return df


def _ok(df, *cols):
    import pandas as pd
    d = df[df["status"] == "ok"].copy()
    for c in cols:
        d[c] = pd.to_numeric(d[c], errors="coerce")
    return d.dropna(subset=list(cols))


def pareto(df, x, y, goals=None):
    """The points no other point beats on both metrics (goals: ('min'|'max', 'min'|'max'), guessed
    from the names and units when not given), sorted by x."""
    units = df.attrs.get("units", {})
    gx, gy = goals or (goal(x, units.get(x, "")), goal(y, units.get(y, "")))
    d = _ok(df, x, y)
    sx = 1 if gx == "min" else -1
    sy = 1 if gy == "min" else -1
    d = d.assign(_x=sx * d[x], _y=sy * d[y]).sort_values(["_x", "_y"])
    keep, best = [], float("inf")
    for i, r in d.iterrows():
        if r["_y"] < best:
            keep.append(i)
            best = r["_y"]
    out = d.loc[keep].drop(columns=["_x", "_y"])
    out.attrs = dict(df.attrs, goals=(gx, gy))
    return out


def _base_point(df, base=None):
    """Per axis, the given base value, else the spec's (df.attrs['base']: an axis's `base:` or its
    middle value), else the middle of the values in the table (for one-at-a-time analysis)."""
    out = {}
    for a in df.attrs.get("axes", []):
        values = list(dict.fromkeys(df[a].tolist()))
        try:
            values = sorted(values)
        except TypeError:
            pass
        out[a] = (base or {}).get(a, df.attrs.get("base", {}).get(a, values[len(values) // 2]))
    return out


def _others_at_base(df, axis, base):
    mask = df["status"] == "ok"
    for a, v in base.items():
        if a != axis:
            mask &= df[a].astype(str) == str(v)
    return df[mask]


def sensitivity(df, metric, base=None):
    """One-at-a-time sensitivity: for each axis, the metric's range while the other axes stay at the
    base point. Rows: axis, low/high axis value, metric at them, base metric, swing; largest swing first."""
    import pandas as pd
    base = _base_point(df, base)
    rows = []
    base_rows = _others_at_base(df, None, base)
    base_val = pd.to_numeric(base_rows[metric], errors="coerce").dropna()
    base_val = float(base_val.iloc[0]) if len(base_val) else float("nan")
    for a in df.attrs.get("axes", []):
        d = _others_at_base(df, a, base).copy()
        d[metric] = pd.to_numeric(d[metric], errors="coerce")
        d = d.dropna(subset=[metric])
        if len(d) < 2:
            continue
        lo, hi = d.loc[d[metric].idxmin()], d.loc[d[metric].idxmax()]
        rows.append({"axis": a, "value_at_min": lo[a], "value_at_max": hi[a], "min": float(lo[metric]),
                     "max": float(hi[metric]), "base": base_val, "swing": float(hi[metric] - lo[metric])})
    out = pd.DataFrame(rows, columns=["axis", "value_at_min", "value_at_max", "min", "max", "base", "swing"])
    out = out.sort_values("swing", ascending=False).reset_index(drop=True)
    out.attrs = {"metric": metric, "base_point": base}
    return out


def _figure(w=8, h=5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    """Writes path.png and path.svg (temporary names, renamed); returns the PNG path."""
    base = os.path.splitext(path)[0] if path.endswith((".png", ".svg")) else path
    for ext in ("png", "svg"):
        tmp = "%s.tmp.%s" % (base, ext)
        fig.savefig(tmp, format=ext, bbox_inches="tight")
        os.replace(tmp, "%s.%s" % (base, ext))
    return base + ".png"


def _label(df, c):
    u = df.attrs.get("units", {}).get(c)
    return "%s [%s]" % (c, u) if u else c


def plot_pareto(df, x, y, path=None, goals=None, color=None):
    """All points and the Pareto front of metrics x and y; returns the Figure (saved as PNG+SVG with path)."""
    front = pareto(df, x, y, goals)
    d = _ok(df, x, y)
    fig = _figure()
    ax = fig.add_subplot(111)
    color = color or next((a for a in df.attrs.get("axes", []) if d[a].nunique() > 1), None)
    if color is not None and d[color].nunique() <= 12:
        unit = df.attrs.get("units", {}).get(color)
        for v, g in d.groupby(color, sort=False):  # the spec's order, with the axis's unit (as heatmap_table)
            ax.scatter(g[x], g[y], s=22, alpha=0.7, label="%s=%s%s" % (color, v, " " + unit if unit else ""))
    else:
        ax.scatter(d[x], d[y], s=22, alpha=0.7, color="#9c9c9c", label="points")
    ax.plot(front[x], front[y], "-o", color="black", lw=1.5, ms=9, mfc="none", label="Pareto front")
    gx, gy = front.attrs["goals"]
    ax.set_xlabel("%s (%s is better)" % (_label(df, x), "lower" if gx == "min" else "higher"))
    ax.set_ylabel("%s (%s is better)" % (_label(df, y), "lower" if gy == "min" else "higher"))
    ax.set_title("Pareto front: %s vs %s (%d of %d points)" % (y, x, len(front), len(d)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if path:
        _save(fig, path)
    return fig


def plot_tornado(df, metric, path=None, base=None):
    """Tornado chart of one-at-a-time sensitivity of `metric`; returns the Figure."""
    s = sensitivity(df, metric, base)
    fig = _figure(8, max(2.5, 0.6 * len(s) + 1.5))
    ax = fig.add_subplot(111)
    b = s["base"].iloc[0] if len(s) else 0
    for i, r in enumerate(s.iloc[::-1].itertuples()):
        ax.barh(i, r.max - r.min, left=r.min, color="#4e79a7", alpha=0.85)
        ax.text(r.min, i, " %s " % r.value_at_min, va="center", ha="right", fontsize=8)
        ax.text(r.max, i, " %s " % r.value_at_max, va="center", ha="left", fontsize=8)
    if len(s):  # room for the value labels at both ends of the bars (bars pin the autoscale to their base)
        lo, hi = s["min"].min(), s["max"].max()
        pad = 0.2 * (hi - lo) or 0.1 * abs(hi) or 1
        ax.set_xlim(lo - pad, hi + pad)
    ax.set_yticks(range(len(s)))
    ax.set_yticklabels([_label(df, a) for a in s["axis"].iloc[::-1]])
    if b == b:
        ax.axvline(b, color="#e15759", lw=1.5, label="base point")
        ax.legend(fontsize=8)
    ax.set_xlabel(_label(df, metric))
    ax.set_title("Sensitivity of %s, one axis at a time around %s" % (
        metric, ", ".join("%s=%s" % kv for kv in s.attrs["base_point"].items())), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    if path:
        _save(fig, path)
    return fig


def heatmap_table(df, x, y, metric, base=None):
    """metric over axes x (columns) and y (rows), the other axes at the base point."""
    import pandas as pd
    b = _base_point(df, base)
    d = df[df["status"] == "ok"]
    for a, v in b.items():
        if a not in (x, y):
            d = d[d[a].astype(str) == str(v)]
    d = d.assign(**{metric: pd.to_numeric(d[metric], errors="coerce")})
    t = d.pivot_table(index=y, columns=x, values=metric, aggfunc="first")
    # In the order the points give the values (the spec's), not pivot_table's sort: sizes given as text
    # (64KiB, 1MiB, 16MiB, 256MiB) sorted as strings came out 16MiB, 1MiB, 256MiB, 64KiB (QA, session 48).
    return t.reindex(index=[v for v in pd.unique(d[y]) if v in t.index], columns=[v for v in pd.unique(d[x]) if v in t.columns])


def plot_heatmap(df, x, y, metric, path=None, base=None):
    """Heat map of `metric` over two axes (values printed in the cells); returns the Figure."""
    t = heatmap_table(df, x, y, metric, base)
    fig = _figure(8, 5.5)
    ax = fig.add_subplot(111)
    im = ax.imshow(t.values, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(t.columns)))
    ax.set_xticklabels([str(c) for c in t.columns], rotation=30, fontsize=8)
    ax.set_yticks(range(len(t.index)))
    ax.set_yticklabels([str(i) for i in t.index], fontsize=8)
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            v = t.values[i, j]
            if v == v:
                ax.text(j, i, "%.3g" % v, ha="center", va="center", fontsize=7, color="white")
    ax.set_xlabel(_label(df, x))
    ax.set_ylabel(_label(df, y))
    ax.set_title("%s" % _label(df, metric))
    fig.colorbar(im, ax=ax)
    if path:
        _save(fig, path)
    return fig


def _numeric(df, c):
    import pandas as pd
    return pd.to_numeric(df[c], errors="coerce").notna().sum() > 0


def _choices(df, spec_report):
    axes = [a for a in df.attrs.get("axes", []) if df[a].nunique() > 1]
    metrics = [m for m in df.attrs.get("metrics", []) if _numeric(df[df["status"] == "ok"], m)]
    r = spec_report or {}
    p = r.get("pareto")
    pareto_xy = (p["x"], p["y"]) if isinstance(p, dict) else tuple(p) if p else tuple(metrics[:2])
    h = r.get("heatmap") or {}
    heat = (h.get("x", axes[0] if axes else None), h.get("y", axes[1] if len(axes) > 1 else None),
            h.get("metric", metrics[0] if metrics else None))
    sens = (r.get("sensitivity") or {}).get("metric", metrics[0] if metrics else None)
    return pareto_xy, heat, sens


def report(out, spec=None, df=None):
    """Writes pareto/tornado/heatmap PNG+SVG and a self-contained report.html into the sweep folder;
    returns the path of report.html."""
    df = df if df is not None else load(out)
    if spec is None:  # the spec's report choices and name, from the copy the sweep keeps
        from .sweep_spec import load_spec
        for name in ("spec.yaml", "spec.json"):
            try:
                path = os.path.join(out, name)
                if name.endswith("json"):
                    with open(path) as f:
                        path = json.load(f)
                spec = load_spec(path)
                break
            except Exception:  # no copy, or it no longer loads here: default choices
                spec = None
    pareto_xy, (hx, hy, hm), sm = _choices(df, spec.report if spec is not None else None)
    px, py = pareto_xy if len(pareto_xy) == 2 else (None, None)
    plots = []  # each plot only where the table has numbers for it (a sweep may have failed points)
    if px and py and len(_ok(df, px, py)):
        plots.append(("Pareto front", _save(plot_pareto(df, px, py), os.path.join(out, "pareto"))))
    if sm and len(_ok(df, sm)) and len(sensitivity(df, sm)):
        plots.append(("Sensitivity (tornado)", _save(plot_tornado(df, sm), os.path.join(out, "tornado"))))
    if hx and hy and hm and len(_ok(df, hm)) and heatmap_table(df, hx, hy, hm).notna().any().any():
        plots.append(("Heat map", _save(plot_heatmap(df, hx, hy, hm), os.path.join(out, "heatmap"))))
    page = _html(df, plots, spec)
    path = os.path.join(out, "report.html")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)
    return path


def _html(df, plots, spec):
    name = spec.name if spec is not None else os.path.basename(df.attrs.get("out", "sweep"))
    counts = df["status"].value_counts().to_dict()
    units = df.attrs.get("units", {})
    head = "".join("<th>%s</th>" % html.escape(_label(df, c)) for c in df.columns if c != "wall_s")
    body = []
    for r in df.head(500).itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, r):
            if c == "wall_s":
                continue
            text = "%.4g" % v if isinstance(v, float) else ("" if v is None else str(v))
            cells.append("<td>%s</td>" % html.escape(text))
        body.append('<tr class="%s">%s</tr>' % (html.escape(str(r[1])), "".join(cells)))
    figs = []
    for title, png in plots:
        with open(png, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        figs.append('<figure><figcaption>%s</figcaption><img class="plot" alt="%s" src="data:image/png;base64,%s" '
                    'onload="window.__plots=(window.__plots||0)+1;document.body.dataset.plotsLoaded=window.__plots">'
                    '<p class="files">%s, %s</p></figure>' % (
                        html.escape(title), html.escape(title), b64, html.escape(os.path.basename(png)),
                        html.escape(os.path.basename(png[:-4] + ".svg"))))
    summary = ", ".join("%d %s" % (n, html.escape(s)) for s, n in sorted(counts.items()))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xpusim sweep: {name}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 12px; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; }}
tr.error td {{ background: #fde2e2; }} tr.dropped td {{ color: #999; }}
figure {{ display: inline-block; margin: 1em; vertical-align: top; }} img.plot {{ max-width: 760px; }}
.files {{ font-size: 11px; color: #666; }}
</style></head>
<body data-plots-expected="{n}" data-plots-loaded="0">
<h1>Sweep {name}</h1>
<p>study: <b>{study}</b>; {total} points ({summary}); axes: {axes}; metrics: {metrics}.</p>
<p>How to read this: the Pareto front keeps the points no other point beats on both metrics; the tornado
varies one axis at a time around the base point (each axis's `base:` in the spec, else its middle value) and shows the metric's
range; the heat map shows a metric over two axes with the other axes at the base point.</p>
{figs}
<h2>All points</h2>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<p class="files">units: {units}</p>
</body></html>
""".format(name=html.escape(name), n=len(plots), study=html.escape(df.attrs.get("study", "")), total=len(df),
           summary=summary, axes=html.escape(", ".join(df.attrs.get("axes", []))),
           metrics=html.escape(", ".join(df.attrs.get("metrics", []))), figs="\n".join(figs), head=head,
           body="\n".join(body), units=html.escape(json.dumps(units)))


def main(argv):
    """`python3 -m xpusim report DIR`: (re)writes DIR/report.html from DIR/results.csv."""
    usage = "usage: python3 -m xpusim report DIR   (a folder written by xpusim sweep)"
    if argv in (["-h"], ["--help"]):  # asked for: the usage on stdout, success
        print(usage)
        return 0
    if len(argv) != 1:
        print(usage, file=sys.stderr)
        return 2
    if not os.path.isfile(os.path.join(argv[0], "results.csv")):
        print("xpusim: error: %s: no results.csv (not a sweep folder)" % argv[0], file=sys.stderr)
        return 2
    print(report(argv[0]))
    return 0
