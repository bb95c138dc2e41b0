"""Sweep specs: a YAML file (or dict) naming a base study, axes over its arguments or preset keys,
constraints and metrics, checked strictly and expanded into points.

    study: kernel                      # kernel, run, serve or compare
    base: {op: gemm, chip: h100-sxm, m: 256, n: 256, k: 256, set: {hbm.efficiency: 0.9}}
    axes:
      - {key: hbm.bandwidth, values: [2, 3.35, 4.8], unit: TB/s}     # a preset key (checked against the preset)
      - {key: m, range: {start: 256, stop: 1024, step: 256}}         # a study argument, linear range
      - {key: sm.count, log: {start: 16, stop: 128, num: 4}}         # geometric
      - zip: [{key: n, values: [256, 512]}, {key: k, values: [256, 512]}]   # advance together
    constraints: [{require: "m * n <= 2**20", reason: "too large for the budget"}]
    metrics: {latency: {path: latency_s, unit: s}, tflops: tflops, hbm_read: "bytes.hbm_read"}

Every error is a SpecError whose text is one line: `file:line: key: what is wrong`.
"""
import ast
import difflib
import hashlib
import inspect
import json
import math
import os
import re

STUDIES = ("kernel", "run", "serve", "compare", "collective")
TOP_KEYS = ("name", "description", "study", "base", "axes", "design", "constraints", "metrics", "report")
AXIS_KEYS = ("key", "name", "values", "range", "log", "unit", "base")
# Units of well-known report fields, by name suffix (a metric may state its own with `unit:`).
_SUFFIX_UNITS = (("tok_s", "tok/s"), ("_Bps", "B/s"), ("tflops", "TFLOP/s"), ("_s", "s"), ("_w", "W"),
                 ("_j", "J"), ("_bytes", "B"), ("_hz", "Hz"), ("joules_per_token", "J/token"),
                 ("usd_per_mtok", "$/Mtok"), ("usd_per_hour", "$/h"), ("flops", "FLOP"))
_NUM_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/%$][^\s]*)?\s*$")


class SpecError(ValueError):
    """A bad sweep spec: str() is one line naming the file, the line and the key."""

    def __init__(self, file, line, key, message):
        self.file, self.line, self.key, self.message = file, line, key, message
        where = file + (":%d" % line if line else "")
        super().__init__("%s: %s%s" % (where, (key + ": ") if key else "", message))


class _Doc:
    """A parsed spec with the line of every key path, for errors."""

    def __init__(self, data, marks, file):
        self.data, self.marks, self.file = data, marks, file

    def line(self, path):
        path = tuple(path)
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, 0)

    def error(self, path, message):
        key = ".".join(str(p) for p in path)
        return SpecError(self.file, self.line(path), key, message)


def _walk_marks(node, path, marks, file):
    import yaml
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for k, v in node.value:
            key = k.value
            if key in seen:
                raise SpecError(file, k.start_mark.line + 1, ".".join(map(str, path + (key,))), "duplicate key")
            seen.add(key)
            marks[path + (key,)] = k.start_mark.line + 1
            _walk_marks(v, path + (key,), marks, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            marks[path + (i,)] = item.start_mark.line + 1
            _walk_marks(item, path + (i,), marks, file)


def load_doc(spec):
    """A spec file path, YAML text in a file, or a dict -> _Doc (data, line marks, file name)."""
    if isinstance(spec, dict):
        return _Doc(json.loads(json.dumps(spec)), {}, "<dict>")
    import yaml
    path = os.fspath(spec)
    if not os.path.isfile(path):  # a folder or a device was "spec file not found"
        raise SpecError(path, 0, "", "a folder, expected a sweep spec .yaml" if os.path.isdir(path) else
                        "not a regular file (a FIFO, device or socket is not read)" if os.path.exists(path) else "spec file not found")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:  # a binary file was a traceback
        raise SpecError(path, 0, "", "not UTF-8 text (byte %d): expected a sweep spec .yaml" % e.start) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(path, mark.line + 1 if mark else 0, "", "malformed YAML: %s" % problem) from None
    finally:
        loader.dispose()
    marks = {}
    _walk_marks(node, (), marks, path)
    return _Doc(data, marks, path)


def parse_quantity(value):
    """(number, unit) for 4.8, "4.8 TB/s" or "256"; (None, None) for text that is not a quantity."""
    if isinstance(value, bool):
        return None, None
    if isinstance(value, (int, float)):
        return value, ""
    m = _NUM_UNIT.match(str(value))
    if not m:
        return None, None
    text = m.group(1)
    number = int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    return number, m.group(2) or ""


def metric_unit(path):
    """The unit of a report field guessed from its name (latency_s -> s, throughput_tok_s -> tok/s)."""
    leaf = str(path).split(".")[-1]
    for suffix, unit in _SUFFIX_UNITS:
        if leaf.endswith(suffix):
            return unit
    return ""


def study_arguments(study):
    """The argument names a base study takes (as its CLI / Python function names them)."""
    import xpusim
    if study == "kernel":
        names = {"op", "chip", "sustained"}
        names.update(n.replace("-", "_") for n in xpusim._xpusim.kernel_arg_names())
        return names
    fn = {"run": xpusim.run, "serve": xpusim.serve, "compare": xpusim.compare, "collective": xpusim.collective}[study]
    return {n for n in inspect.signature(fn).parameters if n != "set"}


def _flat_yaml(text):
    import yaml
    out = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, "%s.%s" % (prefix, k) if prefix else str(k))
        else:
            out[prefix] = node
    walk(yaml.safe_load(text) or {}, "")
    return out


