"""Export a trace to the Chrome / Perfetto JSON trace format, which https://ui.perfetto.dev opens.

    >>> import xpusim
    >>> xpusim.to_perfetto("run/trace.h5", "run/trace.json")

or from a shell:

    python3 -m xpusim.perfetto run/trace.h5 run/trace.json

Layout of the file: one process per chip (per trace), one thread (track) per unit, named after the
unit ("chip.sm3.tensor"); each transaction is a complete ("X") slice named by its kind with its
bytes, FLOPs, kernel and task as arguments; a "kernels" track shows each kernel's span; counter
("C") tracks show DMA bandwidth, the busy share of each unit group and, when given, power.

The JSON format requires the slices of one thread to nest; a DMA engine keeps many copies in flight
at once, so a unit whose transactions overlap gets extra lanes, tracks named "chip.sm3.tma [1]",
"[2]", ... (lane 0 keeps the plain unit name).
"""
import heapq
import json
import numbers
import os
import sys

import numpy as np

from .trace import Trace

_PS_PER_US = 1e6


def _lanes(start, end):
    """Greedy interval partitioning: a lane per record such that records of one lane never overlap.

    Records must be sorted by start. Returns (lane per record, number of lanes). Uses one lane when
    nothing overlaps, which is the common case for compute engines.
    """
    n = len(start)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    if n == 1 or np.all(start[1:] >= np.maximum.accumulate(end)[:-1]):
        return np.zeros(n, dtype=np.int64), 1
    lane = np.empty(n, dtype=np.int64)
    free = []  # (end time, lane) of busy lanes
    idle = []  # lanes that are free, smallest first
    nlanes = 0
    for i in range(n):
        s = start[i]
        while free and free[0][0] <= s:
            heapq.heappush(idle, heapq.heappop(free)[1])
        if idle:
            k = heapq.heappop(idle)
        else:
            k = nlanes
            nlanes += 1
        lane[i] = k
        heapq.heappush(free, (end[i], k))
    return lane, nlanes


def _meta(pid, tid, what, args):
    e = {"ph": "M", "pid": pid, "name": what, "args": args}
    if tid is not None:
        e["tid"] = tid
    return json.dumps(e)


def _us(ps):
    return "%.6f" % (ps / _PS_PER_US)


def _counter(pid, name, ts_ps, series):
    """C events: one per time in ts_ps with the value of every series (dict name -> array)."""
    keys = list(series)
    out = []
    for i, t in enumerate(ts_ps):
        args = ", ".join("%s: %.6g" % (json.dumps(k), float(series[k][i])) for k in keys)
        out.append('{"ph": "C", "pid": %d, "name": %s, "ts": %s, "args": {%s}}' % (pid, json.dumps(name), _us(t), args))
    return out


def _power_series(power):
    """Accept (times_s, watts), {"t_s": [...], "W": [...]} or {name: (times_s, watts)}."""
    if power is None:
        return {}
    if isinstance(power, dict) and ("t_s" in power or "time_s" in power):
        t = power.get("t_s", power.get("time_s"))
        w = power.get("W", power.get("watts", power.get("power_W")))
        return {"power": (np.asarray(t, dtype=float), np.asarray(w, dtype=float))}
    if isinstance(power, dict):
        return {k: (np.asarray(v[0], dtype=float), np.asarray(v[1], dtype=float)) for k, v in power.items()}
    t, w = power
    return {"power": (np.asarray(t, dtype=float), np.asarray(w, dtype=float))}


