"""Plots with matplotlib: a timeline of units, utilization over time, and a roofline with kernels on it.

    >>> from xpusim import Trace, plots
    >>> t = Trace("run/trace.h5")
    >>> plots.timeline(t, "timeline.png", units="sm0.")          # what SM 0's engines did, and when
    >>> plots.utilization(t, "busy.svg", bin_s=50e-9)             # busy share of each unit group
    >>> plots.roofline(xpusim.kernel("gemm", m=4096, n=4096, k=4096), path="roof.png")

Every function returns the matplotlib Figure; with `path` it also saves it, as PNG, SVG or PDF by
the extension. Figures are made without pyplot (no window, nothing to close) unless pyplot is already
imported, in which case they are pyplot figures so that plt.show() displays them. Without a display
the Agg backend is chosen, so the functions work on a headless machine and in CI.
"""
import json
import os
import re
import sys

import numpy as np

from .trace import Trace

KIND_COLORS = {"dma_read": "#4e79a7", "dma_write": "#59a14f", "tile_compute": "#e15759",
               "vector_op": "#f28e2b", "sync": "#9c9c9c"}
_FORMATS = ("png", "svg", "pdf")


def _ensure_backend():
    if "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND"):
        return
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        import matplotlib
        matplotlib.use("Agg")


def _figure(figsize):
    _ensure_backend()
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt
        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure
    return Figure(figsize=figsize)