_PRESET_KEYS = {}


def preset_keys(chip):
    """Every key of a chip's resolved preset (memoized per chip)."""
    import xpusim
    if chip not in _PRESET_KEYS:
        _PRESET_KEYS[chip] = set(_flat_yaml(xpusim.chip_config(chip)))
    return _PRESET_KEYS[chip]


def _nearest(word, choices):
    hit = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return " (nearest: %s)" % hit[0] if hit else ""


def _range_values(doc, path, r, log):
    if not isinstance(r, dict):
        raise doc.error(path, "expected a mapping {start, stop, step|num}")
    allowed = ("start", "stop", "num", "base") if log else ("start", "stop", "step", "num")
    for k in r:
        if k not in allowed:
            raise doc.error(path + (k,), "unknown key%s; expected %s" % (_nearest(k, allowed), ", ".join(allowed)))
    for k in ("start", "stop"):
        if not isinstance(r.get(k), (int, float)) or isinstance(r.get(k), bool):
            raise doc.error(path + (k,), "expected a number")
    start, stop = r["start"], r["stop"]
    integral = isinstance(start, int) and isinstance(stop, int)
    if log:
        num = r.get("num")
        if not isinstance(num, int) or num < 1:
            raise doc.error(path + ("num",), "expected a positive integer count")
        if start <= 0 or stop <= 0:
            raise doc.error(path, "a log range needs positive start and stop")
        if num == 1:
            vals = [start]
        else:
            ratio = (stop / start) ** (1.0 / (num - 1))
            vals = [start * ratio ** i for i in range(num - 1)] + [stop]
        if integral:
            vals = sorted(set(int(round(v)) for v in vals))
        return vals
    if "num" in r and "step" in r:
        raise doc.error(path, "give step or num, not both")
    if "num" in r:
        num = r["num"]
        if not isinstance(num, int) or num < 1:
            raise doc.error(path + ("num",), "expected a positive integer count")
        vals = [start + (stop - start) * i / (num - 1) for i in range(num)] if num > 1 else [start]
        if integral and all(float(v).is_integer() for v in vals):
            vals = [int(v) for v in vals]
        return vals
    step = r.get("step")
    if not isinstance(step, (int, float)) or isinstance(step, bool) or step == 0:
        raise doc.error(path + ("step",), "expected a nonzero number (or give num)")
    vals, i = [], 0
    while True:
        v = start + i * step
        if (step > 0 and v > stop + 1e-12 * abs(step)) or (step < 0 and v < stop - 1e-12 * abs(step)):
            break
        vals.append(v)
        i += 1
    if integral and isinstance(step, int):
        vals = [int(v) for v in vals]
    return vals


class Axis:
    """One swept key: a study argument (`arg`) or a preset key (`preset`), with its values and unit."""

    def __init__(self, key, name, values, unit, kind, base):
        self.key, self.name, self.values, self.unit, self.kind, self.base = key, name, values, unit, kind, base

    def setting(self, value):
        """The value as the study receives it (a preset value carries its unit)."""
        if self.kind == "preset":
            return "%s %s" % (preset_text(value), self.unit) if self.unit else preset_text(value)
        return value


