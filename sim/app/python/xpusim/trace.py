"""Replay of a recorded transaction trace (trace.h5, written by `xpusim kernel ... --out DIR --trace`).

A trace is the list of every transaction the simulated chip executed: which unit ran it (an engine
of one executor, e.g. "chip.sm3.tensor"), when (picoseconds), for which kernel and task, what kind
(DMA read/write, tile compute, vector op, sync) and how many bytes and FLOPs it carried.

    >>> from xpusim import Trace
    >>> t = Trace("results/g2k/trace.h5")          # or the run folder "results/g2k"
    >>> len(t), t.chip, t.units[:3]
    >>> mma = t.filter(unit="sm.tensor", kind="tile_compute")
    >>> mma.summary(by="group")                     # busy time, utilization, bytes, FLOPs
    >>> edges, busy = t.utilization(bin_s=100e-9)   # busy fraction of each unit group per 100 ns
    >>> t.records["start_ps"][:5]                   # the raw NumPy structured array

Times in the API are seconds (floats); the raw records keep integer picoseconds.
"""
import fnmatch
import os
import re

import numpy as np

# Most counter bins one bin_edges() call makes (each is a row of every per-group series).
MAX_BINS = 10_000_000

# TxKind in sim/base/program.h; the file also states it in the attribute transactions.kind_names.
KINDS = ("dma_read", "dma_write", "tile_compute", "vector_op", "sync")

RECORD_DTYPE = np.dtype([("start_ps", "<i8"), ("end_ps", "<i8"), ("unit", "<u4"), ("kernel", "<u4"),
                         ("bytes", "<u8"), ("flops", "<u8"), ("task", "<u4"), ("kind", "u1"), ("level", "u1")])

_PS = 1e12


def _ps(t_s):
    return int(round(float(t_s) * _PS))


def finite_or_nan(value):
    """A number argument as a float, or nan where it is none (text such as '1us', None, a bool): its caller's
    one finiteness check then refuses inf, nan and these alike, naming the argument."""
    if isinstance(value, bool):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _seconds(name, value):
    """A time argument in seconds as a float; nan, inf or text ('1us') named as the argument (they failed in
    NumPy or float(): "cannot convert float NaN to integer")."""
    t = finite_or_nan(value)
    if not np.isfinite(t):
        raise ValueError("%s=%r: expected a finite time in seconds (a number, e.g. 1e-6 for 1 us)" % (name, value))
    return t


def unit_group(name):
    """Fold a unit name into its group by dropping the top level and the executor index.

    "chip.sm3.tensor" -> "sm.tensor", "chip.tc1.mxu0" -> "tc.mxu0", "chip.core0.dma_in" -> "core.dma_in".
    This is the same folding as the report's "utilization" field, so the two can be compared. A system trace's
    link, "fabric.node0.chip0->node0.switch", is in the group of its first part, "fabric".
    """
    if "->" in name:
        return name.split(".", 1)[0]
    parts = name.split(".")
    if len(parts) < 2:
        return name
    parent = parts[-2].rstrip("0123456789")
    return parent + "." + parts[-1] if parent else parts[-1]


def _parse_names(text, default):
    """Parse "0=dma_read,1=dma_write,..." into a list indexed by the numbers."""
    if not text:
        return list(default)
    out = list(default)
    for item in str(text).split(","):
        if "=" not in item:
            continue
        k, v = item.split("=", 1)
        k = int(k.strip())
        while len(out) <= k:
            out.append("level%d" % len(out))
        out[k] = v.strip()
    return out


def _attr_str(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def _names(obj):
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in obj]


