"""Live stepping through a simulation: xpusim.Session.

    >>> s = xpusim.Session(chip="h100-sxm", kernel="gemm", m=256, n=256, k=256, dtype="bf16")
    >>> while s.step():                 # advance to the next scheduled event
    ...     for t in s.new_transactions():   # what completed since the last step
    ...         print(t["unit"], t["kind"], t["end_ps"])
    >>> s.result()["latency_s"]

A session keeps a SystemC simulation open between calls. SystemC has one kernel per process, so only
one session can be open at a time: close() it (or use `with xpusim.Session(...) as s:`) before the
next one, or before calling xpusim.kernel(). Stepping and a straight run give identical results.
"""
import json as _json
import math
import re

import numpy as np

from . import _COLLECTIVES, InputError, _input_error, _keyword_errors, _name, _sets, _xpusim
from .trace import RECORD_DTYPE, Trace, finite_or_nan

# The C++ TraceRecord layout (sim/base/trace.h): the same fields, with the C struct's padding.
_RAW_DTYPE = np.dtype({
    "names": ["start_ps", "end_ps", "unit", "kernel", "bytes", "flops", "task", "kind", "level"],
    "formats": ["<i8", "<i8", "<u4", "<u4", "<u8", "<u8", "<u4", "u1", "u1"],
    "offsets": [0, 8, 16, 20, 24, 32, 40, 44, 45],
    "itemsize": _xpusim.TRACE_RECORD_SIZE,
})
KIND_NAMES = ["dma_read", "dma_write", "tile_compute", "vector_op", "sync"]


def _records(raw):
    a = np.frombuffer(raw, dtype=_RAW_DTYPE)
    out = np.zeros(len(a), dtype=RECORD_DTYPE)
    for name in _RAW_DTYPE.names:
        if name in out.dtype.names:
            out[name] = a[name]
    return out


# xpusim.run's keywords of a parallel layout on a system, which a session (one chip) does not take.
_LAYOUT_ARGS = {"system", "devices", "nodes", "tp", "ep", "pp", "dp", "microbatches", "sp", "overlap",
                "two_batch_overlap", "redundant_experts", "pad_heads"}


def _count(flag, value, default):
    """A model session's batch or prompt length as xpusim.run parses it (the CLI's flag): int() took batch=2.7 as 2
    and batch=True as 1 where xpusim.run refuses both."""
    if value is None:
        return default
    text = str(value)
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?[0-9]{1,18}", text):
        raise _input_error("%s=%r: expected an integer (see help(xpusim.run))" % (flag, value), flag, value)
    return int(text)


class _Closed:
    """What a closed Session holds instead of its simulation: every call is refused (step() and result() after close()
    had read the freed simulation and crashed the interpreter)."""

    def __getattr__(self, name):
        raise InputError("xpusim.Session.%s: the session is closed (close(), or the end of its `with` block); expected a "
                         "new xpusim.Session to simulate again" % name.lstrip("_"))