def preset_text(value):
    """A preset value as `--set` takes it: true/false for booleans, the shortest exact text for numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _axis(doc, path, a, args):
    if not isinstance(a, dict):
        raise doc.error(path, "expected a mapping with key and values, range or log")
    for k in a:
        if k not in AXIS_KEYS:
            raise doc.error(path + (k,), "unknown key%s; expected one of %s" % (_nearest(k, AXIS_KEYS),
                                                                                 ", ".join(AXIS_KEYS)))
    key = a.get("key")
    if not isinstance(key, str) or not key:
        raise doc.error(path + ("key",), "expected the name of a study argument or preset key")
    given = [k for k in ("values", "range", "log") if k in a]
    if len(given) != 1:
        raise doc.error(path, "give exactly one of values, range or log")
    how = given[0]
    if how == "values":
        values = a["values"]
        if not isinstance(values, list):
            raise doc.error(path + ("values",), "expected a list")
        if any(isinstance(v, (dict, list)) or v is None for v in values):
            raise doc.error(path + ("values",), "values must be plain numbers or text")
    else:
        values = _range_values(doc, path + (how,), a[how], how == "log")
    if not values:
        raise doc.error(path + (how,), "empty: the axis has no values")
    if len(set(map(repr, values))) != len(values):
        raise doc.error(path + (how,), "repeated values")
    norm = key.replace("-", "_")
    kind = "arg" if norm in args else "preset"
    unit = a.get("unit", "")
    if unit and not isinstance(unit, str):
        raise doc.error(path + ("unit",), "expected a unit text, e.g. TB/s")
    if kind == "preset" and not unit:  # "4.8 TB/s" values: one shared unit becomes the column's unit
        parsed = [parse_quantity(v) for v in values]
        units = {u for _, u in parsed}
        if all(n is not None for n, _ in parsed) and len(units) == 1 and units != {""}:
            unit = units.pop()
            values = [n for n, _ in parsed]
    name = a.get("name", norm if kind == "arg" else key)
    base = a.get("base", values[len(values) // 2])
    return Axis(norm if kind == "arg" else key, name, values, unit, kind, base)


def _axis_groups(doc, args):
    """A list of groups; each group is a list of axes that advance together (one for a plain axis)."""
    axes = doc.data.get("axes")
    if not isinstance(axes, list) or not axes:
        raise doc.error(("axes",), "expected a non-empty list of axes")
    groups = []
    for i, a in enumerate(axes):
        if isinstance(a, dict) and "zip" in a:
            if len(a) != 1:
                raise doc.error(("axes", i), "a zip entry holds only `zip: [axis, ...]`")
            members = a["zip"]
            if not isinstance(members, list) or len(members) < 2:
                raise doc.error(("axes", i, "zip"), "expected a list of at least two axes")
            group = [_axis(doc, ("axes", i, "zip", j), m, args) for j, m in enumerate(members)]
            sizes = {len(g.values) for g in group}
            if len(sizes) != 1:
                raise doc.error(("axes", i, "zip"), "zipped axes need the same number of values, got %s"
                                % ", ".join(str(len(g.values)) for g in group))
            groups.append(group)
        else:
            groups.append([_axis(doc, ("axes", i), a, args)])
    names = [ax.name for g in groups for ax in g]
    for n in names:
        if names.count(n) > 1:
            raise doc.error(("axes",), "axis '%s' appears twice" % n)
    return groups


def _sets_of(doc, base_set, path):
    if base_set is None:
        return {}
    if isinstance(base_set, dict):
        return {str(k): v for k, v in base_set.items()}
    if isinstance(base_set, list):
        out = {}
        for i, s in enumerate(base_set):
            if not isinstance(s, str) or "=" not in s:
                raise doc.error(path + (i,), "expected key=value")
            k, v = s.split("=", 1)
            out[k] = v
        return out
    raise doc.error(path, "expected a mapping of preset key: value")


_OPS = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name, ast.Load, ast.Constant,
        ast.And, ast.Or, ast.Not, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub,
        ast.UAdd, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Call, ast.Tuple,
        ast.List, ast.IfExp)
_FUNCS = {"min": min, "max": max, "abs": abs, "log2": math.log2, "sqrt": math.sqrt}


def ident(name):
    """A constraint variable name for an axis or argument name: hbm.bandwidth -> hbm_bandwidth."""
    return re.sub(r"[^0-9A-Za-z_]", "_", str(name))


def _compile_constraint(doc, path, text, names):
    if not isinstance(text, str) or not text.strip():
        raise doc.error(path, "expected an expression, e.g. \"m * n <= 2**20\"")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise doc.error(path, "not an expression: %s" % e.msg) from None
    for node in ast.walk(tree):
        if not isinstance(node, _OPS):
            raise doc.error(path, "'%s' is not allowed in a constraint" % type(node).__name__)
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS):
            raise doc.error(path, "only %s may be called" % ", ".join(sorted(_FUNCS)))
        if isinstance(node, ast.Name) and node.id not in names and node.id not in _FUNCS:
            raise doc.error(path, "unknown name '%s'%s; names are the axes and base arguments"
                            % (node.id, _nearest(node.id, names)))
    return compile(tree, doc.file, "eval")


class Point:
    """One point of a sweep: its axis values, the study arguments and preset overrides it runs with."""

    def __init__(self, index, values, args, sets, dropped=None):
        self.index, self.values, self.args, self.sets, self.dropped = index, values, args, sets, dropped
        self.id = "p%05d" % index

    def task(self, study):
        return {"id": self.id, "study": study, "args": self.args, "set": self.sets}

    def key(self, study):
        return hashlib.sha1(json.dumps(self.task(study), sort_keys=True).encode()).hexdigest()


class Spec:
    """A checked sweep spec: study, base arguments, axis groups, constraints, metrics, expanded points."""

    def __init__(self, doc, study, name, base, base_set, groups, constraints, metrics, design, report):
        self.doc, self.study, self.name, self.base, self.base_set = doc, study, name, base, base_set
        self.groups, self.constraints, self.metrics, self.design, self.report = \
            groups, constraints, metrics, design, report
        self.axes = [a for g in groups for a in g]
        self.points = self._expand()

    @property
    def file(self):
        return self.doc.file

    def sim_hash(self):
        """Identifies what is simulated (metrics and report settings may change between resumes)."""
        tasks = [p.task(self.study) for p in self.points if not p.dropped]
        return hashlib.sha1(json.dumps(tasks, sort_keys=True).encode()).hexdigest()

    def _combos(self):
        if self.design == "grid":
            combos = [[]]
            for g in self.groups:
                combos = [c + [(g, i)] for c in combos for i in range(len(g[0].values))]
            return combos
        base_idx = [self._base_index(g) for g in self.groups]
        combos = [[(g, base_idx[j]) for j, g in enumerate(self.groups)]]
        for j, g in enumerate(self.groups):
            for i in range(len(g[0].values)):
                if i != base_idx[j]:
                    c = [(gg, base_idx[k]) for k, gg in enumerate(self.groups)]
                    c[j] = (g, i)
                    combos.append(c)
        return combos

    def _base_index(self, g):
        ax = g[0]
        for i, v in enumerate(ax.values):
            if v == ax.base or str(v) == str(ax.base):
                return i
        return len(ax.values) // 2

    def _expand(self):
        points = []
        for index, combo in enumerate(self._combos()):
            values, args, sets = {}, dict(self.base), dict(self.base_set)
            for g, i in combo:
                for ax in g:
                    values[ax.name] = ax.values[i]
                    if ax.kind == "arg":
                        args[ax.key] = ax.setting(ax.values[i])
                    else:
                        sets[ax.key] = ax.setting(ax.values[i])
            env = {ident(k): v for k, v in args.items()}
            env.update({ident(k): v for k, v in values.items()})
            dropped = None
            for code, reason, path in self.constraints:
                try:
                    ok = eval(code, {"__builtins__": {}}, dict(env, **_FUNCS))
                except Exception as e:  # a type error in an expression is the spec's fault
                    raise self.doc.error(path, "cannot evaluate at point %s: %s" % (values, e)) from None
                if not ok:
                    dropped = reason
                    break
            sets_list = ["%s=%s" % (k, preset_text(v)) for k, v in sorted(sets.items())]
            points.append(Point(index, values, args, sets_list, dropped))
        return points


_SYSTEM_KEYS = {}


def system_keys(system):
    """Every key of a system's resolved preset (memoized per system)."""
    import xpusim
    if system not in _SYSTEM_KEYS:
        _SYSTEM_KEYS[system] = set(_flat_yaml(xpusim.system_config(system)))
    return _SYSTEM_KEYS[system]


