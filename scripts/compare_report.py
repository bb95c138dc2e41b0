#!/usr/bin/env python3
"""Comparison report: the summary.json of `xpusim compare` -> a self-contained report.html with plots.

Usage:
    /usr/bin/python3 scripts/compare_report.py results/compare/<name>

Reads <folder>/summary.json and writes, in the same folder (each file written to a temporary name and
renamed, so a reader never sees half a file):
    report.html                         the page: title, key figures, summary table, interactivity tiers
                                        and verdict, plots, what is validated, how to read it, notes;
                                        self-contained (plots embedded as base64 PNG, inline CSS, no
                                        external resources)
    frontier.png / .svg                 throughput per chip against tok/s per user, one curve per chip
                                        (from `frontier`, else `curve`), the interactivity tiers as lines
    throughput_vs_tpot.png / .svg       throughput against TPOT per chip (from `curve`), operating point
                                        marked, TPOT target as a line when given
    kernel_breakdown.png / .svg         decode-step time per kernel per chip (top kernels, rest "other")
    power_energy.png / .svg             average power per chip against TDP; energy per token by component
    cost.png / .svg                     $ per million output tokens (hatched where the price is assumed)

Exit status 0 on success; 2, with one line on stderr, when the folder or summary.json is missing or
summary.json is malformed (not JSON, a required key missing, a value of the wrong type, NaN/Inf).

Keys of summary.json (the contract with `xpusim compare`): required are `model`, `scenario` (object),
`rows` (non-empty list) and, per row, `chip`, `batch`, `throughput_tok_s`, `ttft_s` -- except
for a row that did not run (`ran` false) or has no operating point (`batch` null): it keeps its table
row with its `note` saying why and is left out of the plots. `tpot_s` (a row's and a curve point's) is null
where no request streamed a second token (`--output 1`: TPOT is undefined): "n/a", left out of the TPOT plot. Every other key of the schema may be null
or absent; the report then shows "n/a" (or "unknown" for the published/assumed state of a price)
rather than a number.
"""
import argparse
import base64
import datetime
import html
import io
import json
import math
import os
import sys
import tempfile

PLOTS = [
    ("frontier", "Throughput per chip against interactivity"),
    ("throughput_vs_tpot", "Throughput against time per output token"),
    ("kernel_breakdown", "Decode-step time per kernel"),
    ("power_energy", "Power and energy per token"),
    ("cost", "Cost per million output tokens"),
]

CHIP_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
KERNEL_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f"]
OTHER_COLOR = "#c7c7c7"
ENERGY_PARTS = [("compute_j", "compute (MAC)", "#4e79a7"), ("vector_j", "vector", "#76b7b2"),
                ("onchip_j", "on-chip SRAM", "#f28e2b"), ("dram_j", "DRAM / HBM", "#e15759"),
                ("active_j", "clocked (cores, idle cores, uncore)", "#b07aa1"), ("static_j", "static", "#bab0ac")]
TOP_KERNELS = 7


class ReportError(Exception):
    """A problem with the input that the user must fix; reported as one line."""


# ---------------------------------------------------------------------------------------------------
# Reading and checking summary.json


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(obj, key, path, required=False, minimum=None, integer=False):
    """The number obj[key], None when null/absent (unless required); ReportError on anything else."""
    v = obj.get(key)
    where = "%s.%s" % (path, key) if path else key
    if v is None:
        if required:
            raise ReportError("summary.json: %s is %s (a number is required)" % (
                where, "null" if key in obj else "missing"))
        return None
    if not _is_num(v):
        raise ReportError("summary.json: %s must be a number%s, got %s" % (
            where, "" if required else " or null", json.dumps(v)))
    if not math.isfinite(v):
        raise ReportError("summary.json: %s is not a finite number (%r)" % (where, v))
    if integer and v != int(v):
        raise ReportError("summary.json: %s must be an integer, got %s" % (where, json.dumps(v)))
    if minimum is not None and v < minimum:
        raise ReportError("summary.json: %s must be >= %g, got %s" % (where, minimum, json.dumps(v)))
    return int(v) if integer else float(v)


def _str(obj, key, path, required=False):
    v = obj.get(key)
    where = "%s.%s" % (path, key) if path else key
    if v is None:
        if required:
            raise ReportError("summary.json: %s is %s (a string is required)" % (
                where, "null" if key in obj else "missing"))
        return None
    if not isinstance(v, str):
        raise ReportError("summary.json: %s must be a string, got %s" % (where, json.dumps(v)))
    if required and not v.strip():
        raise ReportError("summary.json: %s is empty" % where)
    return v


def _bool(obj, key, path):
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise ReportError("summary.json: %s.%s must be true, false or null, got %s" % (path, key, json.dumps(v)))
    return v


def _list(obj, key, path):
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ReportError("summary.json: %s.%s must be a list, got %s" % (path, key, type(v).__name__))
    return v


def _reject_constant(name):
    raise ValueError("%s is not valid JSON (use null)" % name)