def _save(fig, path):
    if path is None:
        return
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in _FORMATS:
        raise ValueError("%s: choose a .png, .svg or .pdf file name" % path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = "%s.tmp.%d.%s" % (path, os.getpid(), ext)
    try:
        fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _time_scale(t):
    """A unit for a time axis spanning t seconds: (factor to multiply seconds by, label)."""
    for factor, label in ((1e9, "ns"), (1e6, "us"), (1e3, "ms")):
        if t * factor < 5000:
            return factor, label
    return 1.0, "s"


def _as_trace(trace):
    return trace if isinstance(trace, Trace) else Trace(trace)


def timeline(trace, path=None, units=None, max_units=32, kinds=None):
    """Horizontal bars, one row per unit, one bar per transaction colored by its kind.

    trace      a Trace (or a trace.h5 path / run folder)
    units      which units to show, as Trace.filter(unit=...) takes them ("sm0.", "tensor",
               "sm.tma", a regex, a list); default: the first units that have records
    max_units  show at most this many rows (units with records, in the chip's order)
    kinds      only these kinds (names or numbers), e.g. ["dma_read", "tile_compute"]

    DMA engines keep several copies in flight: their bars overlap and are drawn translucent, so a
    darker stretch means more copies outstanding. Kernels are shaded in the background and named
    at the top. Returns the Figure; saves it when `path` ends in .png, .svg or .pdf.
    """
    t = _as_trace(trace)
    if units is not None:
        t = t.filter(unit=units)
    if kinds is not None:
        t = t.filter(kind=kinds)
    r = t.records
    shown = [int(u) for u in np.unique(r["unit"])][:max_units] if len(r) else []
    fig = _figure((10, 1.2 + 0.28 * max(len(shown), 1)))
    ax = fig.add_subplot(1, 1, 1)
    factor, label = _time_scale(max(t.t1, 1e-12))
    seen_kinds = set()
    for row, u in enumerate(shown):
        ru = r[r["unit"] == u]
        overlap = len(ru) > 1 and np.any(ru["start_ps"][1:] < np.maximum.accumulate(ru["end_ps"])[:-1])
        for k in np.unique(ru["kind"]):
            rk = ru[ru["kind"] == k]
            name = t.kind_name(int(k))
            x = rk["start_ps"] / 1e12 * factor
            w = np.maximum((rk["end_ps"] - rk["start_ps"]) / 1e12 * factor, 0)
            ax.broken_barh(list(zip(x, w)), (row - 0.4, 0.8), facecolors=KIND_COLORS.get(name, "#777777"),
                           alpha=0.35 if overlap else 0.9, linewidth=0)
            seen_kinds.add(name)
    if len(r) and "kernel" in r.dtype.names:
        spans = t.summary(by="kernel")
        for i, (name, v) in enumerate(spans.items()):
            lo, hi = max(v["start_s"], t.t0), min(v["end_s"], t.t1)  # the part inside a window
            if hi <= lo:
                continue
            ax.axvspan(lo * factor, hi * factor, color="#000000", alpha=0.04 if i % 2 else 0.08, linewidth=0)
            ax.text((lo + hi) / 2 * factor, 1.0, name.split(":", 1)[-1], ha="center", va="bottom",
                    fontsize=7, transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([t.units[u].replace("chip.", "", 1) for u in shown], fontsize=7)
    ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
    ax.set_xlim(t.t0 * factor, max(t.t1, t.t0 + 1e-12) * factor)
    ax.set_xlabel("time (%s)" % label)
    from matplotlib.patches import Patch
    handles = [Patch(color=KIND_COLORS.get(k, "#777777"), label=k) for k in t.kind_names if k in seen_kinds]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    more = len(np.unique(r["unit"])) - len(shown) if len(r) else 0
    title = "%s: %d transactions" % (t.chip or "trace", len(r))
    if more > 0:
        title += " (%d of %d busy units shown)" % (len(shown), len(shown) + more)
    ax.set_title(title, fontsize=10, pad=14)
    _save(fig, path)
    return fig


def utilization(trace, path=None, bin_s=None, by="group"):
    """Busy share of each unit group over time (Trace.utilization), one step line per group.

    bin_s  bin width in seconds (default: 1/200 of the run); by="unit" draws one line per unit
           (useful after filtering to a few units).

    A value of 50% for "sm.tensor" means that, during that bin, the tensor cores of all SMs were busy
    half of the time on average: idle SMs pull it down, which is how wave quantization and tails
    show. Returns the Figure; saves it when `path` ends in .png, .svg or .pdf.
    """
    t = _as_trace(trace)
    edges, series = t.utilization(bin_s, by=by)
    fig = _figure((10, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    factor, label = _time_scale(max(t.t1, 1e-12))
    for name in sorted(series):
        ax.stairs(100 * series[name], edges * factor, label=name, linewidth=1.4)
    ax.set_ylim(0, 105)
    ax.set_xlim(edges[0] * factor, edges[-1] * factor)
    ax.set_xlabel("time (%s)" % label)
    ax.set_ylabel("busy (%)")
    w = edges[1] - edges[0] if len(edges) > 1 else 0
    ax.set_title("%s: utilization per %s, bins of %.3g %s" % (t.chip or "trace", by, w * factor, label), fontsize=10)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return fig


def _si(v, unit):
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= factor:
            return "%g %s%s" % (v / factor, prefix, unit)
    return "%g %s" % (v, unit)


_RATE = re.compile(r"^\s*([0-9.eE+-]+)\s*([kKMGTP]?)(i?)B/s\s*$")


def parse_bandwidth(text):
    """Bytes per second from a preset value such as "3.35 TB/s" or "900 GiB/s" (a number passes)."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _RATE.match(str(text))
    if not m:
        raise ValueError("not a bandwidth: %r (expected e.g. '3.35 TB/s')" % (text,))
    power = " kMGTP".index(m.group(2).upper() if m.group(2) else " ")
    return float(m.group(1)) * ((1024.0 if m.group(3) else 1000.0) ** power)


def _bandwidth_from_config(text):
    """hbm.bandwidth from a resolved config (YAML text), or None."""
    if not text:
        return None
    try:
        import yaml
        cfg = yaml.safe_load(text)
        return parse_bandwidth(cfg["hbm"]["bandwidth"])
    except Exception:
        m = re.search(r"^hbm:\s*\n(?:[ \t]+.*\n)*?[ \t]+bandwidth:\s*([^\n#]+)", text, re.M)
        return parse_bandwidth(m.group(1).strip()) if m else None


def _load_report(x):
    """A report dict from a dict, a stats.json path, or a run folder (also reads its config)."""
    if isinstance(x, dict):
        return x, None
    p = os.fspath(x)
    folder = p if os.path.isdir(p) else os.path.dirname(p)
    if os.path.isdir(p):
        p = os.path.join(p, "stats.json")
    with open(p) as f:
        rep = json.load(f)
    cfg = os.path.join(folder, "config.resolved.yaml")
    if not os.path.exists(cfg):
        return rep, None
    with open(cfg) as f:
        return rep, f.read()


def _kernels(rep):
    """(name, kernel dict) of a kernel report, or of every step of a model run report (xpusim run)."""
    if "kernels" in rep:
        return [(k.get("name", "?"), k) for k in rep["kernels"]]
    steps = rep.get("steps", [])
    out = []
    for st in steps:
        for k in st.get("kernels", []):
            if k.get("fused"):
                continue  # folded into another kernel: no time of its own
            name = k.get("label") or k.get("name") or k.get("op", "?")
            out.append((name if len(steps) == 1 else "%s (%s)" % (name, st.get("phase", "")), k))
    return out


def _bandwidth_from_kernels(rep, peak):
    """The roofline's bandwidth recovered from a memory-bound kernel: roofline_s = min_bytes / bandwidth."""
    for _, k in _kernels(rep):
        roof, mb, fl = k.get("roofline_s", 0), k.get("min_bytes", 0), k.get("flops", 0)
        if roof > 0 and mb > 0 and (peak <= 0 or fl / peak < roof * (1 - 1e-9)):
            return mb / roof
    return None


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def roofline(report_or_reports, chip_peak_flops=None, chip_bandwidth=None, path=None, labels=None,
             bytes_field="min_bytes"):
    """Place kernels on the roofline of their chip (log-log: FLOP/byte against FLOP/s).

    report_or_reports  a report dict (xpusim.kernel(...) or a loaded stats.json), a path to a
                       stats.json or run folder, or a list of them (e.g. one GEMM on several chips);
                       a model run's report (`xpusim run --out DIR`) places each of its kernels,
                       by its "bytes" (it has no min_bytes), and needs chip_peak_flops
    chip_peak_flops    the compute roof in FLOP/s; default report["peak_tflops"] * 1e12 (the peak of
                       the report's dtype)
    chip_bandwidth     the memory roof in bytes/s (a number or "3.35 TB/s"); default the report's
                       "dram_bandwidth_Bps" field, else hbm.bandwidth from the run folder's
                       config.resolved.yaml, else recovered from a memory-bound kernel's roofline_s
    labels             a label per report for the legend (default: chip and shape)
    bytes_field        the kernel field that divides its FLOPs on the x axis:
                       "min_bytes"  (default) the bytes the op must move at least (each input read
                                    and each output written once): the op's own arithmetic
                                    intensity, the one the report's roofline_s and "bound" use,
                                    so no point can sit above the roof;
                       "dram_bytes" the bytes its DMAs moved to and from global memory, L2 hits
                                    included: a tiling that re-reads operands moves the point left,
                                    and L2 reuse can lift it above the DRAM roof.
                       A kernel without the field (or with 0) falls back to dram_bytes, then to "bytes"
                       (model runs report their DMA traffic under that name); the axis says which.

    Each kernel is a point at x = flops / bytes and y = flops / time_s (achieved FLOP/s, launch
    overhead included). A kernel with no useful FLOPs of its own (a split-K reduction) is placed by
    the FLOPs it executed. The roof is min(peak, bandwidth * intensity); the gap between a point and
    the roof above it is what the simulator says is lost to latency, tails and contention.
    Returns the Figure; saves it when `path` ends in .png, .svg or .pdf. A file name as the second
    argument is taken as `path` (roofline(r, "roof.png"), as timeline and utilization are called).
    """
    if chip_peak_flops is not None and not _is_number(chip_peak_flops):
        if path is not None or not isinstance(chip_peak_flops, (str, os.PathLike)):
            raise ValueError("roofline: chip_peak_flops=%r is not a number of FLOP/s (e.g. 989e12); the file goes in "
                             "path=" % (chip_peak_flops,))
        path, chip_peak_flops = chip_peak_flops, None
    items = report_or_reports if isinstance(report_or_reports, (list, tuple)) else [report_or_reports]
    loaded = [_load_report(x) for x in items]
    fig = _figure((7.5, 5))
    ax = fig.add_subplot(1, 1, 1)
    import matplotlib
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    roofs = {}
    xs, ys = [], []
    used = set()
    markers = "osD^v<>ph"
    for i, (rep, cfg) in enumerate(loaded):
        peak = float(chip_peak_flops) if chip_peak_flops else float(rep.get("peak_tflops", 0)) * 1e12
        if peak <= 0:
            raise ValueError("roofline: report %d has no peak_tflops; pass chip_peak_flops (FLOP/s)" % i)
        if chip_bandwidth is not None:
            bw = parse_bandwidth(chip_bandwidth)
        elif rep.get("dram_bandwidth_Bps"):
            bw = float(rep["dram_bandwidth_Bps"])
        else:
            bw = _bandwidth_from_config(cfg) or _bandwidth_from_kernels(rep, peak)
        if not bw:
            raise ValueError("roofline: cannot tell the DRAM bandwidth of report %d (%s); pass chip_bandwidth="
                             "3.35e12 or '3.35 TB/s', or give the run folder" % (i, rep.get("chip", "?")))
        key = (rep.get("chip", "chip"), rep.get("dtype", ""), peak, bw)
        if key not in roofs:
            roofs[key] = colors[len(roofs) % len(colors)]
        color = roofs[key]
        what = rep.get("shape", "")
        if "model" in rep:  # a model run: model, phase and batch instead of a shape
            sc = rep.get("scenario", {})
            what = "%s %s batch %s" % (rep["model"], sc.get("phase", ""), sc.get("batch", "?"))
        name = labels[i] if labels else " ".join(x for x in (rep.get("chip", ""), what) if x)
        first = True
        for kname, k in _kernels(rep):
            fl = k.get("flops") or k.get("executed_flops") or 0
            field = next((f for f in (bytes_field, "dram_bytes", "bytes") if k.get(f)), None)
            by = k[field] if field else 0
            used.add(field)
            ts = k.get("time_s", 0)
            if fl <= 0 or by <= 0 or ts <= 0:
                continue
            x, y = fl / by, fl / ts
            xs.append(x)
            ys.append(y)
            ax.scatter([x], [y], color=color, marker=markers[i % len(markers)], s=40, zorder=3,
                       edgecolors="black", linewidths=0.5, label=name if first else None)
            first = False
            ax.annotate(kname, (x, y), textcoords="offset points", xytext=(5, -10), fontsize=7)
    ridges = [peak / bw for (_, _, peak, bw) in roofs]
    lo, hi = min(xs + ridges) / 30, max(xs + ridges) * 30
    grid = np.logspace(np.log10(lo), np.log10(hi), 400)
    for (chip, dtype, peak, bw), color in roofs.items():
        label = "%s roof: %.0f TFLOP/s%s, %.3g TB/s" % (chip, peak / 1e12, " " + dtype if dtype else "", bw / 1e12)
        ax.plot(grid, np.minimum(peak, bw * grid), color=color, linewidth=1.6, label=label)
        ridge = peak / bw
        ax.axvline(ridge, color=color, linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Plain-text tick labels: log axes otherwise render every label as mathtext, which is slow.
    from matplotlib.ticker import FuncFormatter, NullLocator
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _si(v, "FLOP/s")))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(lo, hi)
    if roofs:
        top = max(k[2] for k in roofs)
        bottom = min(ys + [top]) / 10 if ys else top / 1e4
        ax.set_ylim(bottom, top * 2)
    ax.set_xlabel("arithmetic intensity (FLOP / byte, bytes = %s)" % " or ".join(sorted(f for f in used if f)))
    ax.set_ylabel("achieved performance")
    ax.grid(which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    ax.set_title("roofline", fontsize=10)
    _save(fig, path)
    return fig