def is_system_key(key):
    """Whether a preset key ("scale_up.link.bandwidth", "unit:key" or "key=value") is a system preset's field: its
    first segment is one of a system preset's sections but name and description (as run_target.h routes --set)."""
    import xpusim
    if "sections" not in _SYSTEM_KEYS:
        _SYSTEM_KEYS["sections"] = {k.split(".")[0] for k in system_keys(xpusim.list_systems()[0])} - {"name", "description"}
    return key.partition("=")[0].split(":", 1)[-1].split(".")[0] in _SYSTEM_KEYS["sections"]


def _check_run_system_keys(doc, base, base_set, groups, checks):
    """run and serve studies: their system keys exist in the systems the points use (base.system or a system
    axis), and base.set's system values load."""
    import xpusim
    axis = {a.key: a.values for g in groups for a in g}
    systems = set(axis.get("system", [])) | ({base["system"]} if base.get("system") else set())
    if not systems:
        if base.get("devices") or "devices" in axis:
            return  # the chip's default system: checked when the point runs
        path, key = checks[0]
        raise doc.error(path, "'%s' is a field of a system preset (xpusim params system), but the study's points run on "
                              "one chip (give base.system)" % key)
    for system in sorted(systems, key=str):
        keys = system_keys(str(system))
        for path, key in checks:
            if key.split(":", 1)[-1] not in keys:
                raise doc.error(path, "'%s' is not a key of system %s%s" % (key, system, _nearest(key.split(":", 1)[-1], keys)))
        try:
            xpusim.system_config(str(system), ["%s=%s" % (k.split(":", 1)[-1], preset_text(v)) for k, v in base_set.items()])
        except (ValueError, RuntimeError) as e:
            raise doc.error(("base", "set"), " ".join(str(e).split())) from None