def load_summary(folder):
    if not os.path.isdir(folder):
        raise ReportError("no such folder: %s" % folder)
    path = os.path.join(folder, "summary.json")
    if not os.path.isfile(path):
        raise ReportError("%s not found (run `xpusim compare` first)" % path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise ReportError("%s is not valid JSON: %s" % (path, e))
    except OSError as e:
        raise ReportError("cannot read %s: %s" % (path, e.strerror or e))
    return check_summary(doc)


def check_summary(doc):
    """Validated, normalized copy of the document (numbers as float/int, None for n/a)."""
    if not isinstance(doc, dict):
        raise ReportError("summary.json: the top level must be an object, got %s" % type(doc).__name__)
    out = {
        "study": _str(doc, "study", "") or "",
        "model": _str(doc, "model", "", required=True),
        "created": _str(doc, "created", "") or "",
        "version": _str(doc, "version", "") or "",
    }
    sc = doc.get("scenario")
    if not isinstance(sc, dict):
        raise ReportError("summary.json: scenario must be an object, got %s" % (
            "nothing" if sc is None else json.dumps(sc)))
    out["scenario"] = {
        "name": _str(sc, "name", "scenario") or "scenario",
        "input": _num(sc, "input", "scenario", minimum=0, integer=True),
        "output": _num(sc, "output", "scenario", minimum=0, integer=True),
        "ttft_slo_s": _num(sc, "ttft_slo_s", "scenario", minimum=0),
        "tpot_slo_s": _num(sc, "tpot_slo_s", "scenario", minimum=0),
        "description": _str(sc, "description", "scenario") or "",
    }
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ReportError("summary.json: rows must be a non-empty list, got %s" % (
            "nothing" if rows is None else ("an empty list" if rows == [] else type(rows).__name__)))
    out["rows"] = [check_row(r, "rows[%d]" % i) for i, r in enumerate(rows)]
    out["tiers"] = [_num({"t": t}, "t", "tiers[%d]" % i, required=True, minimum=0) for i, t in enumerate(_list(doc, "tiers", ""))]
    out["verdict"] = [v for v in _list(doc, "verdict", "") if isinstance(v, str)]
    out["tco"] = bool(doc.get("tco"))
    out["all_ran"] = _bool(doc, "all_ran", "")
    out["scenario"]["prefix_hit"] = _num(sc, "prefix_hit", "scenario", minimum=0)
    out["scenario"]["spec_tokens"] = _num(sc, "spec_tokens", "scenario", minimum=0, integer=True)
    out["scenario"]["spec_accept"] = _num(sc, "spec_accept", "scenario", minimum=0)
    sd = doc.get("study_definition")
    sd = sd if isinstance(sd, dict) else {}
    out["waiting"] = [w for w in _list(sd, "waiting", "study_definition") if isinstance(w, str)]
    out["waiting_reason"] = _str(sd, "waiting_reason", "study_definition") or ""
    out["study_name"] = _str(sd, "name", "study_definition") or ""
    return out


def check_row(r, p):
    if not isinstance(r, dict):
        raise ReportError("summary.json: %s must be an object, got %s" % (p, type(r).__name__))
    # A chip that did not run (or found no operating point) keeps its row, with the note saying why.
    failed = r.get("ran") is False or ("batch" in r and r.get("batch") is None)
    row = {
        "chip": _str(r, "chip", p, required=True),
        "failed": failed,
        "ran": r.get("ran") is not False,
        "family": _str(r, "family", p) or "",
        "precision": _str(r, "precision", p) or "",
        "batch": _num(r, "batch", p, required=not failed, minimum=1, integer=True),
        "throughput_tok_s": _num(r, "throughput_tok_s", p, required=not failed, minimum=0),
        "ttft_s": _num(r, "ttft_s", p, required=not failed, minimum=0),
        "tpot_s": _num(r, "tpot_s", p, minimum=0),  # null: no TPOT (one output token)
        "validation": _str(r, "validation", p) or "",
        "tco_usd_per_mtok": _num(r, "tco_usd_per_mtok", p, minimum=0),
        "price_basis": _str(r, "price_basis", p) or "",
        "price_assumed": _bool(r, "price_assumed", p),
        "price_source": _str(r, "price_source", p) or "",
        "price_set_by": _str(r, "price_set_by", p) or "",
        "throttled": _bool(r, "throttled", p),
        "meets_slo": _bool(r, "meets_slo", p),
        "note": _str(r, "note", p) or "",
    }
    for k in ("avg_power_w", "peak_power_w", "tdp_w", "joules_per_token", "usd_per_hour", "usd_per_mtok",
              "perf_per_usd_rel", "perf_per_watt", "clock_ratio"):
        row[k] = _num(r, k, p, minimum=0)
    row["curve"] = []
    for i, c in enumerate(_list(r, "curve", p)):
        q = "%s.curve[%d]" % (p, i)
        if not isinstance(c, dict):
            raise ReportError("summary.json: %s must be an object" % q)
        row["curve"].append({
            "batch": _num(c, "batch", q, required=True, minimum=1, integer=True),
            "throughput_tok_s": _num(c, "throughput_tok_s", q, required=True, minimum=0),
            "tpot_s": _num(c, "tpot_s", q, minimum=0),
            "ttft_s": _num(c, "ttft_s", q, minimum=0),
            "avg_power_w": _num(c, "avg_power_w", q, minimum=0),
        })
    row["curve"].sort(key=lambda c: c["batch"])
    row["frontier"] = []
    for i, c in enumerate(_list(r, "frontier", p) or _list(r, "curve", p)):
        q = "%s.frontier[%d]" % (p, i)
        if not isinstance(c, dict):
            raise ReportError("summary.json: %s must be an object" % q)
        tput = _num(c, "throughput_tok_s_per_chip", q, minimum=0)
        row["frontier"].append({
            "concurrency": _num(c, "concurrency", q, minimum=1, integer=True),
            "throughput_tok_s_per_chip": tput if tput is not None else _num(c, "throughput_tok_s", q, minimum=0),
            "tok_s_per_user": _num(c, "tok_s_per_user", q, minimum=0),
            "usd_per_mtok": _num(c, "usd_per_mtok", q, minimum=0),
            "tok_s_per_mw": _num(c, "tok_s_per_mw", q, minimum=0),
            "layout": _str(c, "layout", q) or "",
        })
    row["frontier"] = [c for c in row["frontier"] if c["tok_s_per_user"] and c["throughput_tok_s_per_chip"] is not None]
    # In sweep order (concurrency), so a curve never zigzags where per-user speed is not monotone; a
    # frontier over several layouts (each point naming its own) comes in order of falling tok/s per user.
    if len({c["layout"] for c in row["frontier"]}) <= 1:
        row["frontier"].sort(key=lambda c: (c["concurrency"] or 0, -c["tok_s_per_user"]))
    row["tiers"] = []
    for i, t in enumerate(_list(r, "tiers", p)):
        q = "%s.tiers[%d]" % (p, i)
        if not isinstance(t, dict):
            raise ReportError("summary.json: %s must be an object" % q)
        row["tiers"].append({
            "tok_s_per_user": _num(t, "tok_s_per_user", q, required=True, minimum=0),
            "reachable": bool(t.get("reachable")),
            "concurrency": _num(t, "concurrency", q, minimum=1, integer=True),
            "rate": _num(t, "rate", q, minimum=0),  # an open loop's arrivals (null: a closed loop, or an older study)
            "throughput_tok_s_per_chip": _num(t, "throughput_tok_s_per_chip", q, minimum=0),
            "usd_per_mtok": _num(t, "usd_per_mtok", q, minimum=0),
            "tco_usd_per_mtok": _num(t, "tco_usd_per_mtok", q, minimum=0),
            "tok_s_per_mw": _num(t, "tok_s_per_mw", q, minimum=0),
            "bound": _str(t, "bound", q) or "",
            "bound_share": _num(t, "bound_share", q, minimum=0),
            "why": _str(t, "why", q) or "",
            "layout": _str(t, "layout", q) or "",
        })
    tco = r.get("tco") if isinstance(r.get("tco"), dict) else {}
    row["tco_assumptions"] = _str(tco, "assumptions", p + ".tco") or ""
    row["kernels"] = []
    for i, k in enumerate(_list(r, "kernels", p)):
        q = "%s.kernels[%d]" % (p, i)
        if not isinstance(k, dict):
            raise ReportError("summary.json: %s must be an object" % q)
        row["kernels"].append({
            "label": _str(k, "label", q, required=True),
            "time_s": _num(k, "time_s", q, minimum=0),
            "share": _num(k, "share", q, minimum=0),
        })
    lay = r.get("layout")
    row["layout"] = _str(lay, "name", p + ".layout") or "" if isinstance(lay, dict) else ""
    ls = r.get("layout_search")
    if ls is not None and not isinstance(ls, dict):
        raise ReportError("summary.json: %s.layout_search must be an object or null" % p)
    row["layout_search"] = None
    if ls:
        tried = []
        for i, t in enumerate(_list(ls, "tried", p + ".layout_search")):
            q = "%s.layout_search.tried[%d]" % (p, i)
            if not isinstance(t, dict):
                raise ReportError("summary.json: %s must be an object" % q)
            tried.append({"layout": _str(t, "layout", q, required=True), "kind": _str(t, "kind", q) or "", "chosen": bool(t.get("chosen")),
                          "verdict": _str(t, "verdict", q) or ""})
        row["layout_search"] = {"criterion": _str(ls, "criterion", p + ".layout_search") or "",
                                "chosen": _str(ls, "chosen", p + ".layout_search") or "", "tried": tried}
    pm = r.get("power_manager")  # what the power manager did over the best point's run (null: no power model)
    if pm is not None and not isinstance(pm, dict):
        raise ReportError("summary.json: %s.power_manager must be an object or null" % p)
    row["power_manager"] = None
    if pm:
        q = p + ".power_manager"
        row["power_manager"] = {k: _num(pm, k, q, minimum=0) for k in (
            "boost_s", "short_term_s", "held_s", "boost_ends_s", "held_from_s", "max_short_term_avg_w",
            "max_short_term_avg_unboosted_w", "max_limit_avg_w", "max_limit_avg_held_w", "min_clock_ratio")}
        lim = pm.get("limits")  # the limits it acted under (since session 43; absent in older studies)
        if lim is not None and not isinstance(lim, dict):
            raise ReportError("summary.json: %s.limits must be an object or null" % q)
        row["power_manager"]["limits"] = None if not lim else dict(
            {k: _num(lim, k, q + ".limits", minimum=0) for k in (
                "tdp_w", "limit_window_s", "peak_limit_w", "short_term_limit_w", "short_term_window_s")},
            short_term_source=_str(lim, "short_term_source", q + ".limits"))
    e = r.get("energy")
    if e is not None and not isinstance(e, dict):
        raise ReportError("summary.json: %s.energy must be an object or null" % p)
    row["energy"] = None
    if e:
        row["energy"] = {k: _num(e, k, p + ".energy", minimum=0)
                         for k in ("compute_j", "vector_j", "onchip_j", "dram_j", "active_j", "static_j")}
    return row


# ---------------------------------------------------------------------------------------------------
# Formatting


def f_int(v):
    return "n/a" if v is None else "{:,}".format(int(round(v)))


def f_load(t):
    """A tier's load: a closed loop's users, or an open loop's arrival rate."""
    if t["concurrency"] is None and t.get("rate"):
        return "open loop, %s req/s" % f_sig(t["rate"])
    return f_int(t["concurrency"])


def f_sig(v, digits=3):
    if v is None:
        return "n/a"
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return "{:,.{}f}".format(v, decimals)


def f_time(s):
    if s is None:
        return "n/a"
    if s < 1.0:
        return "%s ms" % f_sig(s * 1e3)
    return "%s s" % f_sig(s)


def f_target(s):
    """A latency target as given: 0.02 -> "20 ms", 1.0 -> "1 s"."""
    return "%g ms" % round(s * 1e3, 3) if s < 1.0 else "%g s" % round(s, 3)


def f_usd(v, digits=3):
    if v is None:
        return "n/a"
    return "$" + f_sig(v, digits)


def f_created(s):
    if not s:
        return ""
    try:
        t = datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
        return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return s


def chip_label(r):
    name = "%s %s" % (r["chip"], r["layout"]) if r.get("layout") and r["layout"] not in r["chip"] else r["chip"]
    return "%s (%s)" % (name, r["precision"]) if r["precision"] else name


def price_state(r):
    """'published', 'assumed', 'user' (given with --set or in the user's preset), 'none' (no price) or 'unknown'
    (a price whose status is not stated)."""
    if r["usd_per_hour"] is None and r["usd_per_mtok"] is None:
        return "none"
    if r.get("price_set_by"):
        return "user"
    if r["price_assumed"] is None:
        return "unknown"
    return "assumed" if r["price_assumed"] else "published"


def price_state_text(r):
    """The state in words, as the CLI's table says it: a user's price names who set it ("set by --set")."""
    st = price_state(r)
    if st == "user":
        return "set by --set" if r["price_set_by"] == "--set" else "set in %s" % r["price_set_by"]
    return {"published": "published", "assumed": "assumed", "none": "no price", "unknown": "status unknown"}[st]


# ---------------------------------------------------------------------------------------------------
# Plots


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({
        "font.size": 10, "axes.titlesize": 11.5, "axes.titleweight": "bold", "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.color": "#e3e3e3", "grid.linewidth": 0.8,
        "axes.axisbelow": True, "legend.frameon": False, "svg.fonttype": "path", "svg.hashsalt": "xpusim",
    })
    return plt


def plot_frontier(plt, doc):
    """Throughput per chip against tokens/s per user, one curve per chip; the tiers as vertical lines."""
    fig, ax = plt.subplots(figsize=(10, 5.2))
    drawn = 0
    xs = []
    for i, r in enumerate(doc["rows"]):
        color = CHIP_COLORS[i % len(CHIP_COLORS)]
        f = r["frontier"]
        if r["failed"] or not f:
            continue
        x = [c["tok_s_per_user"] for c in f]
        y = [c["throughput_tok_s_per_chip"] for c in f]
        xs += x
        ax.plot(x, y, "-o", color=color, ms=4, lw=1.9, label=chip_label(r))
        several = len({c["layout"] for c in f}) > 1  # each point at its own layout: name where it changes
        for j, c in enumerate(f):
            changes = several and (j == 0 or f[j - 1]["layout"] != c["layout"])
            if c["concurrency"] and (changes or (not several and j in (0, len(f) - 1))):
                ax.annotate(("%s, c=%d" % (c["layout"], c["concurrency"])) if several else "c=%d" % c["concurrency"],
                            (c["tok_s_per_user"], c["throughput_tok_s_per_chip"]),
                            textcoords="offset points", xytext=(4, 4), fontsize=7.5, color="#777777")
        drawn += 1
    for t in doc["tiers"]:
        ax.axvline(t, color="#555555", ls=":", lw=1.1)
        ax.annotate("tier %g tok/s/user" % t, (t, 0.0), xycoords=("data", "axes fraction"), textcoords="offset points",
                    xytext=(-11, 6), fontsize=8, color="#555555", rotation=90, va="bottom")
    if not drawn:
        ax.text(0.5, 0.5, "no chip has a frontier in summary.json", transform=ax.transAxes, ha="center", va="center",
                fontsize=11, color="#777777")
    if xs and min(xs) > 0 and max(xs + doc["tiers"]) / min(xs) > 30:
        ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("interactivity: output tokens/s per user  \u2192 faster streams")
    ax.set_ylabel("throughput per chip (output tokens/s)")
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_title("Throughput per chip vs interactivity, one curve per chip (c = concurrency)", loc="left")
    if drawn:  # outside the axes, right of them: a frontier may reach any corner, and a legend inside covered its labels
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9)
    fig.tight_layout()
    return fig