def _union_intervals(unit, start, end):
    """Merge overlapping [start, end) intervals per unit. Returns (unit, start, end) of disjoint segments.

    Inputs are int64 picoseconds. Sorting by (unit, start) and a running maximum of the end time
    finds where a new busy segment begins (its start lies after every earlier end of that unit).
    """
    keep = end > start
    unit, start, end = unit[keep], start[keep], end[keep]
    if len(start) == 0:
        return unit, start, end
    order = np.lexsort((start, unit))
    unit, start, end = unit[order], start[order], end[order]
    lo = int(min(start.min(), 0))
    span = int(end.max()) - lo + 1
    # Offset each unit into its own range so one running maximum serves all units at once.
    ranks = np.unique(unit, return_inverse=True)[1].astype(np.int64)
    if span * (int(ranks.max()) + 1) < 2 ** 62:
        off = ranks * span - lo
        s, e = start + off, end + off
        run = np.maximum.accumulate(e)
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] > run[:-1]
        new[1:] |= ranks[1:] != ranks[:-1]
        first = np.flatnonzero(new)
        last = np.r_[first[1:] - 1, len(s) - 1]
        return unit[first], start[first], run[last] - off[last]
    segs = ([], [], [])  # pragma: no cover - only for absurdly long runs with many units
    for u in np.unique(unit):
        m = unit == u
        su, eu = start[m], end[m]
        run = np.maximum.accumulate(eu)
        new = np.r_[True, su[1:] > run[:-1]]
        first = np.flatnonzero(new)
        last = np.r_[first[1:] - 1, len(su) - 1]
        segs[0].append(np.full(len(first), u, dtype=unit.dtype))
        segs[1].append(su[first])
        segs[2].append(run[last])
    return tuple(np.concatenate(x) for x in segs)


def bin_integral(start, end, rate, edges):
    """Integral over each bin [edges[i], edges[i+1]) of sum_j rate[j] * (1 if start[j] <= t < end[j]).

    With rate = 1 this is busy time per bin; with rate = bytes / duration it is bytes per bin (each
    transaction's bytes spread evenly over its duration). All arrays are floats in one time unit.
    """
    edges = np.asarray(edges, dtype=np.float64)
    nb = len(edges) - 1
    out = np.zeros(max(nb, 0))
    if nb <= 0:
        return out
    s = np.clip(np.asarray(start, dtype=np.float64), edges[0], edges[-1])
    e = np.clip(np.asarray(end, dtype=np.float64), edges[0], edges[-1])
    w = np.broadcast_to(np.asarray(rate, dtype=np.float64), s.shape)
    keep = e > s
    s, e, w = s[keep], e[keep], w[keep]
    if len(s) == 0:
        return out
    b0 = np.clip(np.searchsorted(edges, s, "right") - 1, 0, nb - 1)
    b1 = np.clip(np.searchsorted(edges, e, "left") - 1, 0, nb - 1)
    same = b0 == b1
    out += np.bincount(b0[same], w[same] * (e[same] - s[same]), nb)
    d = ~same
    b0d, b1d, wd = b0[d], b1[d], w[d]
    out += np.bincount(b0d, wd * (edges[b0d + 1] - s[d]), nb)
    out += np.bincount(b1d, wd * (e[d] - edges[b1d]), nb)
    # Bins strictly between the first and the last are fully covered: a difference array of rates.
    full = np.bincount(b0d + 1, wd, nb + 1) - np.bincount(b1d, wd, nb + 1)
    out += np.cumsum(full)[:nb] * np.diff(edges)
    return out