def _process_events(trace, pid, label, max_events, bin_s, power, counters, kernel_track):
    """Yield the JSON text of every event of one trace (one process)."""
    r = trace.records
    truncated = max_events is not None and len(r) > max_events
    if truncated:
        trace = trace[:max_events]
        r = trace.records
        if len(r):
            trace.t1 = float(r["end_ps"].max()) / 1e12
    yield _meta(pid, None, "process_name", {"name": label})
    yield _meta(pid, None, "process_sort_index", {"sort_index": pid})
    has_kernel = "kernel" in r.dtype.names
    kname = [json.dumps(k) for k in trace.kernels]
    n_kinds = max(len(trace.kind_names), int(r["kind"].max()) + 1 if len(r) else 0)
    kinds = [json.dumps(trace.kind_name(i)) for i in range(n_kinds)]

    # Kernel spans on their own track(s), above the units.
    next_tid = 1
    if kernel_track and has_kernel and len(r):
        ks = trace.summary(by="kernel")
        names = list(ks)
        st = np.array([int(round(ks[k]["start_s"] * 1e12)) for k in names], dtype=np.int64)
        en = np.array([int(round(ks[k]["end_s"] * 1e12)) for k in names], dtype=np.int64)
        order = np.argsort(st, kind="stable")
        lane, nl = _lanes(st[order], en[order])
        for k in range(nl):
            yield _meta(pid, next_tid + k, "thread_name", {"name": "kernels" + (" [%d]" % k if k else "")})
            yield _meta(pid, next_tid + k, "thread_sort_index", {"sort_index": next_tid + k})
        for j, i in enumerate(order):
            v = ks[names[i]]
            yield ('{"ph": "X", "cat": "kernel", "name": %s, "pid": %d, "tid": %d, "ts": %s, "dur": %s, '
                   '"args": {"transactions": %d, "bytes": %d, "flops": %d}}'
                   % (json.dumps(names[i]), pid, next_tid + int(lane[j]), _us(st[i]), _us(en[i] - st[i]),
                      v["count"], v["bytes"], v["flops"]))
        next_tid += nl

    # One track per unit (plus lanes where its transactions overlap), in unit order.
    tid_of = np.zeros(len(r), dtype=np.int64)
    units = r["unit"]
    order = np.argsort(units, kind="stable")  # records are sorted by start, so each unit's stay sorted
    bounds = np.flatnonzero(np.diff(units[order])) + 1
    for idx in np.split(order, bounds) if len(order) else []:
        u = int(units[idx[0]])
        lane, nl = _lanes(r["start_ps"][idx], r["end_ps"][idx])
        for k in range(nl):
            name = trace.units[u] + (" [%d]" % k if k else "")
            yield _meta(pid, next_tid + k, "thread_name", {"name": name})
            yield _meta(pid, next_tid + k, "thread_sort_index", {"sort_index": next_tid + k})
        tid_of[idx] = next_tid + lane
        next_tid += nl
    names = r.dtype.names
    zeros = np.zeros(len(r), dtype=np.int64)
    col = {f: (r[f] if f in names else zeros) for f in ("bytes", "flops", "task", "level", "kernel")}
    start, end, kind = r["start_ps"], r["end_ps"], r["kind"]
    fmt = ('{"ph": "X", "cat": %s, "name": %s, "pid": %d, "tid": %d, "ts": %.6f, "dur": %.6f, '
           '"args": {"bytes": %d, "flops": %d, "kernel": %s, "task": %d, "level": %d}}')
    ts = start / _PS_PER_US
    dur = (end - start) / _PS_PER_US
    kid = col["kernel"].tolist()
    for i, (k, t, d, tid, b, f, task, lv) in enumerate(zip(kind.tolist(), ts.tolist(), dur.tolist(), tid_of.tolist(),
                                                          col["bytes"].tolist(), col["flops"].tolist(),
                                                          col["task"].tolist(), col["level"].tolist())):
        kn = kinds[k]
        kk = kname[kid[i]] if has_kernel and kid[i] < len(kname) else "null"
        yield fmt % (kn, kn, pid, tid, t, d, b, f, kk, task, lv)

    if counters and len(r):
        edges, bw = trace.dma_bandwidth(bin_s)
        ts_ps = np.round(edges * 1e12).astype(np.int64)
        if bw:
            series = {k: np.r_[v / 1e9, 0.0] for k, v in bw.items()}
            yield from _counter(pid, "DMA bandwidth (GB/s)", ts_ps, series)
        _, busy = trace.utilization(bin_s)
        if busy:
            series = {k: np.r_[100.0 * v, 0.0] for k, v in busy.items()}
            yield from _counter(pid, "busy (%)", ts_ps, series)
    for name, (t, w) in _power_series(power).items():
        yield from _counter(pid, "power (W)", np.round(np.asarray(t) * 1e12).astype(np.int64), {name: np.asarray(w)})