def live(doc):
    """The rows that have an operating point."""
    return [r for r in doc["rows"] if not r["failed"]]


def plot_throughput_vs_tpot(plt, doc):
    rows, sc = doc["rows"], doc["scenario"]
    fig, ax = plt.subplots(figsize=(10, 5.2))
    xs_all, stars = [], []
    for i, r in enumerate(rows):
        color = CHIP_COLORS[i % len(CHIP_COLORS)]
        if r["failed"]:
            continue
        cur = [c for c in r["curve"] if c["tpot_s"] is not None]  # a point without TPOT has no place on this plot
        if r["tpot_s"] is None:
            continue
        if cur:
            x = [c["tpot_s"] * 1e3 for c in cur]
            y = [c["throughput_tok_s"] for c in cur]
            xs_all += x
            ax.plot(x, y, "-o", color=color, ms=3.5, lw=1.8, label=chip_label(r))
            last = cur[-1]
            if last["batch"] != r["batch"]:
                ax.annotate("b=%d" % last["batch"], (last["tpot_s"] * 1e3, last["throughput_tok_s"]),
                            textcoords="offset points", xytext=(4, -10), fontsize=7.5, color="#777777")
        xs_all.append(r["tpot_s"] * 1e3)
        ax.plot([r["tpot_s"] * 1e3], [r["throughput_tok_s"]], marker="*", ms=15, color=color,
                markeredgecolor="black", markeredgewidth=0.8, linestyle="none",
                label=None if cur else chip_label(r), zorder=5)
        stars.append((r["tpot_s"] * 1e3, r["throughput_tok_s"], "batch %d" % r["batch"], color))
    slo = sc["tpot_slo_s"]
    if slo is not None:
        ax.axvline(slo * 1e3, color="#b22222", ls="--", lw=1.2)
        ax.axvspan(slo * 1e3, max(xs_all + [slo * 1e3]) * 1.15, color="#b22222", alpha=0.05, lw=0)
        # At the line's top: its foot is under the legend (lower right) whenever every point meets the target.
        ax.annotate("TPOT target %s" % f_target(slo), (slo * 1e3, 1.0), xycoords=("data", "axes fraction"),
                    textcoords="offset points", xytext=(4, -14), fontsize=8.5, color="#b22222")
    if not xs_all:
        ax.text(0.5, 0.5, "no operating point has a TPOT (one output token)" if live(doc) else "no chip has an operating point",
                transform=ax.transAxes, ha="center", fontsize=11)
    if xs_all and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 100:
        ax.set_xscale("log")
    else:
        ax.set_xlim(left=0)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.04)
    # Operating-point labels: above right of the star, below it when another label sits close by.
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    placed = []
    for x, y, text, color in sorted(stars, key=lambda s: -s[1]):
        nx, ny = (x - x0) / ((x1 - x0) or 1), (y - y0) / ((y1 - y0) or 1)
        crowded = any(abs(nx - px) < 0.12 and abs(ny - py) < 0.08 for px, py in placed)
        placed.append((nx, ny))
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(8, -17) if crowded else (8, 6), fontsize=8.5,
                    fontweight="bold", color=color, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
    ax.set_xlabel("time per output token, TPOT (ms)  \u2192 slower responses")
    ax.set_ylabel("throughput (output tokens/s per chip)")
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_title("Throughput vs TPOT as the batch grows (\u2605 = chosen operating point)", loc="left")
    if xs_all:
        ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def _thousands():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _: "{:,.0f}".format(v))


