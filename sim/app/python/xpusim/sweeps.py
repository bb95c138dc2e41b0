"""Sweeps: run every point of a spec (sweep_spec.py) through the same bindings as `xpusim kernel/run/
serve/compare` (xpusim.kernel, .run, .serve, .compare), on local worker processes or a Dask cluster,
resumably, into one table.

    >>> df = xpusim.sweep("scripts/studies/gemm_hbm.yaml", out="results/sweeps/gemm_hbm")
    >>> df = xpusim.sweep(spec_dict, client=distributed.Client("tcp://host:8786"))

The output folder holds spec.yaml, manifest.json (what is done), points/<id>.json (axis values,
arguments, status, error, the study's full report) and points/<id>.config.yaml (the resolved preset),
each written to a temporary name and renamed, and results.csv / results.h5 (one row per point: axes
+ metrics, with units). A sweep killed at any moment and restarted with the same spec reruns only
the points without a file. The engine is in Python because Dask, pandas and worker pools are; the
CLI's `xpusim sweep` starts `python3 -m xpusim sweep` from an argument vector.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time

from .sweep_spec import SpecError, is_system_key, load_spec, resolve_path, leaf_paths, _nearest

# Report fields that measure the host, not the simulated chip: they differ from run to run.
WALL_FIELDS = ("wall_s", "transactions_per_s", "created")
# SystemC has one simulation kernel per process: a Dask worker started with several threads still runs
# one point at a time.
_SIM_LOCK = threading.Lock()


class SweepError(RuntimeError):
    """A sweep that cannot start (output folder of another spec, unreachable scheduler): one line."""


class SweepFailedWarning(UserWarning):
    """xpusim.sweep() ran, but some points failed (their errors are in the table and df.attrs["failed"])."""


def _simulate(study, args, sets):
    """Runs one study through the public functions; returns (report, resolved config text)."""
    import xpusim
    args = dict(args)
    if study == "kernel":
        op, chip = args.pop("op"), args.pop("chip", "h100-sxm")
        # As given: kernel() takes True/False and refuses any other value by name (bool("false") had been True).
        return xpusim.kernel(op, chip=chip, set=sets, **args), xpusim.chip_config(chip, sets)
    if study == "collective":  # preset keys are the system's (link rates, topology, switch)
        system, nodes = args.get("system", "hgx-h100x8"), args.get("nodes", 0)
        return xpusim.collective(set=sets, **args), xpusim.system_config(system, sets, nodes)
    if study in ("run", "serve"):  # a system preset's fields go to its fabric, the rest to the chip
        fn = xpusim.run if study == "run" else xpusim.serve
        report = fn(set=sets, **args)
        chip_sets = [s for s in sets if not is_system_key(s)]
        config = xpusim.chip_config(report["chip"] if args.get("system") else args.get("chip", "h100-sxm"), chip_sets)
        if args.get("system"):
            system_sets = [s for s in sets if is_system_key(s)]
            config += "---\n# system: %s\n%s" % (args["system"], xpusim.system_config(args["system"], system_sets, args.get("nodes", 0)))
        return report, config
    report = xpusim.compare(set=sets, **args)
    chips = args.get("chips") or [r["chip"] for r in report.get("rows", [])]
    if isinstance(chips, str):
        chips = [c for c in chips.split(",") if c]
    config = ""
    for c in chips:  # each unit as compare resolved it: its chip, and a system unit's system too
        unit = xpusim._xpusim.compare_unit_config(str(c), list(sets))
        config += "---\n# chip: %s\n%s" % (c, unit["chip_yaml"])
        if unit["system"]:
            config += "---\n# system: %s\n%s" % (unit["system"], unit["system_yaml"])
    return report, config


def run_point(task):
    """Runs one point ({id, study, args, set}) and returns {id, ok, report, config, error, wall_s}.
    A failing point returns its error instead of raising, so that the sweep goes on."""
    t0 = time.perf_counter()
    try:
        with _SIM_LOCK:
            report, config = _simulate(task["study"], task["args"], task["set"])
        return {"id": task["id"], "ok": True, "report": report, "config": config, "error": None,
                "wall_s": time.perf_counter() - t0}
    except Exception as e:  # every failure becomes the point's error text
        text = " ".join(str(e).split()) or type(e).__name__
        return {"id": task["id"], "ok": False, "report": None, "config": None,
                "error": "%s: %s" % (type(e).__name__, text), "wall_s": time.perf_counter() - t0}


def _package_env():
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


class LocalPool:
    """Worker processes on this machine (one simulation at a time each: SystemC has one kernel per
    process). A worker that dies takes only its point with it (recorded as that point's error)."""

    def __init__(self, jobs=None, keywords=False):
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 1024):
            # as compare's --jobs (0 ran on all cores, -3 on one: both silently)
            raise SweepError("%s: expected 1 to 1024 worker processes (default: all cores)"
                             % (("jobs=%r" if keywords else "--jobs %r") % (jobs,)))
        self.jobs = max(1, int(jobs or os.cpu_count() or 1))
        self.name = "local (%d worker processes)" % self.jobs

    def _start(self):
        return subprocess.Popen([sys.executable, "-m", "xpusim._worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=_package_env(), text=True)

    def run(self, tasks):
        from multiprocessing.connection import wait
        pending = list(reversed(tasks))
        workers, busy = [], {}
        try:
            for _ in range(min(self.jobs, len(pending))):
                workers.append(self._start())
            idle = list(workers)
            while pending or busy:
                while idle and pending:
                    w, t = idle.pop(), pending.pop()
                    busy[w.stdout.fileno()] = (w, t)
                    w.stdin.write(json.dumps(t) + "\n")
                    w.stdin.flush()
                for fd in wait(list(busy)):
                    w, t = busy.pop(fd)
                    line = w.stdout.readline()
                    if line:
                        idle.append(w)
                        yield json.loads(line)
                        continue
                    rc = w.wait()
                    workers.remove(w)
                    why = "signal %d" % -rc if rc < 0 else "exit status %d" % rc
                    yield {"id": t["id"], "ok": False, "report": None, "config": None, "wall_s": 0.0,
                           "error": "WorkerDied: the worker process died (%s) while running this point" % why}
                    if pending:
                        nw = self._start()
                        workers.append(nw)
                        idle.append(nw)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
                w.wait()
                for f in (w.stdin, w.stdout):
                    try:
                        f.close()
                    except OSError:
                        pass


class DaskPool:
    """Points as tasks on a Dask distributed cluster (start its workers with --nthreads 1 and xpusim
    on their PYTHONPATH). Each task calls the same run_point as a local worker."""

    def __init__(self, client):
        self.client = client
        self.name = "dask %s" % getattr(getattr(client, "scheduler", None), "address", client)

    def run(self, tasks):
        from distributed import as_completed
        futures = {self.client.submit(run_point, t, pure=False): t for t in tasks}
        try:
            for f in as_completed(list(futures), loop=self.client.loop):
                try:
                    yield f.result()
                except Exception as e:  # a worker lost several times (KilledWorker) or a cancelled task
                    yield {"id": futures[f]["id"], "ok": False, "report": None, "config": None, "wall_s": 0.0,
                           "error": "%s: %s" % (type(e).__name__, " ".join(str(e).split()))}
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def connect(address, timeout=10):
    """A distributed.Client for `tcp://host:port`, or SweepError naming the address."""
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--dask %s: the Python package `distributed` is not installed "
                         "(apt-get install python3-distributed)" % address) from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise SweepError("--dask %s: cannot reach the Dask scheduler (%s)" % (address, " ".join(str(e).split())[:200])) \
            from None


class Progress:
    """Progress on stderr: a refreshed line with rate and ETA on a terminal, plain lines otherwise."""

    def __init__(self, total, done, enabled=True, stream=None):
        self.total, self.done, self.failed = total, done, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > done
        self.tty = self.stream.isatty() if hasattr(self.stream, "isatty") else False
        self.t0, self.new, self.last = time.monotonic(), 0, 0.0

    def update(self, ok):
        self.done += 1
        self.new += 1
        self.failed += 0 if ok else 1
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and now - self.last < 2 and self.done < self.total:
            return
        self.last = now
        rate = self.new / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else 0
        text = "sweep: %d/%d points (%d failed), %.2f points/s, ETA %ds" % (
            self.done, self.total, self.failed, rate, int(eta + 0.5))
        if self.tty:
            self.stream.write("\r" + text + ("\n" if self.done >= self.total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def write_atomic(path, data):
    """Writes text or bytes to a temporary name beside `path`, syncs it and renames it into place."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Store:
    """The output folder: spec.yaml, manifest.json and points/<id>.{json,config.yaml}."""

    def __init__(self, out, spec, keywords=False):
        # keywords: the caller is xpusim.sweep(), whose errors name its keyword out= where the CLI's name --out
        self.out, self.spec = os.path.abspath(out), spec
        self.keywords = keywords
        self.points_dir = os.path.join(self.out, "points")
        self.manifest_path = os.path.join(self.out, "manifest.json")
        self.done = {}
        self.opened = False

    def flag(self):
        return "out=" if self.keywords else "--out"

    def named(self):
        """The folder as the caller gave it: out='<path>' from Python, '<path>: --out' from the CLI."""
        return "out=%r" % self.out if self.keywords else "%s: --out" % self.out

    def check_creatable(self):
        """Refuses, before any point runs, an --out that cannot become a folder: a file on its path, a missing or
        read-only parent (it is created only once the first result is in, so a refused spec leaves none)."""
        path = self.out
        while not os.path.exists(path):
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
        why = None
        if not os.path.isdir(path):
            why = "%s is not a folder" % path
        elif path != self.out and not os.access(path, os.W_OK | os.X_OK):
            why = "%s is not writable" % path
        if why:
            raise SweepError("%s: cannot create the output folder (%s)" % (self.named(), why))

    def load(self):
        """Records of finished points (a point file is complete or absent: they are renamed into place)."""
        if not os.path.exists(self.manifest_path):
            if os.path.isdir(self.points_dir) and os.listdir(self.points_dir):
                raise SweepError("%s: holds points but no manifest.json; give a new %s" % (self.out, self.flag()))
            return self.done
        with open(self.manifest_path) as f:
            manifest = json.load(f)
        if manifest.get("sim_hash") != self.spec.sim_hash():
            raise SweepError("%s: holds a sweep of a different spec (%s); give a new %s to run this one"
                             % (self.out, manifest.get("spec", "?"), self.flag()))
        keys = {p.id: p.key(self.spec.study) for p in self.spec.points if not p.dropped}
        for name in os.listdir(self.points_dir):
            if not name.endswith(".json"):
                if ".tmp." in name:
                    os.remove(os.path.join(self.points_dir, name))  # left by a killed sweep
                continue
            with open(os.path.join(self.points_dir, name)) as f:
                rec = json.load(f)
            if keys.get(rec.get("id")) == rec.get("key"):
                self.done[rec["id"]] = rec
        self.opened = True
        return self.done

    def open(self):
        try:
            os.makedirs(self.points_dir, exist_ok=True)
        except OSError as e:
            raise SweepError("%s: cannot create the output folder (%s)" % (self.named(), e.strerror or e)) from None
        if self.spec.file != "<dict>":
            with open(self.spec.file, "rb") as f:
                write_atomic(os.path.join(self.out, "spec.yaml"), f.read())
        else:
            write_atomic(os.path.join(self.out, "spec.json"), json.dumps(self.spec.doc.data, indent=1))
        self._manifest()
        self.opened = True

    def _manifest(self):
        m = {"spec": self.spec.file, "name": self.spec.name, "study": self.spec.study,
             "sim_hash": self.spec.sim_hash(), "points": len(self.spec.points),
             "done": {i: r["status"] for i, r in sorted(self.done.items())}}
        write_atomic(self.manifest_path, json.dumps(m, indent=1))

    def put(self, point, result):
        rec = {"id": point.id, "index": point.index, "key": point.key(self.spec.study), "values": point.values,
               "study": self.spec.study, "args": point.args, "set": point.sets,
               "status": "ok" if result["ok"] else "error", "error": result["error"], "wall_s": result["wall_s"],
               "report": result["report"]}
        base = os.path.join(self.points_dir, point.id)
        if result.get("config"):
            write_atomic(base + ".config.yaml", result["config"])
        write_atomic(base + ".json", json.dumps(rec))
        self.done[point.id] = rec
        self._manifest()


def check_metrics(spec, report):
    """Raises SpecError for a metric whose path the study's report does not have."""
    for name, (path, _) in spec.metrics.items():
        try:
            resolve_path(report, path)
        except KeyError:
            raise spec.doc.error(("metrics", name), "'%s' is not in the %s report%s" % (
                path, spec.study, _nearest(path, leaf_paths(report)))) from None


def _cell(report, path):
    try:
        v = resolve_path(report, path)
    except KeyError:
        return None
    return v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v)


def table(spec, done):
    """One row per point: point, status, axes, metrics, error, wall_s; units in df.attrs['units']."""
    import pandas as pd
    rows = []
    for p in spec.points:
        rec = done.get(p.id)
        row = {"point": p.id, "status": "dropped" if p.dropped else (rec["status"] if rec else "missing")}
        row.update(p.values)
        for name, (path, _) in spec.metrics.items():
            row[name] = _cell(rec["report"], path) if rec and rec["report"] is not None else None
        row["error"] = p.dropped or (rec["error"] if rec else None) or ""
        row["wall_s"] = rec["wall_s"] if rec else None
        rows.append(row)
    columns = ["point", "status"] + [a.name for a in spec.axes] + list(spec.metrics) + ["error", "wall_s"]
    df = pd.DataFrame(rows, columns=columns)
    units = {a.name: a.unit for a in spec.axes}
    units.update({n: u for n, (_, u) in spec.metrics.items()})
    units["wall_s"] = "s"
    df.attrs["units"] = {k: v for k, v in units.items() if v}
    df.attrs["axes"] = [a.name for a in spec.axes]
    df.attrs["base"] = {a.name: a.base for a in spec.axes}  # the base point of one-at-a-time analysis
    df.attrs["metrics"] = list(spec.metrics)
    df.attrs["study"] = spec.study
    return df


def write_table(df, out):
    """results.csv (header `name [unit]`) and results.h5 (a dataset per column, attribute `unit`)."""
    units = df.attrs.get("units", {})
    csv = df.rename(columns={c: "%s [%s]" % (c, units[c]) if c in units else c for c in df.columns})
    for c in csv.columns:  # repr: the shortest text that reads back as the same double
        if csv[c].dtype.kind == "f":
            csv[c] = [repr(float(v)) if v == v else "" for v in csv[c]]
    write_atomic(os.path.join(out, "results.csv"), csv.to_csv(index=False))
    import h5py
    import numpy as np
    path = os.path.join(out, "results.h5")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with h5py.File(tmp, "w") as f:
        g = f.create_group("table")
        g.attrs["columns"] = json.dumps(list(df.columns))
        for c in df.columns:
            col = df[c]
            numeric = col.map(lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))).all()
            if numeric and col.notna().any():
                data = np.array([np.nan if v is None else v for v in col], dtype=float)
            else:
                data = np.array(["" if v is None else str(v) for v in col], dtype=h5py.string_dtype())
            d = g.create_dataset(c.replace("/", "_"), data=data)
            d.attrs["name"] = c
            d.attrs["unit"] = units.get(c, "")
        for k in ("axes", "metrics", "base"):
            f.attrs[k] = json.dumps(df.attrs.get(k, []))
        f.attrs["study"] = df.attrs.get("study", "")
    os.replace(tmp, path)