def _check_system_keys(doc, base, base_set, groups):
    """A collective study's preset keys are the system preset's: each exists in every system a point uses."""
    import xpusim
    systems = set()
    for g in groups:
        for a in g:
            if a.key == "system":
                systems.update(a.values)
    if not systems:
        systems.add(base.get("system", "hgx-h100x8"))
    for system in sorted(systems, key=str):
        if str(system) not in xpusim.list_systems() and not os.path.isfile(str(system)):
            raise doc.error(("base", "system"), "unknown system '%s'%s" % (system, _nearest(str(system), xpusim.list_systems())))
    checks = [(("base", "set", k), k) for k in base_set]
    for gi, g in enumerate(doc.data["axes"]):
        members = g["zip"] if isinstance(g, dict) and "zip" in g else [g]
        for mi, m in enumerate(members):
            path = ("axes", gi, "zip", mi, "key") if isinstance(g, dict) and "zip" in g else ("axes", gi, "key")
            if groups[gi][mi].kind == "preset":
                checks.append((path, groups[gi][mi].key))
    for path, key in checks:
        for system in sorted(systems, key=str):
            keys = system_keys(str(system))
            if key not in keys:
                raise doc.error(path, "'%s' is not a study argument of `collective` nor a key of system %s%s"
                                % (key, system, _nearest(key, keys | study_arguments("collective"))))


def _unit_list(v):
    """A chips value as compare reads it: a list, or "a,b" text."""
    if isinstance(v, str):
        return [c for c in v.split(",") if c]
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _preset_checks(doc, base_set, groups):
    """(path, key) of every preset key a spec names: base.set's and the preset axes'."""
    checks = [(("base", "set", k), k) for k in base_set]
    for gi, g in enumerate(doc.data["axes"]):
        members = g["zip"] if isinstance(g, dict) and "zip" in g else [g]
        for mi, m in enumerate(members):
            path = ("axes", gi, "zip", mi, "key") if isinstance(g, dict) and "zip" in g else ("axes", gi, "key")
            ax = [a for a in groups[gi]][mi]
            if ax.kind == "preset":
                checks.append((path, ax.key))
    return checks


def _check_compare_units(doc, units, base_set, checks, path):
    """compare's units: chip presets or system units ("hgx-h100x8", "hgx-h100x8:tp4"), each resolved by
    compare's own code (xpusim._xpusim.compare_unit_config); a key must be a field of the unit's chip, or of
    its system for a system unit, and "NAME:key" applies to the units of that chip or system."""
    import xpusim
    systems, known = xpusim.list_systems(), {}
    for unit in sorted(units, key=str):
        name = str(unit).split(":", 1)[0]
        if name not in systems and str(unit) not in xpusim.list_chips() and not os.path.isfile(str(unit)):
            raise doc.error(path, "unknown chip or system '%s'%s" % (unit, _nearest(name, xpusim.list_chips() + systems)))
        try:
            cfg = xpusim._xpusim.compare_unit_config(str(unit), [])
            keys = set(preset_keys(cfg["chip"])) | (system_keys(name) if cfg["system"] else set())
        except ValueError as e:  # a user's chip file that does not load, a layout that does not parse
            raise doc.error(path, " ".join(str(e).split())) from None
        known[unit] = (keys, {name, cfg["chip"]} if cfg["system"] else {str(unit)})
    for unit, (keys, names) in sorted(known.items(), key=lambda kv: str(kv[0])):  # base.set, as every point applies it
        try:
            xpusim._xpusim.compare_unit_config(str(unit), ["%s=%s" % (k, preset_text(v)) for k, v in base_set.items()])
        except ValueError as e:
            if any(k.split(":", 1)[-1] not in keys for k in base_set if ":" not in k or k.split(":", 1)[0] in names):
                continue  # an unknown key: reported below with the line of that key
            raise doc.error(("base", "set"), " ".join(str(e).split())) from None
    every = set().union(*(names for _, names in known.values()))
    for p, key in checks:
        only, k = (key.split(":", 1) if ":" in key else (None, key))
        if only is not None and only not in every:  # it would go nowhere (compare refuses it too)
            raise doc.error(p, "'%s': '%s' is no unit of the study (its units: %s)%s"
                            % (key, only, ", ".join(sorted(every)), _nearest(only, sorted(every))))
        for unit, (keys, names) in sorted(known.items(), key=lambda kv: str(kv[0])):
            if only is not None and only not in names:
                continue
            if k not in keys:
                raise doc.error(p, "'%s' is not a study argument of `compare` nor a key of unit %s%s"
                                % (key, unit, _nearest(k, keys | study_arguments("compare"))))