def _kernel_times(r):
    """[(label, seconds)] of a row's decode step; time from time_s, else share x TPOT."""
    out = []
    for k in r["kernels"]:
        t = k["time_s"]
        if t is None and k["share"] is not None and r["tpot_s"] is not None:
            t = k["share"] * r["tpot_s"]
        if t is not None:
            out.append((k["label"], t))
    return out


def plot_kernel_breakdown(plt, doc):
    rows = doc["rows"]
    times = [_kernel_times(r) for r in rows]
    # The top kernels: ranked by their largest share of any chip's step.
    best = {}
    for kt in times:
        total = sum(t for _, t in kt) or 1.0
        for label, t in kt:
            best[label] = max(best.get(label, 0.0), t / total)
    top = [l for l, s in sorted(best.items(), key=lambda kv: -kv[1])][:TOP_KERNELS]
    if len(best) == len(top) + 1:  # one leftover kernel: show it rather than call it "other"
        top = sorted(best, key=lambda l: -best[l])
    n = len(rows)
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.62 * n))
    ypos = list(range(n))[::-1]
    handles = {}
    max_total = 0.0
    for y, r, kt in zip(ypos, rows, times):
        left = 0.0
        by = dict()
        for label, t in kt:
            by[label] = by.get(label, 0.0) + t
        segs = [(l, by.get(l, 0.0)) for l in top] + [("other", sum(t for l, t in by.items() if l not in top))]
        total = sum(t for _, t in segs)
        for j, (label, t) in enumerate(segs):
            if t <= 0:
                continue
            color = OTHER_COLOR if label == "other" else KERNEL_COLORS[j % len(KERNEL_COLORS)]
            h = ax.barh(y, t * 1e3, left=left * 1e3, color=color, edgecolor="white", linewidth=0.8, height=0.62)
            handles.setdefault(label, h)
            if total > 0 and t / total >= 0.09:
                ax.text((left + t / 2) * 1e3, y, "%d%%" % round(100 * t / total), ha="center", va="center",
                        fontsize=8, color="white" if label != "other" else "#333333")
            left += t
        max_total = max(max_total, total)
        if kt:
            ax.text(total * 1e3, y, "  %s" % f_time(total), va="center", fontsize=8.5)
        elif r["failed"]:
            ax.text(0, y, "  did not run / no operating point", va="center", fontsize=8.5, color="#b22222")
        else:
            ax.text(0, y, "  no kernel breakdown in summary.json", va="center", fontsize=8.5, color="#777777")
    ax.set_yticks(ypos)
    ax.set_yticklabels(["%s\n%s, batch %s" % (r["chip"], r["precision"] or "?", r["batch"] or "n/a") for r in rows])
    ax.set_xlim(0, max(max_total * 1e3 * 1.14, 1e-3))
    ax.set_xlabel("time per decode step (ms), summed over layers")
    ax.grid(axis="y", visible=False)
    ax.set_title("Where a decode step goes: top kernels per chip (rest as \u201cother\u201d)", loc="left")
    order = [l for l in top + ["other"] if l in handles]
    if order:  # no unit ran (each row failed): nothing to name, and matplotlib refuses a legend of 0 columns
        ax.legend([handles[l] for l in order], order, loc="upper center", bbox_to_anchor=(0.5, -0.14 - 0.5 / (n + 2)),
                  ncol=min(len(order), 4), fontsize=8.5)
    fig.tight_layout()
    return fig


def _energy_parts(r):
    """[(key, label, color, joules per token)] stacking up to the row's energy per token."""
    e = r["energy"]
    if not e:
        return []
    # The six parts are disjoint (sim/power/power.h, EnergyBreakdown): active_j is the clocked power of
    # the cores (holding work or idle) and the uncore, not a total that contains the per-event parts.
    v = {k: (e.get(k) or 0.0) for k in ("compute_j", "vector_j", "onchip_j", "dram_j", "active_j", "static_j")}
    return [(k, label, color, v[k]) for k, label, color in ENERGY_PARTS]