def failed_points(df):
    """{point: error} of the points that ran and failed (resumed ones included), in point order."""
    return {r.point: " ".join(str(r.error).split()) for r in df.itertuples() if r.status == "error"}


def failure_lines(df, spec_name, most=10):
    """What a sweep with failed points says on stderr: a line naming how many failed and where the others
    are, then each failed point (its axis values and error), at most `most` of them."""
    failed = df.attrs.get("failed", {})
    if not failed:
        return []
    ran = int((df["status"] == "ok").sum())
    out = os.path.join(df.attrs.get("out", ""), "results.csv")
    head = ("none of its %d points ran" % len(failed) if ran == 0 else
            "%d of its %d points failed (the %d that ran are in %s)" % (len(failed), len(failed) + ran, ran, out))
    lines = ["xpusim: error: %s: %s:" % (spec_name, head)]
    axes = df.attrs.get("axes", [])
    rows = df.set_index("point")
    for point, error in list(failed.items())[:most]:
        values = ", ".join("%s=%s" % (a, rows.at[point, a]) for a in axes)
        lines.append("  point %s%s: %s" % (point, " (%s)" % values if values else "", error))
    if len(failed) > most:
        lines.append("  ... and %d more (the error column of %s)" % (len(failed) - most, out))
    return lines