def _study_units(doc, base, groups):
    """The units a named compare study (base.study) runs its points on: each of its models' units. A study of
    several models is several studies, so a point of a sweep over it names one: base.model or a `model` axis."""
    import xpusim
    try:
        d = xpusim._xpusim.study_units(str(base["study"]))
    except ValueError as e:
        raise doc.error(("base", "study"), " ".join(str(e).split())) from None
    axis = [a.values for g in groups for a in g if a.key == "model"]
    models = axis[0] if axis else [base["model"]] if base.get("model") else d["models"]
    if len(models) > 1 and not axis:
        raise doc.error(("base", "study"), "'%s' is a study of %d models (%s): a sweep point is one study, so give "
                        "base.model or an axis `{key: model, values: [...]}` over them" % (base["study"], len(models), ", ".join(models)))
    units = set()
    for m in models:
        units.update(d["units_for"].get(m, d["units"]))
    return units


def _check_preset_keys(doc, study, base, base_set, groups):
    """Every preset key (base.set and preset axes) exists in every chip a point may use; returns those chips (the units of
    a compare study, none for a collective one)."""
    if study == "collective":
        _check_system_keys(doc, base, base_set, groups)
        return set()
    chips = set()
    chip_axis = [a for g in groups for a in g if a.key in ("chip", "chips")]
    for a in chip_axis:  # the chips the points use: the axis's values, else the base study's chip(s)
        for v in a.values:
            chips.update(_unit_list(v))
    if not chip_axis and study == "compare":
        import xpusim
        if base.get("study") and not base.get("chips"):
            chips.update(_study_units(doc, base, groups))
        else:
            chips.update(_unit_list(base.get("chips") or xpusim.COMPARE_CHIPS))
    elif not chip_axis:
        chips.add(base.get("chip", "h100-sxm"))
    import xpusim
    checks = _preset_checks(doc, base_set, groups)
    if study == "compare":  # units are chips or systems, resolved as compare resolves them
        _check_compare_units(doc, chips, base_set, checks, ("base", "chips") if not chip_axis else ("axes",))
        return chips
    for chip in sorted(chips, key=str):
        path = ("base", "chip") if not chip_axis else ("axes",)
        if str(chip) not in xpusim.list_chips() and not os.path.isfile(str(chip)):
            raise doc.error(path, "unknown chip '%s'%s" % (chip, _nearest(str(chip), xpusim.list_chips())))
        try:
            preset_keys(str(chip))
        except ValueError as e:  # a user's chip file that does not load: its own file:line: key message
            raise doc.error(path, " ".join(str(e).split())) from None
    if study in ("run", "serve") and any(is_system_key(k) for _, k in checks):  # the system preset's fields: its own check
        _check_run_system_keys(doc, base, {k: v for k, v in base_set.items() if is_system_key(k)}, groups,
                               [(p, k) for p, k in checks if is_system_key(k)])
        checks = [(p, k) for p, k in checks if not is_system_key(k)]
        base_set = {k: v for k, v in base_set.items() if not is_system_key(k)}
    for chip in sorted(chips, key=str):  # the values of base.set, as every point applies them
        try:
            xpusim.chip_config(str(chip), ["%s=%s" % (k, preset_text(v)) for k, v in base_set.items()
                                           if ":" not in k or k.split(":", 1)[0] == chip])
        except (ValueError, RuntimeError) as e:
            if any(k not in preset_keys(str(chip)) for k in base_set if ":" not in k):
                continue  # an unknown key: reported below with the line of that key
            raise doc.error(("base", "set"), " ".join(str(e).split())) from None
    for path, key in checks:
        only, k = (key.split(":", 1) if ":" in key else (None, key))
        for chip in sorted(chips, key=str):
            if only is not None and only != chip:
                continue
            keys = preset_keys(str(chip))
            if k not in keys:
                raise doc.error(path, "'%s' is not a study argument of `%s` nor a key of preset %s%s"
                                % (key, study, chip, _nearest(k, keys | study_arguments(study))))
    _check_preset_axis_values(doc, chips, base_set, groups, [p for p, _ in checks if p[0] == "axes"])
    return chips