def plot_power_energy(plt, doc):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    rows = doc["rows"]
    n = len(rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.9))
    x = list(range(n))
    names = [r["chip"] for r in rows]
    top = 0.0
    for i, r in enumerate(rows):
        color = CHIP_COLORS[i % len(CHIP_COLORS)]
        if r["avg_power_w"] is not None:
            a1.bar(i, r["avg_power_w"], color=color, width=0.6)
            a1.text(i, r["avg_power_w"] / 2, "%s W" % f_int(r["avg_power_w"]), ha="center", va="center",
                    color="white", fontsize=8.5, fontweight="bold")
            top = max(top, r["avg_power_w"])
        else:
            a1.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8.5, color="#777777")
        if r["tdp_w"] is not None:
            a1.plot([i - 0.36, i + 0.36], [r["tdp_w"]] * 2, color="black", lw=2.2)
            a1.text(i, r["tdp_w"], "TDP %s W" % f_int(r["tdp_w"]), ha="center", va="bottom", fontsize=7.5)
            top = max(top, r["tdp_w"])
        if r["peak_power_w"] is not None:
            a1.plot([i], [r["peak_power_w"]], marker="D", ms=5.5, color="white", markeredgecolor="black")
            top = max(top, r["peak_power_w"])
        if r["throttled"]:
            a1.text(i, 0.02 * max(top, 1), "throttled\nclock %s" % (
                "%d%%" % round(100 * r["clock_ratio"]) if r["clock_ratio"] is not None else "n/a"),
                ha="center", va="bottom", fontsize=7.5, color="white")
    a1.set_xticks(x)
    a1.set_xticklabels(names)
    a1.set_ylim(0, max(top, 1) * 1.12)
    a1.set_ylabel("watts per chip")
    a1.grid(axis="x", visible=False)
    a1.set_title("Average power at the operating point", loc="left")
    a1.legend([Line2D([], [], color="black", lw=2.2), Line2D([], [], marker="D", color="white", markeredgecolor="black",
                                                               ls="none")],
              ["TDP", "peak power"], loc="upper left", bbox_to_anchor=(0, -0.1), ncol=2, fontsize=8.5)

    used = set()
    top = 0.0
    for i, r in enumerate(rows):
        parts = _energy_parts(r)
        bottom = 0.0
        for key, label, color, j in parts:
            if j <= 0:
                continue
            a2.bar(i, j * 1e3, bottom=bottom * 1e3, color=color, width=0.6, edgecolor="white", linewidth=0.6)
            used.add(key)
            bottom += j
        total = r["joules_per_token"]
        if not parts and total is not None:
            a2.bar(i, total * 1e3, color="#9d9d9d", width=0.6)
            used.add("total")
        shown = total if total is not None else (bottom if parts else None)
        if shown is not None:
            a2.text(i, max(shown, bottom) * 1e3, "%s mJ" % f_sig(shown * 1e3), ha="center", va="bottom", fontsize=8.5)
            top = max(top, shown, bottom)
        else:
            a2.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8.5, color="#777777")
    a2.set_xticks(x)
    a2.set_xticklabels(names)
    a2.set_ylim(0, max(top, 1e-6) * 1e3 * 1.12)
    a2.set_ylabel("millijoules per output token")
    a2.grid(axis="x", visible=False)
    a2.set_title("Energy per output token, by component", loc="left")
    leg = [(Patch(color=c), l) for k, l, c in ENERGY_PARTS if k in used]
    if "total" in used:
        leg.append((Patch(color="#9d9d9d"), "total (no breakdown)"))
    if leg:
        a2.legend([h for h, _ in leg], [l for _, l in leg], loc="upper left", bbox_to_anchor=(0, -0.1),
                  ncol=3, fontsize=8.5)
    fig.tight_layout()
    return fig


def plot_cost(plt, doc):
    from matplotlib.patches import Patch
    rows = doc["rows"]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(10, 4.6))
    vals = [r["usd_per_mtok"] for r in rows if r["usd_per_mtok"] is not None]
    top = max(vals) if vals else 1.0
    for i, r in enumerate(rows):
        color = CHIP_COLORS[i % len(CHIP_COLORS)]
        v = r["usd_per_mtok"]
        state = price_state(r)
        if v is None:
            ax.text(i, top * 0.04, "did not run" if r["failed"] else "no price\n(n/a)", ha="center", va="bottom",
                    fontsize=9, color="#b22222")
            continue
        assumed = state != "published"
        ax.bar(i, v, width=0.6, color=color, alpha=0.45 if assumed else 1.0, hatch="///" if assumed else None,
               edgecolor=color if assumed else "white", linewidth=1.2)
        label = "$%s" % f_sig(v)
        if assumed:
            label += "\n(%s)" % (price_state_text(r) if state == "user" else state + " price")
        ax.text(i, v, label, ha="center", va="bottom", fontsize=9, fontweight="bold" if not assumed else "normal")
    ax.set_xticks(list(range(n)))
    ax.set_xticklabels(["%s\n%s" % (r["chip"], r["price_basis"] or "") for r in rows])
    ax.set_ylim(0, top * 1.22)
    ax.set_ylabel("US$ per million output tokens")
    ax.grid(axis="x", visible=False)
    ax.set_title("Cost per million output tokens (lower is better)", loc="left")
    ax.legend([Patch(facecolor="#888888"), Patch(facecolor="#88888873", hatch="///", edgecolor="#888888")],
              ["published price", "assumed or user-set price (no public price)"], loc="upper right", fontsize=9)
    fig.tight_layout()
    return fig


PLOTTERS = {
    "frontier": plot_frontier,
    "throughput_vs_tpot": plot_throughput_vs_tpot,
    "kernel_breakdown": plot_kernel_breakdown,
    "power_energy": plot_power_energy,
    "cost": plot_cost,
}


def _write_atomic(path, data):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def render_plots(doc, folder):
    """Writes <name>.png and <name>.svg per plot; returns {name: (png bytes, width px, height px)}."""
    plt = _plt()
    out = {}
    for name, _ in PLOTS:
        fig = PLOTTERS[name](plt, doc)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=144, metadata={"Software": None})
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
        plt.close(fig)
        data = png.getvalue()
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # the IHDR chunk
        _write_atomic(os.path.join(folder, name + ".png"), png.getvalue())
        _write_atomic(os.path.join(folder, name + ".svg"), svg.getvalue())
        out[name] = (data, w, h)
    return out


# ---------------------------------------------------------------------------------------------------
# The page

CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#dde2ea; --bg:#f6f7f9; --ok:#1e7b34; --warn:#a25a00; --bad:#b22222; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width:1260px; margin:0 auto; padding:28px 28px 48px; background:#fff; min-height:100vh;
       box-shadow:0 0 0 1px var(--line); }
h1 { font-size:26px; margin:0 0 4px; letter-spacing:-0.01em; }
h2 { font-size:19px; margin:34px 0 10px; padding-bottom:4px; border-bottom:2px solid var(--line); }
.sub { color:var(--muted); margin:0 0 18px; }
.meta { display:flex; flex-wrap:wrap; gap:8px 22px; font-size:13.5px; color:var(--muted); margin-bottom:14px; }
.meta b { color:var(--ink); font-weight:600; }
.keys { display:grid; grid-template-columns:repeat(auto-fit, minmax(230px, 1fr)); gap:12px; margin:16px 0 6px; }
.key { border:1px solid var(--line); border-radius:8px; padding:10px 14px; background:#fbfcfd; }
.key .k { font-size:12px; text-transform:uppercase; letter-spacing:0.05em; color:var(--muted); }
.key .v { font-size:19px; font-weight:650; }
.key .d { font-size:13px; color:var(--muted); }
.tablewrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:7px 6px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap;
         vertical-align:top; }