def sweep(spec, client=None, out=None, jobs=None, progress=False, report=False):
    """Runs a sweep and returns its table as a pandas DataFrame (one row per point).
    Points that failed keep their error in the table (status "error") and in df.attrs["failed"]
    ({point: error}); a sweep with any warns (SweepFailedWarning) naming them, as `xpusim sweep`
    then exits 1.

    spec:   a spec file path or a dict of the same content (see xpusim.sweep_spec)
    client: a distributed.Client to run the points on a Dask cluster (default: local worker processes)
    out:    the output folder; a second call with the same spec resumes it (default: a temporary
            folder, removed afterwards)
    jobs:   local worker processes (default: all cores)
    report: also write report.html with the Pareto front, sensitivity and heat maps (xpusim.analysis)
    """
    spec = load_spec(spec)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="xpusim-sweep-") as tmp:
            df = _sweep(spec, client, os.path.join(tmp, "out"), jobs, progress, False, keywords=True)
    else:
        df = _sweep(spec, client, out, jobs, progress, report, keywords=True)
    lines = failure_lines(df, spec.name)
    if lines:
        import warnings
        warnings.warn("\n".join([lines[0][len("xpusim: error: "):]] + lines[1:]), SweepFailedWarning, stacklevel=2)
    return df


def _sweep(spec, client, out, jobs, progress, report, keywords=False):
    pool = DaskPool(client) if client is not None else LocalPool(jobs, keywords)
    store = Store(out, spec, keywords)
    store.check_creatable()
    done = store.load()
    by_id = {p.id: p for p in spec.points}
    first_ok = next((r for r in done.values() if r["status"] == "ok"), None)
    checked = first_ok is not None
    if checked:
        check_metrics(spec, first_ok["report"])
    todo = [p for p in spec.points if not p.dropped and p.id not in done]
    runnable = sum(1 for p in spec.points if not p.dropped)
    bar = Progress(runnable, runnable - len(todo), enabled=progress)
    waiting = []  # results held until the first good report has checked the metrics
    results = pool.run([p.task(spec.study) for p in todo])
    try:
        for r in results:
            if not checked and r["ok"]:
                check_metrics(spec, r["report"])
                checked = True
            waiting.append(r)
            if checked:
                if not store.opened:
                    store.open()
                for w in waiting:
                    store.put(by_id[w["id"]], w)
                waiting = []
            bar.update(r["ok"])
    finally:
        results.close()  # stops the workers (or cancels the Dask tasks) on any error
    if not store.opened:
        store.open()
    for w in waiting:
        store.put(by_id[w["id"]], w)
    df = table(spec, store.done)
    df.attrs["failed"] = failed_points(df)
    write_table(df, store.out)
    if report:
        from . import analysis
        analysis.report(store.out, spec=spec, df=df)
    df.attrs["out"] = store.out
    return df