class Session:
    """A simulation you can step through, event by event.

    Build it like xpusim.kernel (`kernel="gemm", m=..., n=..., k=..., dtype=...`) or like `xpusim run`
    (`model="llama-3.1-8b", phase="decode", batch=8, input=2048 (the default, as `xpusim run`'s), dtype="bf16"`: one forward step).
    A model's step is simulated as one representative pass: each distinct kernel once, in order, named
    by its graph label ("layer.qkv_proj:gemm"), so `now` at the end is that pass, not the step (one of
    Llama-3.1-8B's 32 identical layers, not 32). result()["step_s"] is the step as xpusim.run answers the same
    question, by run's own path (its ttft_s for a prefill, tpot_s for a decode step, to the last digit), and
    result()["power"] is run's; the stepped kernels' times are at run's clocks (`power.clock_ratio`) and
    result()["stepped_s"] is their count x time, which differs from step_s by a few tenths of a percent: in
    one stepped simulation the kernels share the chip's caches, while run simulates each of them alone.
    Stepping (`now`, records) stays at the nominal clock. One chip only: a layout on a system (system=, tp=,
    ep=, pp=, dp=) is xpusim.run's.

    Moving: step() (next event; False when finished), run_until(t_seconds), run_until_kernel(name),
    run() (until a breakpoint or the end). Looking: now (simulated seconds), current_kernel,
    unit_state() (busy/idle, transactions in flight and bytes in flight per unit),
    new_transactions() (completed since the last call), trace() (everything so far as xpusim.Trace),
    result() (the final report, same fields as xpusim.kernel). Breakpoints: break_on(unit=..., kernel=...).
    """

    @_keyword_errors()
    def __init__(self, chip="h100-sxm", kernel=None, model=None, phase=None, batch=None, input=None,
                 dtype="bf16", set=None, **dims):
        if kernel is not None and model is not None:  # both were told "needs either kernel or model" (QA, session 44)
            raise _input_error("Session(kernel=%r, model=%r): kernel and model are exclusive; a session steps one kernel "
                               "or one model's forward step" % (kernel, model), "model", model)
        if kernel is None and model is None:  # a misspelt keyword (chipp=) was not named
            raise _input_error("Session needs either kernel=<op> (with its dimensions) or model=<name>" + (
                "; got %s" % ", ".join("%s=%r" % kv for kv in sorted(dims.items())) if dims else ""), "kernel", None)
        if kernel in _COLLECTIVES:
            # Stepped on one chip it was refused pointing at the command line only (QA session 39).
            raise _input_error("Session(kernel=%r): a collective runs on a system of chips, not stepped inside one chip: "
                               "xpusim.kernel(%r, system=..., bytes=...), as `xpusim kernel %s --system S --bytes SIZE`"
                               % (kernel, kernel, kernel), "kernel", kernel)
        chip = _name("chip", chip, "a chip preset name or a preset file (see xpusim.list_chips())")
        kernel = None if kernel is None else _name("kernel", kernel, "an op name such as 'gemm' (see xpusim.list_ops())")
        model = None if model is None else _name("model", model, "a shipped model name or a config.json path")
        sets = _sets(set)
        args = {}
        if kernel is not None and input is not None:  # it was silently ignored
            raise _input_error("input=%r: a model session's prompt length, not an argument of kernel %s (give its own "
                               "dimensions, e.g. seq= for attention)" % (input, kernel), "input", input)
        if kernel is not None:
            # phase and batch are the kernel's own dimensions here (attention --phase decode --batch 64).
            dims = dict(dims, dtype=dtype, phase=phase, batch=batch)
            for key, value in dims.items():
                if value is None:
                    continue
                if isinstance(value, bool):
                    value = "true" if value else "false"
                args[key.replace("_", "-")] = str(value)
        elif dims:
            layout = sorted(dims.keys() & _LAYOUT_ARGS)  # (`set` is the preset overrides here)
            raise InputError("unexpected arguments for a model session: %s%s" % (", ".join(sorted(dims)), (
                " (a session steps one chip's forward pass; xpusim.run(model=..., %s=...) runs a layout on a system)"
                % "=..., ".join(layout)) if layout else ""))  # several keywords: no one flag to carry
        self._s = _xpusim._Session(chip, sets, kernel or "", args, model or "", phase or "decode",
                                   _count("batch", batch, 1), _count("input", input, 2048), dtype)
        self._units = list(self._s.units())
        self._kernels = list(self._s.kernels())
        self._breaks = []
        self.chip = chip

    # -- moving -------------------------------------------------------------------------------
    def step(self):
        """Advance to the next scheduled event. Returns False once the simulation has finished."""
        return self._s.step()

    def run_until(self, t):
        """Advance the simulated time to `t` seconds (or to the end)."""
        seconds = finite_or_nan(t)
        if not math.isfinite(seconds) or seconds < 0:
            # nan ran to the end and -1 did nothing, both silently
            raise _input_error("run_until(t=%r): expected a finite time in seconds >= 0 (now is %.6g s)" % (t, self.now), "t", t)
        self._s.run_until(seconds)

    def _check_name(self, what, value, names, plural):
        """A unit or kernel substring that matches nothing never stopped anything: refuse it up front."""
        if not isinstance(value, str) or not value:
            raise _input_error("%s=%r: expected a non-empty string, part of a %s name (see Session.%s)" % (
                what, value, what, plural), what, value)
        if not any(value in n for n in names):
            shown = ", ".join(names[:12]) + (", ... (%d in all)" % len(names) if len(names) > 12 else "")
            raise _input_error("%s=%r matches no %s of this session; expected part of one of: %s" % (
                what, value, what, shown), what, value)

    def run_until_kernel(self, name):
        """Step until a kernel whose name contains `name` is running (False if it never starts)."""
        self._check_name("kernel", name, self._kernels, "kernels")
        while not self._s.finished():
            if name in self._s.current_kernel():
                return True
            self._s.step()
        return False

    def break_on(self, unit=None, kernel=None):
        """Stop run() when a transaction completes on a unit whose name contains `unit`, or when a
        kernel whose name contains `kernel` starts."""
        if unit is None and kernel is None:
            raise _input_error("break_on needs unit= or kernel=", "unit", None)
        if unit is not None:
            self._check_name("unit", unit, self._units, "units")
        if kernel is not None:
            self._check_name("kernel", kernel, self._kernels, "kernels")
        self._breaks.append((unit, kernel))

    def run(self):
        """Step until a breakpoint hits (returns a description of it) or the end (returns None)."""
        while self._s.step():
            for unit, kernel in self._breaks:
                if kernel is not None and kernel in self._s.current_kernel():
                    return "kernel %s started at %.3g s" % (self._s.current_kernel(), self.now)
            if any(u is not None for u, _ in self._breaks):
                done = self.new_transactions()
                for unit, _ in self._breaks:
                    if unit is None:
                        continue
                    hits = [r for r in done if unit in self._units[r["unit"]]]
                    if hits:
                        return "transaction on %s at %.3g s" % (self._units[hits[0]["unit"]], self.now)
        return None

    # -- looking ------------------------------------------------------------------------------
    @property
    def now(self):
        """Simulated time in seconds."""
        return self._s.now()

    @property
    def finished(self):
        """True once the simulation has run to its end (step() returned False)."""
        return self._s.finished()

    @property
    def current_kernel(self):
        """The kernel launch in progress ("" between launches and at the end)."""
        return self._s.current_kernel()

    @property
    def units(self):
        """The chip's units ("chip.sm0.tma", ...): what break_on(unit=) matches and the records' `unit` indexes."""
        return list(self._units)

    @property
    def kernels(self):
        """The kernel launches this session runs, in order ("layer.qkv_proj:gemm"): what break_on(kernel=) and
        run_until_kernel() match."""
        return list(self._kernels)

    def new_transactions(self):
        """Transactions that completed since the last call, as a NumPy structured array."""
        return _records(self._s.completed())

    def unit_state(self):
        """Per unit: busy (a transaction spans now), queue (transactions issued but not finished) and
        bytes_in_flight. Executors may have issued work slightly ahead of `now` (temporal decoupling)."""
        recs = _records(self._s.all_records())
        now_ps = int(round(self.now * 1e12))
        state = {u: {"busy": False, "queue": 0, "bytes_in_flight": 0} for u in self._units}
        active = recs[recs["end_ps"] > now_ps]
        for r in active:
            st = state[self._units[r["unit"]]]
            st["queue"] += 1
            if r["start_ps"] <= now_ps:
                st["busy"] = True
                if r["kind"] <= 1:
                    st["bytes_in_flight"] += int(r["bytes"])
        return state

    def trace(self):
        """Everything recorded so far as an xpusim.Trace (filter, summarize, export to Perfetto)."""
        return Trace(records=_records(self._s.all_records()), units=self._units, kernels=self._kernels,
                     chip=self.chip, level_names=self._s.level_names())

    def result(self):
        """Run to the end and return the report (the fields of xpusim.kernel / --format json); for a
        model also `step_s`, the forward step's time as xpusim.run gives it, and `stepped_s`, the stepped kernels'
        time_s x count)."""
        return _json.loads(self._s.result_json())

    def close(self):
        """End the simulation and free SystemC for the next session or run (again: nothing to do)."""
        if not isinstance(self._s, _Closed):
            self._s.close()
            self._s = _Closed()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