def _check_preset_axis_values(doc, chips, base_set, groups, axis_paths):
    """Where one axis alone varies the preset, a value of it that the preset (with base.set) does not take fails every
    point that has it: refused here with its line, as base.set's values are, not written as error rows (an `8TB`
    bandwidth ran the other points and left "InputError: --set hbm.bandwidth: '8 TB': unknown unit" in results.csv,
    exit status 0). Where several preset keys vary, a value may need another's (cores_used with cores): each point
    then says it."""
    import xpusim
    if len(axis_paths) != 1:
        return
    path = axis_paths[0]
    gi, mi = path[1], (path[3] if path[2] == "zip" else 0)
    ax = list(groups[gi])[mi]
    only, k = (ax.key.split(":", 1) if ":" in ax.key else (None, ax.key))
    given = doc.data["axes"][gi]
    raw = (given["zip"][mi] if path[2] == "zip" else given).get("values")
    for chip in sorted(chips, key=str):
        if only is not None and only != chip:
            continue
        sets = ["%s=%s" % (bk, preset_text(v)) for bk, v in base_set.items() if ":" not in bk or bk.split(":", 1)[0] == chip]
        for i, v in enumerate(ax.values):
            try:
                xpusim.chip_config(str(chip), sets + ["%s=%s" % (k, ax.setting(v))])
            except (ValueError, RuntimeError) as e:
                where = path[:-1] + (("values", i) if isinstance(raw, list) else ())
                raise doc.error(where, "%s (on %s)" % (" ".join(str(e).split()), chip)) from None


