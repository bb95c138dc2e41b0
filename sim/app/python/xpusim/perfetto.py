"""Export a trace to the Chrome / Perfetto JSON trace format, which https://ui.perfetto.dev opens, with the
CLI's own writer (`--trace-format perfetto`, sim/io/perfetto.cpp, through the module): the same records give
the same events either way.

    >>> import xpusim
    >>> xpusim.to_perfetto("run/trace.h5", "run/trace.json")

or from a shell:

    python3 -m xpusim.perfetto run/trace.h5 run/trace.json

Layout of the file: one process per chip (per trace), one thread (track) per unit, named after the
unit ("chip.sm3.tensor"); each transaction is a complete ("X") slice named by its kind with its
bytes, FLOPs, kernel and task as arguments (a system trace's kernel, collective and step records are
named after their kernel, the kind as category); a "kernels" track shows each kernel's span; counter
("C") tracks show DMA bandwidth, the busy share of each unit group and, when given, power.

The JSON format requires the slices of one thread to nest; a DMA engine keeps many copies in flight
at once, so a unit whose transactions overlap gets extra lanes, tracks named "chip.sm3.tma [1]",
"[2]", ... (lane 0 keeps the plain unit name).
"""
import json
import numbers
import os
import sys

import numpy as np

from .trace import Trace


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


def _raw_records(records):
    """Records in the C++ TraceRecord layout, as the module's writer reads them."""
    from .session import _RAW_DTYPE
    out = np.zeros(len(records), dtype=_RAW_DTYPE)
    for name in _RAW_DTYPE.names:
        if name in (records.dtype.names or ()):
            out[name] = records[name]
    return out.tobytes()


def _process(trace, label, power):
    """One trace as the writer's arguments (sim/io/perfetto.h PerfettoTraceArg)."""
    series = [(name, [float(x) for x in t], [float(x) for x in w]) for name, (t, w) in _power_series(power).items()]
    return (_raw_records(trace.records), label, list(trace.units), list(trace.kernels), list(trace.kind_names),
            list(trace.level_names), [int(u) for u in trace._unit_ids], float(trace.t0), float(trace.t1), series)


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
    kernel_track  add a "kernels" track with one slice per kernel (each kernel's first start to last end); a
                system trace has none: its kernels are slices of their own on each rank's compute track

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
    for t in traces:  # a bad counter bin width is named before anything is written
        if counters:
            t.bin_edges(bin_s)
    info = []
    for i, t in enumerate(traces):
        n = len(t) if max_events is None else min(len(t), max_events)
        info.append({"chip": t.chip, "label": labels[i], "source": t.path, "transactions": len(t), "written": n,
                     "truncated": n < len(t)})
    other = json.dumps({"generator": "xpusim", "version": traces[0].version if traces else "",
                        "truncated": any(x["truncated"] for x in info), "traces": info})
    from . import _xpusim  # the CLI's own writer (sim/io/perfetto.cpp): one set of events for both
    return _xpusim.write_perfetto(path, [_process(t, labels[i], powers[i]) for i, t in enumerate(traces)],
                                  -1 if max_events is None else int(max_events), 0.0 if bin_s is None else float(bin_s),
                                  bool(counters), bool(kernel_track), other)


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