class Summary(dict):
    """A dict of dicts (row name -> {column: value}) with `to_dataframe()` when pandas is installed."""

    def to_dataframe(self):
        """The same table as a pandas DataFrame, one row per key (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Summary.to_dataframe() needs pandas (pip install pandas); "
                              "the dict works without it") from e
        return pd.DataFrame.from_dict(dict(self), orient="index")


class Trace:
    """The transactions of one simulated run, as a NumPy structured array plus name lists.

    Open a file written by the CLI:

        t = Trace("run/trace.h5")        # or Trace("run"), the folder holding trace.h5

    Attributes
        records   NumPy structured array, one row per transaction, sorted by start time (stable, so
                  records that start together keep the order the simulator completed them in).
                  Fields: start_ps, end_ps (int64 picoseconds), unit (index into `units`), kernel
                  (index into `kernels`), bytes, flops, task (block/stream within its kernel), kind
                  (index into `kind_names`: 0 dma_read, 1 dma_write, 2 tile_compute, 3 vector_op,
                  4 sync), level (memory level of a DMA, family-specific; see `level_names`).
        units     unit names, e.g. "chip.sm3.tensor" (every unit of the chip, busy or not)
        kernels   kernel names "op:name", in launch order; index i is report["kernels"][i]
        chip, config, version   the preset name, the resolved YAML text and the simulator version
        t0, t1    the time extent this trace covers, in seconds: 0 and the end of the last
                  transaction for a whole run (= the run's latency), the window for `window()`.

    Every selection (`filter`, `window`, slicing with [a:b]) returns a new Trace that shares the
    names and covers a subset of the records, so selections chain:

        t.filter(kernel="gemm").filter(unit="sm0.").window(1e-6, 2e-6)
    """

    def __init__(self, path=None, *, records=None, units=None, kernels=None, chip="", config="", version="",
                 kind_names=None, level_names=None):
        """Open `path` (trace.h5 or a run folder holding it), or wrap in-memory `records` (a structured
        array with the fields of RECORD_DTYPE) with their `units` and `kernels` name lists."""
        self.path = None
        if path is not None:
            path = os.fspath(path)
            if os.path.isdir(path):
                path = os.path.join(path, "trace.h5")
            if not os.path.exists(path):
                raise FileNotFoundError("%s: no such trace (run `xpusim kernel ... --out DIR --trace`)" % path)
            import h5py
            if not os.path.isfile(path) or not h5py.is_hdf5(path):  # h5py's own error names neither file nor format
                raise ValueError("%s: not an HDF5 file (expected the trace.h5 that `xpusim kernel ... --out DIR --trace` "
                                 "writes; a --trace-format perfetto trace.json is for the Perfetto UI)" % path)
            with h5py.File(path, "r") as f:
                if "transactions" not in f:
                    raise ValueError("%s: not an xpusim trace (no 'transactions' dataset)" % path)
                ds = f["transactions"]
                records = ds[:]
                kind_names = _parse_names(_attr_str(ds.attrs.get("kind_names")), KINDS)
                level_names = _parse_names(_attr_str(ds.attrs.get("level_names")), [])
                units = _names(f["units"][:]) if "units" in f else []
                kernels = _names(f["kernels"][:]) if "kernels" in f else []
                chip = _attr_str(f.attrs.get("chip"))
                config = _attr_str(f.attrs.get("config"))
                version = _attr_str(f.attrs.get("version"))
            self.path = path
        if records is None:
            records = np.zeros(0, dtype=RECORD_DTYPE)
        records = np.asarray(records)
        missing = {"start_ps", "end_ps", "unit", "kind"} - set(records.dtype.names or ())
        if missing:
            raise ValueError("%strace records lack the fields %s" % ("%s: " % path if path is not None else "", sorted(missing)))
        order = np.argsort(records["start_ps"], kind="stable")
        self.records = records[order]
        self.units = list(units or [])
        self.kernels = list(kernels or [])
        n_units = int(self.records["unit"].max()) + 1 if len(self.records) else 0
        if len(self.units) < n_units:
            self.units += ["unit%d" % i for i in range(len(self.units), n_units)]
        if "kernel" in self.records.dtype.names and len(self.records):
            n_k = int(self.records["kernel"].max()) + 1
            if len(self.kernels) < n_k:
                self.kernels += ["kernel%d" % i for i in range(len(self.kernels), n_k)]
        self.chip = chip
        self.config = config
        self.version = version
        self.kind_names = list(kind_names or KINDS)
        self.level_names = list(level_names or [])
        self.t0 = 0.0
        self.t1 = float(self.records["end_ps"].max()) / _PS if len(self.records) else 0.0
        self._unit_ids = np.arange(len(self.units))

    # ----- views --------------------------------------------------------------------------------
    def _view(self, records, unit_ids=None, t0=None, t1=None):
        v = object.__new__(Trace)
        v.__dict__.update(self.__dict__)
        v.records = records
        if unit_ids is not None:
            v._unit_ids = unit_ids
        if t0 is not None:
            v.t0 = t0
        if t1 is not None:
            v.t1 = t1
        return v

    def __len__(self):
        """Number of transactions in this trace (or view)."""
        return len(self.records)

    def __iter__(self):
        """Yield each transaction as a dict with names resolved:

            {"start_ps": 1300000, "end_ps": 1310928, "unit": "chip.sm0.tma", "kernel": "gemm:gemm",
             "kind": "dma_read", "bytes": 16384, "flops": 0, "task": 0, "level": 0}

        Convenient for reading a few records; for whole-trace arithmetic use the NumPy columns of
        `records` (e.g. t.records["bytes"].sum()), which is a hundred times faster.
        """
        for i in range(len(self.records)):
            yield self._record(i)

    def _record(self, i):
        r = self.records[i]
        names = self.records.dtype.names
        d = {"start_ps": int(r["start_ps"]), "end_ps": int(r["end_ps"]), "unit": self.units[int(r["unit"])]}
        if "kernel" in names:
            d["kernel"] = self.kernels[int(r["kernel"])]
        d["kind"] = self.kind_name(int(r["kind"]))
        for f in ("bytes", "flops", "task", "level"):
            if f in names:
                d[f] = int(r[f])
        return d

    def __getitem__(self, key):
        """t[i] is one record as a dict (see __iter__); t[a:b], t[mask] or t[indices] is a Trace view."""
        if isinstance(key, (int, np.integer)):
            n = len(self.records)
            if not -n <= key < n:
                raise IndexError("record %d out of range (%d records)" % (key, n))
            return self._record(int(key) % n)
        return self._view(self.records[key])

    def __repr__(self):
        busy = len(np.unique(self.records["unit"])) if len(self.records) else 0
        return "<xpusim.Trace %s: %d transactions on %d of %d units, %s to %s>" % (
            self.chip or "?", len(self), busy, len(self._unit_ids), _fmt_s(self.t0), _fmt_s(self.t1))

    # ----- columns in seconds -------------------------------------------------------------------
    @property
    def start_s(self):
        """Start times in seconds (float64 array, one per record)."""
        return self.records["start_ps"] / _PS

    @property
    def end_s(self):
        """End times in seconds (float64 array, one per record)."""
        return self.records["end_ps"] / _PS

    @property
    def duration_s(self):
        """Durations in seconds (float64 array, one per record)."""
        return (self.records["end_ps"] - self.records["start_ps"]) / _PS

    @property
    def groups(self):
        """Unit group of each name in `units` ("chip.sm3.tensor" -> "sm.tensor"), see unit_group()."""
        return [unit_group(u) for u in self.units]

    def kind_name(self, k):
        """Name of a kind number (0 -> "dma_read")."""
        return self.kind_names[k] if 0 <= k < len(self.kind_names) else "kind%d" % k

    def level_name(self, level):
        """Name of a memory level number when the file names them, else "level<N>"."""
        if 0 <= level < len(self.level_names) and self.level_names[level]:
            return self.level_names[level]
        return "level%d" % level

    # ----- selection ----------------------------------------------------------------------------
    def match_units(self, unit):
        """Indices of the units that `unit` selects (see filter()). Raises ValueError if none does."""
        pats = unit if isinstance(unit, (list, tuple, set)) else [unit]
        groups = self.groups
        sel = np.zeros(len(self.units), dtype=bool)
        for p in pats:
            if isinstance(p, (int, np.integer)):
                sel[int(p)] = True
            elif isinstance(p, re.Pattern):
                sel |= np.array([p.search(u) is not None for u in self.units], dtype=bool)
            elif any(c in str(p) for c in "*?["):
                g = "*" + p + "*"
                sel |= np.array([fnmatch.fnmatchcase(u, g) for u in self.units], dtype=bool)
            else:
                sel |= np.array([p in u or g == p for u, g in zip(self.units, groups)], dtype=bool)
        if not sel.any():
            raise ValueError("no unit matches %r; units look like %s (groups: %s)" % (
                unit, ", ".join(self.units[:3]), ", ".join(sorted(set(groups))[:8])))
        return np.flatnonzero(sel)

    def match_kernels(self, kernel):
        """Indices of the kernels that `kernel` selects (see filter()). Raises ValueError if none does."""
        pats = kernel if isinstance(kernel, (list, tuple, set)) else [kernel]
        sel = set()
        for p in pats:
            if isinstance(p, (int, np.integer)):
                sel.add(int(p))
            elif isinstance(p, re.Pattern):
                sel.update(i for i, k in enumerate(self.kernels) if p.search(k))
            else:
                sel.update(i for i, k in enumerate(self.kernels) if k == p or k.split(":", 1)[-1] == p)
        if not sel:
            raise ValueError("no kernel named %r; kernels: %s" % (kernel, ", ".join(self.kernels)))
        return np.array(sorted(sel))

    def _match_kinds(self, kind):
        pats = kind if isinstance(kind, (list, tuple, set)) else [kind]
        out = []
        for p in pats:
            # A number outside the kinds (kind=9) selected nothing, silently (QA, session 44).
            if isinstance(p, (int, np.integer)) and not isinstance(p, bool) and 0 <= p < len(self.kind_names):
                out.append(int(p))
            elif isinstance(p, str) and p in self.kind_names:
                out.append(self.kind_names.index(p))
            else:
                raise ValueError("kind=%r: no such transaction kind; kinds: %s" % (p, ", ".join(
                    "%d %s" % kv for kv in enumerate(self.kind_names))))
        return np.array(out)

    def filter(self, unit=None, kind=None, kernel=None, start=None, end=None, task=None):
        """Select transactions; every argument left as None selects all. Returns a new Trace.

        unit    which units ran them. A string selects every unit whose name contains it
                ("sm3." -> chip.sm3.tma/tensor/vector; "tensor" -> all tensor engines) or whose group
                equals it ("sm.tensor"); a string with * ? [ is a glob that, like a substring, may
                match anywhere in the name ("sm1?.tensor" -> chip.sm10.tensor ... chip.sm19.tensor);
                a compiled regex (re.compile(r"sm(0|1)\\.")) is searched in the name;
                an int is a unit index. A list selects the union.
        kind    "dma_read", "dma_write", "tile_compute", "vector_op", "sync", its number, or a list.
        kernel  a kernel's full name ("attention:attention.combine"), its name as in the report
                ("attention.combine"), its index, a compiled regex, or a list.
        start, end   keep transactions that overlap [start, end) in seconds (a transaction that
                starts before `start` and ends after it is kept whole). The view's t0/t1 become
                start/end, so summary() and utilization() measure that window.
        task    a task (block) index or a list of them, within its kernel.

        A name that matches no unit or kernel raises ValueError listing the valid names.

            t.filter(unit="sm0.", kind="tile_compute")        # the MMA steps of SM 0
            t.filter(kernel="attention.combine").summary()  # where the split combine ran
        """
        r = self.records
        m = np.ones(len(r), dtype=bool)
        unit_ids = None
        if unit is not None:
            unit_ids = self.match_units(unit)
            unit_ids = np.intersect1d(unit_ids, self._unit_ids)
            m &= np.isin(r["unit"], unit_ids)
        if kind is not None:
            m &= np.isin(r["kind"], self._match_kinds(kind))
        if kernel is not None:
            m &= np.isin(r["kernel"], self.match_kernels(kernel))
        if task is not None:
            m &= np.isin(r["task"], np.atleast_1d(np.asarray(task)))
        t0 = t1 = None
        if start is not None or end is not None:
            t0 = self.t0 if start is None else _seconds("start", start)
            t1 = self.t1 if end is None else _seconds("end", end)
            if t1 < t0:
                raise ValueError("end (%g s) is before start (%g s)" % (t1, t0))
            s_ps, e_ps = _ps(t0), _ps(t1)
            # Overlap with [t0, t1); zero-length records count when they sit inside the window.
            m &= (r["start_ps"] < e_ps) & ((r["end_ps"] > s_ps) | (r["start_ps"] >= s_ps))
        return self._view(r[m], unit_ids=unit_ids, t0=t0, t1=t1)

    def window(self, t0, t1):
        """The transactions that overlap the time window [t0, t1) in seconds, as a Trace whose
        summary() and utilization() measure that window only (busy time is clipped to it).

            w = t.window(2e-6, 3e-6)      # what was running between 2 and 3 microseconds
            w.summary(by="group")
        """
        return self.filter(start=_seconds("t0", t0), end=_seconds("t1", t1))

    def seek(self, t_s):
        """Index of the first record that starts at or after `t_s` seconds (len(self) if none).

        Records are sorted by start time, so t.records[t.seek(1e-6):] is everything from 1 us on and
        t[t.seek(1e-6)] is the first transaction to begin at or after 1 us.
        """
        return int(np.searchsorted(self.records["start_ps"], _ps(_seconds("t_s", t_s)), side="left"))

    # ----- statistics ---------------------------------------------------------------------------
    def _clipped(self):
        r = self.records
        lo, hi = _ps(self.t0), _ps(self.t1)
        return np.clip(r["start_ps"], lo, hi), np.clip(r["end_ps"], lo, hi)

    def busy_segments(self):
        """Busy intervals per unit: (unit, start_ps, end_ps) arrays of disjoint segments.

        A unit is busy while at least one of its transactions is in flight. For compute engines
        (tensor, vector) transactions run one at a time and this equals the engine's busy time in
        stats.json. DMA engines keep many copies in flight and each record spans a copy's whole
        latency, so their busy time here is "time with a copy outstanding", which is larger than
        the engine's issue occupancy that stats.json reports.
        """
        s, e = self._clipped()
        return _union_intervals(self.records["unit"].astype(np.int64), s, e)

    def summary(self, by="unit"):
        """Totals per unit (default), per unit group, per kernel or per kind, as a Summary (a dict of
        dicts, with to_dataframe() when pandas is installed).

        by="unit":  {"chip.sm0.tensor": {"group", "busy_s", "utilization", "bytes", "flops", "count"}}
                    for every unit with records. busy_s is the union of its transactions' intervals
                    within [t0, t1]; utilization = busy_s / (t1 - t0).
        by="group": {"sm.tensor": {"units", "busy_s", "utilization", "bytes", "flops", "count"}};
                    units counts every unit of the group this trace covers, idle ones too, and
                    utilization = busy_s / (units * (t1 - t0)): the mean over the group, as the
                    report's "utilization" field computes it.
        by="kernel" or "kind": {"gemm:gemm": {"start_s", "end_s", "bytes", "flops", "count"}}, the
                    first start and the last end of its transactions.

            s = t.summary()
            max(s, key=lambda u: s[u]["utilization"])      # the busiest unit
        """
        r = self.records
        span = max(self.t1 - self.t0, 0.0)
        out = Summary()
        if by in ("unit", "group"):
            su, ss, se = self.busy_segments()
            n = len(self.units)
            busy = np.bincount(su, (se - ss).astype(np.float64), n) / _PS if len(su) else np.zeros(n)
            col = {f: r[f].astype(np.float64) if f in r.dtype.names else np.zeros(len(r)) for f in ("bytes", "flops")}
            nbytes = np.bincount(r["unit"], col["bytes"], n)
            flops = np.bincount(r["unit"], col["flops"], n)
            count = np.bincount(r["unit"], minlength=n)
            groups = self.groups
            if by == "unit":
                for i in np.flatnonzero(count):
                    out[self.units[i]] = {"group": groups[i], "busy_s": float(busy[i]),
                                          "utilization": float(busy[i] / span) if span > 0 else 0.0,
                                          "bytes": int(nbytes[i]), "flops": int(flops[i]), "count": int(count[i])}
                return out
            for i in self._unit_ids:
                g = out.setdefault(groups[i], {"units": 0, "busy_s": 0.0, "utilization": 0.0, "bytes": 0,
                                               "flops": 0, "count": 0})
                g["units"] += 1
                g["busy_s"] += float(busy[i])
                g["bytes"] += int(nbytes[i])
                g["flops"] += int(flops[i])
                g["count"] += int(count[i])
            for name, g in list(out.items()):
                if span > 0 and g["units"]:
                    g["utilization"] = g["busy_s"] / (g["units"] * span)
            return out
        if by not in ("kernel", "kind"):
            raise ValueError("summary(by=%r): choose 'unit', 'group', 'kernel' or 'kind'" % (by,))
        key = r[by]
        for k in np.unique(key):
            sel = r[key == k]
            name = self.kernels[int(k)] if by == "kernel" else self.kind_name(int(k))
            out[name] = {"start_s": float(sel["start_ps"].min()) / _PS, "end_s": float(sel["end_ps"].max()) / _PS,
                         "bytes": int(sel["bytes"].sum()), "flops": int(sel["flops"].sum()), "count": int(len(sel))}
        return out

    def utilization(self, bin_s=None, by="group"):
        """Busy fraction over time: returns (edges, {name: fractions}).

        edges      bin edges in seconds, from t0 to t1 (the last bin may be shorter)
        fractions  one value per bin in [0, 1]: the share of the bin the units were busy, averaged
                   over the units of the group (idle units of the group count as 0, so "sm.tensor"
                   reaching 0.5 means half the SMs' tensor cores were working), or per unit with
                   by="unit".
        bin_s      bin width in seconds; default (t1 - t0) / 200.

            edges, u = t.utilization(50e-9)
            import matplotlib.pyplot as plt
            plt.stairs(u["sm.tensor"], edges * 1e6)    # x in microseconds

        "Busy" is "at least one transaction in flight" (see busy_segments()).
        """
        edges = self.bin_edges(bin_s)
        su, ss, se = self.busy_segments()
        e_ps = (edges - self.t0) * _PS
        widths = np.diff(edges)
        base = _ps(self.t0)
        out = {}
        if by == "unit":
            for u in self._unit_ids:
                m = su == u
                if m.any():
                    out[self.units[u]] = bin_integral(ss[m] - base, se[m] - base, 1.0, e_ps) / _PS / widths
            return edges, out
        if by != "group":
            raise ValueError("utilization(by=%r): choose 'group' or 'unit'" % (by,))
        groups = self.groups
        members = {}
        for u in self._unit_ids:
            members.setdefault(groups[u], []).append(u)
        for g, us in members.items():
            m = np.isin(su, us)
            busy = bin_integral(ss[m] - base, se[m] - base, 1.0, e_ps) / _PS
            out[g] = busy / (len(us) * widths)
        return edges, out

    def bin_edges(self, bin_s=None, bins=200):
        """Bin edges in seconds covering [t0, t1]: width `bin_s`, or (t1 - t0) / bins by default."""
        span = self.t1 - self.t0
        if span <= 0:
            return np.array([self.t0, self.t0 + 1e-12])
        if bin_s is None:
            bin_s = span / bins
        # nan failed inside NumPy ("cannot convert float NaN to integer"), 1e-30 as "Maximum allowed size exceeded"
        width = finite_or_nan(bin_s)
        if not np.isfinite(width) or width <= 0 or span / width > MAX_BINS:
            raise ValueError("bin_s=%r: expected a bin width in seconds > 0 and at least %.3g s (at most %d bins over "
                             "this trace's %.6g s)" % (bin_s, span / MAX_BINS, MAX_BINS, span))
        bin_s = width
        n = max(int(np.ceil(span / bin_s - 1e-9)), 1)
        edges = self.t0 + bin_s * np.arange(n + 1)
        edges[-1] = self.t1
        return edges

    def dma_bandwidth(self, bin_s=None, by_level=True):
        """DMA bandwidth over time: returns (edges, {series: bytes per second per bin}).

        Each DMA's bytes are spread evenly over its duration. Series are "read" and "write", split
        by memory level ("read level0", or the level's name when the trace names levels) with
        by_level=True. On the GPU level 0 is global memory through L2 (HBM on a miss), so this is
        the traffic the SMs ask of the memory system, L2 hits included.
        """
        edges = self.bin_edges(bin_s)
        r = self.records
        widths = np.diff(edges)
        e_ps = (edges - self.t0) * _PS
        base = _ps(self.t0)
        out = {}
        for k, direction in ((0, "read"), (1, "write")):
            m = r["kind"] == k
            levels = np.unique(r["level"][m]) if by_level else [None]
            for lv in levels:
                mm = m if lv is None else m & (r["level"] == lv)
                if not mm.any():
                    continue
                sel = r[mm]
                s = (sel["start_ps"] - base).astype(np.float64)
                e = (sel["end_ps"] - base).astype(np.float64)
                b = sel["bytes"].astype(np.float64)
                dur = e - s
                pos = dur > 0
                per_bin = bin_integral(s[pos], e[pos], b[pos] / dur[pos], e_ps)
                if (~pos).any():  # instantaneous copies land in the bin where they happen
                    idx = np.clip(np.searchsorted(e_ps, s[~pos], "right") - 1, 0, len(widths) - 1)
                    per_bin += np.bincount(idx, b[~pos], len(widths))
                name = direction if lv is None else "%s %s" % (direction, self.level_name(int(lv)))
                out[name] = per_bin / widths
        return edges, out

    # ----- export -------------------------------------------------------------------------------
    def to_dataframe(self):
        """The records as a pandas DataFrame with names resolved and times in seconds (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Trace.to_dataframe() needs pandas (pip install pandas); "
                              "Trace.records is the same table as a NumPy structured array") from e
        r = self.records
        cols = {"start_s": self.start_s, "end_s": self.end_s,
                "unit": pd.Categorical.from_codes(r["unit"].astype(np.int64), self.units),
                "kind": pd.Categorical.from_codes(r["kind"].astype(np.int64), self.kind_names)}
        if "kernel" in r.dtype.names:
            cols["kernel"] = pd.Categorical.from_codes(r["kernel"].astype(np.int64), self.kernels)
        for f in ("bytes", "flops", "task", "level"):
            if f in r.dtype.names:
                cols[f] = r[f]
        return pd.DataFrame(cols)

    def to_perfetto(self, path, **kwargs):
        """Write this trace as a Perfetto / Chrome JSON trace; see xpusim.perfetto.to_perfetto."""
        from .perfetto import to_perfetto as _to_perfetto
        return _to_perfetto(self, path, **kwargs)


def to_perfetto(trace, path, max_events=None, **kwargs):
    """Write `trace` (a Trace, a trace.h5 path, or a list of them) as a Perfetto JSON trace.

    See xpusim.perfetto.to_perfetto for the arguments; open the file at https://ui.perfetto.dev.
    """
    from .perfetto import to_perfetto as _to_perfetto
    return _to_perfetto(trace, path, max_events=max_events, **kwargs)


def _fmt_s(t):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(t) >= scale:
            return "%.4g %s" % (t / scale, unit)
    return "%.4g ps" % (t * 1e12)