def _same_value_key(ax, v, chips, base_set):
    """What a value of an axis runs as: a preset value as each chip's resolved preset holds it (3350 GB/s and
    3.35 TB/s both resolve to "3.35 TB/s"), a number as its value (1 and 1.0), other text as written."""
    import xpusim
    if ax.kind == "preset":
        only, k = (ax.key.split(":", 1) if ":" in ax.key else (None, ax.key))
        resolved = []
        for chip in sorted(chips, key=str):
            if only is not None and only != chip:
                continue
            sets = ["%s=%s" % (bk, preset_text(bv)) for bk, bv in base_set.items() if ":" not in bk or bk.split(":", 1)[0] == chip]
            try:
                resolved.append(_flat_yaml(xpusim.chip_config(str(chip), sets + ["%s=%s" % (k, ax.setting(v))])).get(k))
            except (ValueError, RuntimeError):  # not a chip (a system unit), or a value that needs another axis's
                return ("as written", ax.setting(v))
        if resolved:
            return ("resolved", tuple(map(str, resolved)))
        return ("as written", ax.setting(v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return ("number", float(v))
    return ("as written", str(v))


def _check_same_values(doc, groups, chips, base_set):
    """Two values of an axis (of a zipped group: two positions of all its axes) that run as the same setting would run
    every point twice (hbm.bandwidth [3.35 TB/s, 3350 GB/s]): refused, as a value written twice is, naming both."""
    axes = doc.data["axes"]
    for gi, g in enumerate(groups):
        seen = {}
        for i in range(len(g[0].values)):
            key = tuple(_same_value_key(ax, ax.values[i], chips, base_set) for ax in g)
            if key in seen:
                j = seen[key]
                zipped = isinstance(axes[gi], dict) and "zip" in axes[gi]
                what = " ".join("%s %s and %s" % (ax.name, ax.setting(ax.values[j]), ax.setting(ax.values[i])) for ax in g)
                how = key[0][0] == "resolved" and "the same setting once resolved (%s)" % ", ".join(key[0][1]) or "the same value"
                path = ("axes", gi) + (() if zipped else (("values", i) if "values" in axes[gi] else ()))
                raise doc.error(path, "%s: %s, so every point would run twice; give each value once"
                                % (what, how))
            seen[key] = i


def _metrics(doc):
    m = doc.data.get("metrics")
    if m is None:  # left out: say it is required, not that what is not there has the wrong shape
        raise doc.error(("metrics",), "missing (required): a mapping name: json.path (or {path, unit}) of what to "
                                      "record, e.g. metrics: {latency: latency_s}")
    if not isinstance(m, dict) or not m:
        raise doc.error(("metrics",), "expected a mapping name: json.path (or {path, unit})")
    out = {}
    for name, v in m.items():
        path = ("metrics", name)
        if isinstance(v, str):
            out[str(name)] = (v, metric_unit(v))
        elif isinstance(v, dict):
            for k in v:
                if k not in ("path", "unit"):
                    raise doc.error(path + (k,), "unknown key%s; expected path, unit" % _nearest(k, ("path", "unit")))
            if not isinstance(v.get("path"), str):
                raise doc.error(path + ("path",), "expected a JSON path into the report, e.g. bytes.hbm_read")
            out[str(name)] = (v["path"], str(v.get("unit", metric_unit(v["path"]))))
        else:
            raise doc.error(path, "expected a JSON path text or {path, unit}")
    return out


def load_spec(spec):
    """Parses and checks a spec (path or dict) and expands its points; raises SpecError."""
    doc = load_doc(spec)
    d = doc.data
    if not isinstance(d, dict):
        raise doc.error((), "expected a mapping at the top level")
    for k in d:
        if k not in TOP_KEYS:
            raise doc.error((k,), "unknown key%s; expected one of %s" % (_nearest(str(k), TOP_KEYS), ", ".join(TOP_KEYS)))
    study = d.get("study")
    if study is None:
        raise doc.error(("study",), "missing (required): what each point runs, one of %s" % ", ".join(STUDIES))
    if study not in STUDIES:
        raise doc.error(("study",), "expected one of %s, got %r" % (", ".join(STUDIES), study))
    args = study_arguments(study)
    base = d.get("base") or {}
    if not isinstance(base, dict):
        raise doc.error(("base",), "expected a mapping of the study's arguments")
    base_set = _sets_of(doc, base.get("set"), ("base", "set"))
    clean = {}
    for k, v in base.items():
        if k == "set":
            continue
        norm = str(k).replace("-", "_")
        if norm not in args:
            raise doc.error(("base", k), "unknown argument of `%s`%s" % (study, _nearest(norm, args)))
        clean[norm] = v
    if study == "kernel" and "op" not in clean:
        raise doc.error(("base",), "a kernel study needs `op` (gemm, attention, ...)")
    groups = _axis_groups(doc, args)
    _check_same_values(doc, groups, _check_preset_keys(doc, study, clean, base_set, groups), base_set)
    names = {ident(n) for n in args} | {ident(a.name) for g in groups for a in g}
    constraints = []
    for i, c in enumerate(d.get("constraints") or []):
        path = ("constraints", i)
        if not isinstance(c, dict) or set(c) - {"require", "reason"} or "require" not in c:
            raise doc.error(path, "expected {require: expression, reason: text}")
        code = _compile_constraint(doc, path + ("require",), c["require"], names)
        constraints.append((code, str(c.get("reason", "fails: " + c["require"])), path + ("require",)))
    design = d.get("design", "grid")
    if design not in ("grid", "one-at-a-time"):
        raise doc.error(("design",), "expected grid or one-at-a-time, got %r" % design)
    name = d.get("name") or (os.path.splitext(os.path.basename(doc.file))[0] if doc.file != "<dict>" else "sweep")
    report = d.get("report") or {}
    if not isinstance(report, dict):
        raise doc.error(("report",), "expected a mapping (pareto, heatmap, sensitivity)")
    spec = Spec(doc, study, str(name), clean, base_set, groups, constraints, _metrics(doc), design, report)
    if all(p.dropped for p in spec.points):
        raise doc.error(("constraints",), "the constraints drop every point")
    return spec


def resolve_path(report, path):
    """The value at a JSON path: `a.b.0.c`, `rows[0].x` or `rows[chip=tpu-v6e].x`; KeyError if absent."""
    obj = report
    for part in re.findall(r"[^.\[\]]+|\[[^\]]*\]", path):
        if part.startswith("["):
            sel = part[1:-1]
            if "=" in sel:
                k, v = sel.split("=", 1)
                if not isinstance(obj, list):
                    raise KeyError(path)
                hits = [x for x in obj if isinstance(x, dict) and str(x.get(k)) == v]
                if not hits:
                    raise KeyError(path)
                obj = hits[0]
                continue
            part = sel
        if isinstance(obj, list):
            if not re.fullmatch(r"-?\d+", part) or not -len(obj) <= int(part) < len(obj):
                raise KeyError(path)
            obj = obj[int(part)]
        elif isinstance(obj, dict):
            if part not in obj:
                raise KeyError(path)
            obj = obj[part]
        else:
            raise KeyError(path)
    return obj


def leaf_paths(report, prefix=""):
    """Every scalar path of a report (for 'nearest' hints)."""
    out = []
    if isinstance(report, dict):
        for k, v in report.items():
            out += leaf_paths(v, "%s.%s" % (prefix, k) if prefix else str(k))
    elif isinstance(report, list):
        for i, v in enumerate(report[:3]):
            out += leaf_paths(v, "%s.%d" % (prefix, i))
    else:
        out.append(prefix)
    return out