th { background:#eef1f5; font-weight:600; font-size:12.5px; position:sticky; top:0; }
th small { display:block; font-weight:400; color:var(--muted); }
td.l, th.l { text-align:left; }
td.wrap { white-space:normal; min-width:96px; }
tbody tr:nth-child(even) { background:#fafbfc; }
td .chip { font-weight:650; }
td small { display:block; color:var(--muted); font-size:11.5px; }
td.assumed-val { font-style:italic; color:var(--warn); }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:11.5px; font-weight:600;
         line-height:17px; margin:1px 2px 1px 0; border:1px solid transparent; }
.badge.published { background:#e5f4e9; color:var(--ok); border-color:#b8e0c2; }
.badge.assumed, .badge.user { background:#fff1de; color:var(--warn); border-color:#f3c98d; }
.badge.none, .badge.unknown { background:#fde8e8; color:var(--bad); border-color:#f1b5b5; }
.badge.throttled { background:#fff1de; color:var(--warn); border-color:#f3c98d; }
.badge.slo-ok { background:#e5f4e9; color:var(--ok); border-color:#b8e0c2; }
.badge.slo-miss { background:#fde8e8; color:var(--bad); border-color:#f1b5b5; }
.badge.failed { background:#fde8e8; color:var(--bad); border-color:#f1b5b5; }
ul.verdict li { margin:6px 0; }
.legend { font-size:12.5px; color:var(--muted); margin-top:8px; }
figure { margin:22px 0 8px; }
figure img { display:block; width:100%; height:auto; border:1px solid var(--line); border-radius:6px; }
figcaption { font-size:13.5px; color:var(--muted); margin-top:6px; }
figcaption a { color:var(--muted); }
ul.howto li, ul.notes li { margin:5px 0; }
ul.notes .src { color:var(--muted); font-size:13px; }
footer { margin-top:36px; font-size:12.5px; color:var(--muted); border-top:1px solid var(--line); padding-top:10px; }
"""

# Counts the plots that decoded with a non-zero size; a headless browser test reads the result from
# <body data-plots-loaded="N" data-plots-expected="M">.
SCRIPT = """
(function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img.plot'));
  var left = imgs.length, ok = 0;
  function finish() {
    document.body.dataset.plotsExpected = String(imgs.length);
    document.body.dataset.plotsLoaded = String(ok);
  }
  function one(img) {
    img.dataset.natural = img.naturalWidth + 'x' + img.naturalHeight;
    if (img.naturalWidth > 0 && img.naturalHeight > 0) ok++;
    if (--left === 0) finish();
  }
  if (left === 0) finish();
  imgs.forEach(function (img) {
    if (img.complete) { one(img); return; }
    img.addEventListener('load', function () { one(img); });
    img.addEventListener('error', function () { one(img); });
  });
})();
"""


def _e(s):
    return html.escape(str(s), quote=True)


def scenario_text(sc):
    parts = []
    if sc["input"] is not None and sc["output"] is not None:
        parts.append("%s input / %s output tokens per request" % (f_int(sc["input"]), f_int(sc["output"])))
    t = []
    if sc["ttft_slo_s"] is not None:
        t.append("TTFT \u2264 %s" % f_target(sc["ttft_slo_s"]))
    if sc["tpot_slo_s"] is not None:
        t.append("TPOT \u2264 %s" % f_target(sc["tpot_slo_s"]))
    parts.append("targets: " + ", ".join(t) if t else "no latency targets (maximum throughput)")
    return "; ".join(parts)


def key_findings(doc):
    rows = live(doc)
    keys = []
    if not rows:
        return [("No operating point", "0 chips", "every chip failed; the table says why")]
    best = max(rows, key=lambda r: r["throughput_tok_s"])
    keys.append(("Highest throughput", "%s tok/s" % f_int(best["throughput_tok_s"]),
                 "%s, batch %d" % (chip_label(best), best["batch"])))
    timed = [r for r in rows if r["tpot_s"] is not None]
    if timed:
        fast = min(timed, key=lambda r: r["tpot_s"])
        keys.append(("Lowest TPOT", f_time(fast["tpot_s"]), "%s, batch %d" % (chip_label(fast), fast["batch"])))
    e = [r for r in rows if r["joules_per_token"] is not None]
    if e:
        lo = min(e, key=lambda r: r["joules_per_token"])
        keys.append(("Lowest energy", "%s J/token" % f_sig(lo["joules_per_token"]), chip_label(lo)))
    priced = [r for r in rows if r["usd_per_mtok"] is not None]
    pub = [r for r in priced if price_state(r) == "published"]
    if priced:
        lo = min(priced, key=lambda r: r["usd_per_mtok"])
        st = price_state(lo)
        d = chip_label(lo) + ("" if st == "published" else " \u2014 price %s" % price_state_text(lo) if st == "user"
                              else " \u2014 %s price" % st)
        if st != "published" and pub:
            lp = min(pub, key=lambda r: r["usd_per_mtok"])
            d += "; lowest with a published price: %s, %s" % (lp["chip"], f_usd(lp["usd_per_mtok"]))
        keys.append(("Lowest cost", "%s / Mtok" % f_usd(lo["usd_per_mtok"]), d))
    return keys


def table_html(doc):
    rows = doc["rows"]
    first = rows[0]["chip"]
    head = [
        ("l", "Chip", "family"), ("l", "Precision", ""), ("", "Batch", ""), ("", "Throughput", "tok/s"),
        ("", "TTFT", ""), ("", "TPOT", ""), ("", "Avg power", "W (TDP)"), ("", "Energy", "J/token"),
        ("", "Price", "$/chip-hour"), ("", "Cost", "$/Mtok"), ("", "Perf/$", "rel. to %s" % first),
        ("", "Perf/W", "tok/s/W"), ("l", "Price status", "basis"), ("l", "Status", ""),
    ]
    out = ['<div class="tablewrap"><table id="summary"><thead><tr>']
    for cls, t, sub in head:
        out.append('<th class="%s">%s%s</th>' % (cls, _e(t), "<small>%s</small>" % _e(sub) if sub else ""))
    out.append("</tr></thead><tbody>")
    for r in rows:
        st = price_state(r)
        money_cls = "" if st == "published" else "assumed-val"
        status = []
        if r["meets_slo"] is True:
            status.append('<span class="badge slo-ok">meets targets</span>')
        elif r["meets_slo"] is False:
            status.append('<span class="badge slo-miss">misses targets</span>')
        if r["failed"]:
            status.append('<span class="badge failed" title="%s">%s</span>' % (
                _e(r["note"]), "did not run" if not r["ran"] else "no operating point"))
        if r["throttled"]:
            status.append('<span class="badge throttled" title="the TDP limit lowered the clock">throttled%s</span>' % (
                " to %d%% clock" % round(100 * r["clock_ratio"]) if r["clock_ratio"] is not None else ""))
        badge_text = price_state_text(r)
        tdp = " <small>of %s W</small>" % f_int(r["tdp_w"]) if r["tdp_w"] is not None else ""
        cells = [
            ("l", '<span class="chip">%s</span><small>%s</small>' % (_e(r["chip"]), _e(r["family"]))),
            ("l", _e(r["precision"] or "n/a")),
            ("", _e(r["batch"] if r["batch"] is not None else "n/a")),
            ("", _e(f_int(r["throughput_tok_s"]))),
            ("", _e(f_time(r["ttft_s"]))),
            ("", _e(f_time(r["tpot_s"]))),
            ("", _e(f_int(r["avg_power_w"])) + tdp),
            ("", _e(f_sig(r["joules_per_token"]))),
            (money_cls, _e(f_usd(r["usd_per_hour"]))),
            (money_cls, _e(f_usd(r["usd_per_mtok"]))),
            (money_cls, _e("n/a" if r["perf_per_usd_rel"] is None else "%s\u00d7" % f_sig(r["perf_per_usd_rel"]))),
            ("", _e(f_sig(r["perf_per_watt"]))),
            ("l wrap", '<span class="badge %s" title="%s">%s</span><small>%s</small>' % (
                st, _e(r["price_source"]), badge_text, _e(r["price_basis"] or ""))),
            ("l wrap", " ".join(status) or "&nbsp;"),
        ]
        out.append('<tr data-chip="%s" data-price="%s" data-ran="%s">' % (_e(r["chip"]), st,
                                                                          "false" if not r["ran"] else "true"))
        out += ['<td class="%s">%s</td>' % (c, v) for c, v in cells]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append('<p class="legend">Perf/$ is throughput per $/hour relative to the first row (%s = 1.00\u00d7; higher '
               'is better). <span class="badge published">published</span> price from a public list price or '
               'TCO with a source; <span class="badge assumed">assumed</span> no public price, a user-supplied '
               'figure: its $/h, $/Mtok and perf/$ (in <i>italics</i>) are a what-if, not a quote; '
               '<span class="badge user">set by --set</span> a price the user gave (with --set or in their own preset), '
               'a what-if as well. Hover a badge for the price source.</p>' % _e(first))
    return "".join(out)


def layouts_html(doc):
    """Each searched unit's chosen layout and why every other layout it tried was not chosen."""
    rows = [r for r in doc["rows"] if r["layout_search"]]
    if not rows:
        return ""
    out = ['<p class="sub">Criterion: %s.</p>' % _e(rows[0]["layout_search"]["criterion"]),
           '<div class="tablewrap"><table id="layouts"><thead><tr><th class="l">Unit</th><th class="l">Layout</th>'
           '<th class="l">Kind</th><th class="l wrap">Verdict</th></tr></thead><tbody>']
    for r in rows:
        for i, t in enumerate(r["layout_search"]["tried"]):
            out.append('<tr%s><td class="l">%s</td><td class="l">%s</td><td class="l">%s</td><td class="l wrap">%s</td></tr>' % (
                ' class="chosen"' if t["chosen"] else "", _e(r["chip"]) if i == 0 else "",
                ("<b>%s</b>" if t["chosen"] else "%s") % _e(t["layout"]), _e(t["kind"]), _e(t["verdict"])))
    out.append("</tbody></table></div>")
    return "".join(out)


def tiers_html(doc):
    """Best throughput per chip at each interactivity tier, with $/Mtok and tok/s per provisioned MW."""
    if not doc["tiers"]:
        return ""
    out = ['<div class="tablewrap"><table id="tiers"><thead><tr>']
    head = [("l", "Tier", "tok/s per user"), ("l", "Chip", ""), ("l", "Layout", "serving the tier best"), ("", "Concurrency", ""), ("", "Throughput", "tok/s per chip"),
            ("", "Cost", "$/Mtok")]
    if doc["tco"]:
        head.append(("", "TCO", "$/Mtok all-in"))
    head += [("", "Efficiency", "tok/s per provisioned MW"), ("l wrap", "Bound", "share of a decode step")]
    for cls, t, sub in head:
        out.append('<th class="%s">%s%s</th>' % (cls, _e(t), "<small>%s</small>" % _e(sub) if sub else ""))
    out.append("</tr></thead><tbody>")
    for ti, tier in enumerate(doc["tiers"]):
        for r in doc["rows"]:
            t = r["tiers"][ti] if ti < len(r["tiers"]) else None
            label = "\u2265 %g" % tier
            if t is None or not t["reachable"]:
                why = (t["why"] if t else "") or r["note"] or "no point of the frontier is that interactive"
                out.append('<tr class="unreachable" data-tier="%g" data-chip="%s"><td class="l">%s</td><td class="l">%s</td>'
                           '<td class="l wrap" colspan="%d"><b>unreachable</b>: %s</td></tr>' % (
                               tier, _e(r["chip"]), _e(label), _e(r["chip"]), len(head) - 2, _e(why)))
                continue
            cells = [("l", _e(label)), ("l", _e(r["chip"])), ("l", _e(t["layout"] or "-")), ("", _e(f_load(t))),
                     ("", _e(f_int(t["throughput_tok_s_per_chip"]))), ("", _e(f_usd(t["usd_per_mtok"])))]
            if doc["tco"]:
                cells.append(("", _e(f_usd(t["tco_usd_per_mtok"]))))
            cells += [("", _e(f_int(t["tok_s_per_mw"]))),
                      ("l wrap", _e("%s (%s)" % (t["bound"] or "n/a", "%d%%" % round(100 * t["bound_share"])
                                                  if t["bound_share"] is not None else "n/a")))]
            out.append('<tr data-tier="%g" data-chip="%s">' % (tier, _e(r["chip"])))
            out += ['<td class="%s">%s</td>' % (c, v) for c, v in cells]
            out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append('<p class="legend">Each tier: the concurrency of the sweep with the most output tokens/s per chip whose '
               'median user still streams at least that many tokens/s. The bound is what the decode step at that point '
               'waits on most, from the simulation: weight streaming (memory-bound GEMMs), KV-cache traffic '
               '(memory-bound attention), compute, communication (collectives), activation traffic (memory-bound norms '
               'and element-wise kernels), vector units, on-chip transfer, latency (kernels too small to keep a unit '
               'busy), host (the serving framework\'s host work per iteration set the time of at least half the '
               'iterations: the chip waited for it), or memory capacity (the KV cache capped the batch). Provisioned '
               'power per chip: TDP \u00d7 PUE '
               '(hosts and network not counted).</p>')
    return "".join(out)


def verdict_html(doc):
    if not doc["verdict"]:
        return ""
    return '<ul class="verdict">%s</ul>' % "".join("<li>%s</li>" % _e(v) for v in doc["verdict"])


def validation_html(doc):
    seen, items = set(), []
    for r in doc["rows"]:
        fam = r["family"] or "?"
        if fam in seen:
            continue
        seen.add(fam)
        items.append("<li>%s</li>" % _e(r["validation"] or "%s: no validation summary in summary.json" % fam))
    return '<ul class="notes">%s</ul>' % "".join(items)


CAPTIONS = {
    "frontier": "Each curve is one chip as concurrency grows: right is faster streams for each user, up is more "
                "tokens per chip. The dotted lines are the interactivity tiers of the table above.",
    "throughput_vs_tpot": "Each line is one chip as its batch grows: up and to the right buys throughput with "
                          "slower token streams. The star marks the operating point in the table (the largest "
                          "batch that fits memory and meets the targets); the dashed red line is the TPOT target.",
    "kernel_breakdown": "One decode step at the operating point, split by kernel (all layers summed). Long "
                        "attention segments mean the KV cache dominates; long GEMM segments (gate_up, down, "
                        "qkv_proj) mean weight traffic or compute does.",
    "power_energy": "Left: average power at the operating point, with the TDP (black bar) and the peak power "
                    "(diamond). Right: energy per output token split by where it is spent: per-event energies "
                    "(MACs, vector, on-chip and DRAM bytes), the clocked power of the cores and the uncore "
                    "while kernels run, and \u201cstatic\u201d (leakage and idle power) spread over the tokens.",
    "cost": "At the operating point: the chip's $/hour divided by the millions of tokens it produces in an hour. "
            "Hatched, pale bars use an assumed price.",
}


def notes_html(doc):  # noqa: C901
    out = ['<ul class="notes">']
    for r in doc["rows"]:
        bits = []
        if r["note"]:
            bits.append(_e(r["note"]))
        if r["throttled"]:
            bits.append("Throttled by the TDP limit: clock at %s of nominal." % (
                "%d%%" % round(100 * r["clock_ratio"]) if r["clock_ratio"] is not None else "an unstated share"))
        pm = r["power_manager"]
        if pm:  # as `xpusim serve` prints it under its table
            lim = pm.get("limits")  # the windows are the preset's (older studies: the H100's 60 ms and 1 s)
            def window(k, default):
                v = lim[k] if lim else None
                return default if not v else "%g ms" % (v * 1e3) if v < 1 else "%g s" % v
            sw, lw = window("short_term_window_s", "60 ms"), window("limit_window_s", "1 s")
            held = ("TDP average not reached" if pm["held_from_s"] is None else
                    "TDP average reached at %s, held %s (highest %s average there %s W)" % (
                        f_time(pm["held_from_s"]), f_time(pm["held_s"]), lw, f_int(pm["max_limit_avg_held_w"])))
            unboosted = ("every window held boost" if pm["max_short_term_avg_unboosted_w"] is None else
                         "%s W without boost in the window" % f_int(pm["max_short_term_avg_unboosted_w"]))
            bits.append("Power manager at the best point: %s at boost, %s at the short-term limit, %s; highest %s average "
                        "%s W (%s), %s %s W." % (
                            f_time(pm["boost_s"]), f_time(pm["short_term_s"]), held, sw, f_int(pm["max_short_term_avg_w"]),
                            unboosted, lw, f_int(pm["max_limit_avg_w"])))
            if lim and lim["short_term_limit_w"]:
                bits.append("Its short-term limit, %s W on the %s average, caps each iteration once the boost from idle has "
                            "ended, so a window still holding the boost averages above it (%s)." % (
                                f_int(lim["short_term_limit_w"]), sw, _e(lim["short_term_source"] or "no source given")))
        if r["meets_slo"] is False:
            bits.append("<b>Does not meet the latency targets</b> at any batch; the row shows its best point.")
        st = price_state(r)
        if st == "none" and not r["failed"]:
            bits.append("No price: cost figures are n/a.")
        if doc["tco"] and r["tco_assumptions"]:
            bits.append("TCO: %s." % _e(r["tco_assumptions"]))
        src = ('<br><span class="src">Price (%s%s): %s</span>' % (
            price_state_text(r) if st != "none" else "none",
            ", " + _e(r["price_basis"]) if r["price_basis"] else "", _e(r["price_source"] or "no source given"))
            if st != "none" or r["price_source"] else "")
        out.append("<li><b>%s</b> (%s, %s): %s%s</li>" % (_e(r["chip"]), _e(r["family"] or "?"),
                                                          _e(r["precision"] or "?"), " ".join(bits) or "\u2014", src))
    out.append("</ul>")
    return "".join(out)


def page_html(doc, plots):
    sc = doc["scenario"]
    chips = ", ".join(r["chip"] for r in doc["rows"])
    date = f_created(doc["created"])
    title = "%s \u00b7 %s scenario%s" % (doc["model"], sc["name"], " \u00b7 " + date[:10] if date else "")
    meta = [("Model", doc["model"]), ("Scenario", "%s (%s)" % (sc["name"], scenario_text(sc))), ("Date", date or "n/a"),
            ("Study", doc["study"] or "n/a"), ("xpusim", doc["version"] or "n/a")]
    p = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         "<title>%s</title><style>%s</style></head>" % (_e(title), CSS),
         '<body data-plots-loaded="0" data-plots-expected="%d"><main>' % len(plots),
         "<h1>%s</h1>" % _e(title),
         '<p class="sub">%s%d chips compared: %s.</p>' % (
             _e(sc["description"].rstrip(". ") + ". " if sc["description"] else ""), len(doc["rows"]), _e(chips)),
         '<div class="meta">%s</div>' % "".join("<span>%s: <b>%s</b></span>" % (_e(k), _e(v)) for k, v in meta)]
    p.append('<div class="keys">')
    for k, v, d in key_findings(doc):
        p.append('<div class="key"><div class="k">%s</div><div class="v">%s</div><div class="d">%s</div></div>' % (
            _e(k), _e(v), _e(d)))
    p.append("</div>")
    p.append("<h2>Summary</h2>")
    p.append(table_html(doc))
    if any(r["layout_search"] for r in doc["rows"]):
        p.append("<h2>Layouts</h2>")
        p.append(layouts_html(doc))
    if doc["waiting"]:
        p.append('<p class="sub">Study %s also covers %s, waiting for %s.</p>' % (
            _e(doc["study_name"]), _e(", ".join(doc["waiting"])), _e(doc["waiting_reason"])))
    if doc["tiers"]:
        p.append("<h2>Interactivity tiers</h2>")
        p.append(tiers_html(doc))
    if doc["verdict"]:
        p.append("<h2>Verdict</h2>")
        p.append(verdict_html(doc))
    p.append("<h2>Plots</h2>")
    for name, caption in PLOTS:
        png, w, h = plots[name]
        p.append('<figure id="fig-%s"><img class="plot" alt="%s" width="%d" height="%d" src="data:image/png;base64,%s">'
                 '<figcaption><b>%s.</b> %s <a href="%s.svg">SVG</a> \u00b7 <a href="%s.png">PNG</a></figcaption>'
                 "</figure>" % (name, _e(caption), w, h, base64.b64encode(png).decode("ascii"), _e(caption),
                                _e(CAPTIONS[name]), name, name))
    p.append("<h2>What is validated</h2>")
    p.append(validation_html(doc))
    p.append("<h2>How to read this</h2><ul class=\"howto\">")
    for item in [
        "<b>Throughput</b> is output tokens per second of the serving unit (one chip, or every chip of a system "
        "unit together) at its operating point: the largest batch that fits in memory (weights + KV cache) and "
        "meets the latency targets, or the maximum-throughput batch when there are none. Power and price are per "
        "chip; the tiers give throughput per chip.",
        "<b>TTFT</b> (time to first token) is what a user waits before the answer starts; <b>TPOT</b> (time per "
        "output token) is the pace of the answer after that. 20 ms TPOT is 50 tokens/s per user.",
        "<b>J/token</b> is the energy per output token: the average power of the unit's chips divided by its "
        "throughput. <b>Perf/W</b> is its inverse (tokens/s per watt).",
        "<b>$/Mtok</b> = $/hour of the unit's chips \u00f7 (tokens/s \u00d7 3600) \u00d7 10<sup>6</sup>, at the stated price basis "
        "(cloud list price, or TCO: purchase price over the service life plus power \u00d7 PUE \u00d7 electricity). "
        "<b>Perf/$</b> compares tokens/s per $/hour with the first chip.",
        "An <span class=\"badge assumed\">assumed</span> price has no public source (the user supplied it): read "
        "its cost figures as a scenario. <span class=\"badge throttled\">throttled</span> means power would have "
        "exceeded the TDP, so the modeled clock was lowered and kernels slowed down.",
        "All figures are predictions of the xpusim performance, power and cost models, not measurements.",
    ]:
        p.append("<li>%s</li>" % item)
    p.append("</ul>")
    p.append("<h2>Notes per chip</h2>")
    p.append(notes_html(doc))
    p.append("<footer>Generated by scripts/compare_report.py from summary.json (xpusim %s). Files beside this page: "
             "summary.json, summary.csv, the resolved configs and the plots as PNG and SVG.</footer>"
             % _e(doc["version"] or "?"))
    p.append("</main><script>%s</script></body></html>\n" % SCRIPT)
    return "\n".join(p)


def make_report(folder):
    doc = load_summary(folder)
    if not os.access(folder, os.W_OK):
        raise ReportError("cannot write into %s" % folder)
    plots = render_plots(doc, folder)
    path = os.path.join(folder, "report.html")
    _write_atomic(path, page_html(doc, plots).encode("utf-8"))
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(allow_abbrev=False, description="Write report.html and plots from the summary.json of `xpusim compare`.")
    ap.add_argument("folder", help="results/compare/<name> (holds summary.json)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    folder = args.folder
    if os.path.isfile(folder) and os.path.basename(folder) == "summary.json":
        folder = os.path.dirname(folder) or "."
    try:
        path = make_report(folder)
    except ReportError as e:
        print("compare_report: error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("compare_report: error: %s: %s" % (e.filename or folder, e.strerror or e), file=sys.stderr)
        return 2
    except Exception as e:  # a bug here: still one line, the traceback on request
        if os.environ.get("XPUSIM_DEBUG"):
            raise
        print("compare_report: internal error: %s: %s (XPUSIM_DEBUG=1 shows the traceback)" % (type(e).__name__, e),
              file=sys.stderr)
        return 3
    if not args.quiet:
        print("report: %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