def to_perfetto(trace, path, max_events=None, bin_s=None, power=None, counters=True, kernel_track=True):
    """Write a Perfetto / Chrome JSON trace ({"traceEvents": [...], "displayTimeUnit": "ns"}).

    trace       a Trace, a trace.h5 path or run folder, or a list of them (one process each, so two
                chips can be compared on one timeline)
    path        the .json file to write (written to a temporary name, then renamed)
    max_events  write at most this many transactions per trace, the earliest ones; the rest of the
                run is cut (otherData.truncated says so). Perfetto handles a few million slices.
    bin_s       width of the counter bins in seconds (default: 1/200 of the run)
    power       power to draw as a counter: (times_s, watts) arrays, {"t_s": ..., "W": ...}, or
                {series name: (times_s, watts)}; a list with one entry per trace for a list of traces
    counters    add the DMA bandwidth (GB/s, split by direction and memory level) and busy (%, per
                unit group) counter tracks
    kernel_track  add a "kernels" track with one slice per kernel

    Times are written in microseconds with picosecond precision (the format's unit); the UI shows
    nanoseconds. Returns the number of transaction slices written.
    """
    if max_events is not None and (isinstance(max_events, bool) or not isinstance(max_events, numbers.Integral)
                                   or max_events < 0):
        # -1 wrote all but the last transaction and returned -1 (trace[:-1])
        raise ValueError("max_events=%r: expected None (every transaction) or an integer >= 0" % (max_events,))
    traces = trace if isinstance(trace, (list, tuple)) else [trace]
    traces = [t if isinstance(t, Trace) else Trace(t) for t in traces]
    powers = power if isinstance(power, (list, tuple)) and len(traces) > 1 else [power] + [None] * (len(traces) - 1)
    path = os.fspath(path)
    labels, seen = [], {}
    for t in traces:
        base = t.chip or "chip"
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else "%s (%d)" % (base, seen[base]))
    written = 0
    info = []
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as f:
            f.write('{"traceEvents": [\n')
            sep = ""
            buf = []
            for i, t in enumerate(traces):
                n = len(t) if max_events is None else min(len(t), max_events)
                written += n
                info.append({"chip": t.chip, "label": labels[i], "source": t.path, "transactions": len(t),
                             "written": n, "truncated": n < len(t)})
                for ev in _process_events(t, i + 1, labels[i], max_events, bin_s, powers[i], counters, kernel_track):
                    buf.append(ev)
                    if len(buf) >= 16384:
                        f.write(sep + ",\n".join(buf))
                        sep, buf = ",\n", []
            if buf:
                f.write(sep + ",\n".join(buf))
            f.write('\n],\n"displayTimeUnit": "ns",\n"otherData": ')
            f.write(json.dumps({"generator": "xpusim", "version": traces[0].version if traces else "",
                                "truncated": any(x["truncated"] for x in info), "traces": info}))
            f.write("}\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return written


def main(argv=None):
    """python3 -m xpusim.perfetto trace.h5 out.json [--max-events N] [--bin-s S]"""
    import argparse
    p = argparse.ArgumentParser(prog="python3 -m xpusim.perfetto", allow_abbrev=False,
                                description="Convert an xpusim trace.h5 to a Perfetto/Chrome JSON trace "
                                            "(open it at https://ui.perfetto.dev).")
    p.add_argument("trace", nargs="+", help="trace.h5 file(s) or run folder(s); several give one process each")
    p.add_argument("out", help="the .json file to write")
    p.add_argument("--max-events", type=int, default=None, help="at most this many transactions per trace")
    p.add_argument("--bin-s", type=float, default=None, help="counter bin width in seconds")
    a = p.parse_args(argv)
    try:
        traces = [Trace(t) for t in a.trace]
        n = to_perfetto(traces if len(traces) > 1 else traces[0], a.out, max_events=a.max_events, bin_s=a.bin_s)
    except (OSError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    total = sum(len(t) for t in traces)
    print("wrote %s: %d of %d transactions; open it at https://ui.perfetto.dev" % (a.out, n, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