def main(argv):
    """`python3 -m xpusim sweep SPEC --out DIR [--dask ADDR] [--jobs N] [--no-report]`; returns the exit code."""
    import argparse
    from . import InputError

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise SweepError(message + " (see xpusim sweep --help)")

    # The example runs as printed from the source folder (tests/python/test_sweep.py runs it): it had none.
    p = Parser(prog="xpusim sweep", allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Runs a what-if sweep: every point of SPEC through the same simulation path as the CLI,\n"
               "into DIR/results.csv, results.h5 and report.html; rerun to resume.",
               epilog="example (from the source folder: 12 all-reduces on an HGX H100, NVLink rate x message size):\n"
               "  xpusim sweep scripts/studies/nvlink_allreduce.yaml --out /tmp/nvlink_allreduce --jobs 2\n"
               "more studies: scripts/studies/*.yaml")
    p.add_argument("spec", help="the sweep spec (YAML; see scripts/studies/*.yaml)")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/sweeps/<spec name>)")
    p.add_argument("--dask", metavar="ADDR", help="run the points on this Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--dask-timeout", type=float, default=10, metavar="S", help="seconds to wait for the scheduler")
    p.add_argument("--jobs", type=int, metavar="N", help="local worker processes (default: all cores)")
    p.add_argument("--no-report", action="store_true", help="skip report.html and its plots")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    try:
        a = p.parse_args(argv)
        # A negative, zero or nan wait was passed to the Dask client as it was (and ignored without --dask).
        if not 0 < a.dask_timeout < math.inf:
            raise SweepError("--dask-timeout %g: expected a positive number of seconds" % a.dask_timeout)
        if a.dask is None and any(x == "--dask-timeout" or x.startswith("--dask-timeout=") for x in argv):
            raise SweepError("--dask-timeout: a wait for a Dask scheduler, given without --dask ADDR (expected both, or neither)")
        spec = load_spec(a.spec)
        out = a.out or os.path.join("results", "sweeps", spec.name)
        client = None
        if a.dask:
            try:
                client = connect(a.dask, a.dask_timeout)
            except SweepError as e:
                raise SweepError("%s: %s" % (a.spec, e)) from None
        try:
            df = _sweep(spec, client, out, a.jobs, not a.quiet, not a.no_report)
        finally:
            if client is not None:
                client.close()
    except (SpecError, SweepError) as e:
        print("xpusim: error: %s" % e, file=sys.stderr)
        return 2
    except InputError as e:  # the simulator refused something the spec checks did not foresee
        print("xpusim: error: %s: %s" % (a.spec, " ".join(str(e).split())), file=sys.stderr)
        return 2
    counts = df["status"].value_counts().to_dict()
    print("sweep %s: %d points (%s); results: %s" % (
        spec.name, len(df), ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items())),
        os.path.join(df.attrs["out"], "results.csv")))
    # A point that failed is an answer missing from the study: a script that checks the exit code must not
    # take it for done (one failure among good points exited 0). The table is written; each failed point
    # is named with its error.
    lines = failure_lines(df, a.spec)
    if lines:
        print("\n".join(lines), file=sys.stderr)
        return 1
    return 0
