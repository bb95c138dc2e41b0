"""xpusim: a cycle-approximate simulator of AI accelerators (SystemC/TLM-2.0).

    >>> import xpusim
    >>> r = xpusim.kernel("gemm", chip="h100-sxm", m=4096, n=4096, k=4096, dtype="bf16")
    >>> r["latency_s"], r["tflops"]

Every call builds a fresh simulation, so any number of runs can be made in one process.

    >>> df = xpusim.sweep("scripts/studies/batch_tpot_per_chip.yaml", out="results/sweeps/batch")
    >>> xpusim.analysis.pareto(df, "tpot", "tokens_per_s")

sweep() runs what-if studies (axes over arguments and preset keys) on local worker processes or a
Dask cluster (client=distributed.Client(...)) and returns a pandas DataFrame; analysis draws Pareto
fronts, tornado charts and heat maps. `python3 -m xpusim <command>` is the command line.
"""
import difflib as _difflib
import functools as _functools
import inspect as _inspect
import json as _json
import os as _os
import re as _re

from . import _xpusim

InputError = _xpusim.InputError
try:
    InputError.__doc__ = """Bad input to the simulator (unknown chip, key, op or value): the message is one line.

    flag, value: the command-line flag it is about ("--tp"; a Python call's keyword is read as that flag) and the
    text given to it; file, key: a preset or model file (or flag="--set") and the key in it. None where the error
    does not say. mentions: the other flags the message names, each with the value it gives them
    ([("--pp", "1")]; () where it names none)."""
    InputError.flag = InputError.value = InputError.file = InputError.key = None
    InputError.mentions = ()
except (AttributeError, TypeError):
    pass


def _input_error(message, keyword, value):
    """An InputError raised here, in Python, about `keyword` given `value`: with the data the C++ errors carry (the
    keyword read as its flag, the value as its text), its message already naming the keyword."""
    error = InputError(message)
    error.flag, error.value = "--" + keyword.replace("_", "-"), "" if value is None else _flag_value(value)
    return error


def _with_data(error, of):
    """`error` with the data of the InputError `of` (flag, value, file, key, mentions)."""
    for a in ("flag", "value", "file", "key", "mentions"):
        setattr(error, a, getattr(of, a, None))
    return error

__all__ = ["kernel", "run", "serve", "compare", "chip_config", "list_chips", "list_models", "list_ops", "sweep", "load_spec",
           "InputError", "SpecError", "SweepError", "SweepFailedWarning", "Session", "Trace", "to_perfetto", "functional",
           "plots", "analysis", "sweeps", "sweep_spec", "collective", "list_systems", "system_config"]


# A flag in a message of the CLI's parsers and checks, with what follows it: a colon, and a value (quoted, in
# parentheses, a number or, without a colon, a placeholder such as N) or the next word.
_FLAG_IN_TEXT = _re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)(:?)(?: ('[^']*'|\([^()\s]*\)|[^\s,;:()]+))?")
_VALUE_LIKE = _re.compile(r"'[^']*'|\(\S*\)|[-+]?[0-9][\w.+/]*|[A-Z][A-Z_]*")


def _keyword_message(message, values, aliases=None, flag=None, value=None, mentions=()):
    """A message of the CLI's shared parsers and checks as a Python call's: each --flag named as its keyword
    (--kv-heads -> kv_heads, or `aliases[flag]`: --from-idle -> sustained=False), with its value where the message
    gives one (--m 0 -> m=0, --phase 'x' -> phase='x'; the caller's own value as the caller wrote it), and the CLI's
    help pointer as Python's help(). `flag` and `value`: the InputError's own data (e.flag, e.value), which name the
    flag it is about and the value given to it; `mentions`: the other flags it names with their values (e.mentions),
    each renamed from that data. Flags the data does not give (errors raised before they carried mentions, a config
    error's key naming flags) are found in the text. An error without data (neither a flag nor a file's key) is not
    rewritten (_keyword_errors)."""
    message = _re.sub(r"\(see xpusim (\w+)[^()]*? --help\)", lambda m: "(see help(xpusim.%s))" % m.group(1), message)
    aliases = aliases or {}

    def key_of(name):  # a flag's name (without --) as the caller's keyword
        return aliases.get(name, name.replace("-", "_"))

    def word_given(text, at, given):
        """The value `given` as `text` says it right after `at` (quoted, in parentheses or bare, whole: spaces, commas
        and all) and where it ends; (None, at) where the text does not say it there."""
        for form in ("'%s'", "(%s)", "%s") if given else ():
            w = " " + form % given
            if text.startswith(w, at) and not _re.match(r"[^\s,;:()]", text[at + len(w):]):
                return w[1:], at + len(w)
        return None, at

    def keyword(name, colon, word, known=False):
        key = key_of(name)
        if word is None:
            return key + colon
        given = values.get(key, None) if "=" not in key else None
        bare = word[1:-1] if word[:1] in "'(" else word
        if given is not None and bare in (str(given), _flag_value(given), str(given).lower()):
            return "%s=%r" % (key, given)
        # The data's value is a value; a word after a flag in the text is one if it looks like one ("--x: AWS ..." is text).
        if "=" not in key and ((known and word[:1] in "'(") or _VALUE_LIKE.fullmatch(word) and not (colon and word[0].isupper())):
            return "%s=%s" % (key, bare if word[:1] == "(" else word)
        return "%s%s %s" % (key, colon, word)

    def named(text, name, given):
        """`text` with each mention of the flag `name` (given `given`, "" for none) as its keyword: from data."""
        out, at = [], 0
        for m in _re.finditer(r"(?<![\w-])%s(?![\w-])(:?)" % _re.escape(name), text):
            colon = m.group(1)
            word, end = word_given(text, m.end(), given)
            said = keyword(name[2:], colon, word, True)
            key = key_of(name[2:])
            if word is not None and "=" not in key and not said.startswith(key + "="):  # the data say it is the value
                said = "%s=%s" % (key, word[1:-1] if word[:1] == "(" else word)
            out += [text[at:m.start()], said]
            at = end
        return "".join(out) + text[at:]

    def in_text(text):
        for name, given in mentions or ():
            if name.startswith("--") and name != flag:
                text = named(text, name, given)
        return _FLAG_IN_TEXT.sub(lambda m: keyword(m.group(1), m.group(2), m.group(3)), text)
    if flag and flag.startswith("--"):
        m = _re.compile(r"(?<![\w-])%s(?![\w-])" % _re.escape(flag)).search(message)
        t = m and _FLAG_IN_TEXT.match(message, m.start())
        if t and t.group(1) == flag[2:]:
            colon, word, end, known = t.group(2), t.group(3), t.end(), False
            given, given_end = word_given(message, m.end() + len(colon), value)  # the value as the data gives it
            if given is not None:
                word, end, known = given, given_end, True
            return in_text(message[:m.start()]) + keyword(flag[2:], colon, word, known) + in_text(message[end:])
        said = _re.search(r"(?<![\w-])%s=" % _re.escape(key_of(flag[2:])), message)
        if not m and value and not said:  # an unknown name, said where it is looked up ("unknown chip 'x'", "x: model: ..."):
            # the keyword and its value first, in place of the value's own mention
            name = flag[2:] + ": "
            body = message[len(value) + 2:] if message.startswith(value + ": ") else message.replace(" '%s'" % value, "", 1)
            body = body[len(name):] if body.startswith(name) else body
            return keyword(flag[2:], "", "'%s'" % value, True) + ": " + in_text(body)
    return in_text(message)


def _keyword_errors(aliases=None):
    """For a Python entry point whose keywords the CLI's own parsers and checks read as flags: its InputError names
    the keywords (kernel("gemm", m=0) said "--m: 0: ..."; now "m=0: ..."), where the error carries the flag it is
    about (or a config file's key) as data, set where it was raised. `aliases`: flags a keyword stands for under
    another name (run's sustained=False is --from-idle)."""
    def wrap(f):
        sig = _inspect.signature(f)

        @_functools.wraps(f)
        def call(*args, **kwargs):
            try:
                return f(*args, **kwargs)
            except InputError as e:
                if e.flag is None and e.file is None and e.key is None:
                    raise  # it says nothing of a flag or a file's key (Python's own errors, a simulation's)
                try:
                    bound = sig.bind(*args, **kwargs).arguments
                except TypeError:
                    bound = dict(kwargs)
                values = {}
                for k, v in bound.items():
                    values.update(v if sig.parameters[k].kind == _inspect.Parameter.VAR_KEYWORD else {k: v})
                text = _keyword_message(str(e), values, aliases, e.flag, e.value, e.mentions)
                if text == str(e):
                    raise
                raise _with_data(type(e)(text), e) from None
        return call
    return wrap


def _args(kwargs):
    out = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key.replace("_", "-")] = str(value)
    return out


def _switch(key, value, default):
    """An on/off keyword: True or False (a numpy bool, 0 or 1 too; None: the default). Any other value was taken
    by its truth: kernel(..., sustained="no") ran sustained, 17% slower on a large GEMM, without a word."""
    if value is None:
        return default
    if isinstance(value, bool) or type(value).__name__ == "bool_" or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise _input_error("%s=%r: expected True or False" % (key, value), key, value)


def _name(key, value, what):
    """A name keyword (chip, op, system): a str or a path; another type reached pybind11, whose TypeError named
    the module's internal function and its argument types over several lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, _os.PathLike):
        return _os.fspath(value)
    raise _input_error("%s=%r: expected a str, %s" % (key, value, what), key, value)


def _warmup_runs(value):
    """after_runs as `--after-runs` reads it: a number of warm-up runs from 0 to 1e9 (None: not given). -1 was
    the module's "not given" and ran as if none were (the CLI and run() refuse it), True ran as 1, and "abc"
    raised a ValueError naming no keyword."""
    if value is None:
        return -1.0
    message = "after_runs=%r: expected a number of warm-up runs from 0 to 1e9" % (value,)
    if isinstance(value, bool):
        raise _input_error(message, "after_runs", value)
    try:
        runs = float(value)
    except (TypeError, ValueError):
        raise _input_error(message, "after_runs", value) from None
    if runs < 0:
        raise _input_error(message, "after_runs", value)
    return runs


@_keyword_errors()
def kernel(op, chip=None, set=None, functional=False, sustained=False, after_runs=None, **dims):
    """Simulate one kernel and return its report as a dict.

    op:    "gemm", "attention", "rmsnorm", ... (see list_ops())
    chip:  a preset name (see list_chips()); default h100-sxm
    set:   preset overrides: a dict ({"hbm.bandwidth": "4 TB/s"}, or nested as a preset nests it:
           {"hbm": {"bandwidth": "4 TB/s"}}), a list of "key=value" or one such string
    dims:  the same arguments as `xpusim kernel` (m, n, k, batch, dtype, heads, kv_heads, seq, ...)
    sustained: as `xpusim kernel --sustained`: assume steady state (repeated back to back, the power
           limit's average already at TDP, so the clock held at TDP applies); default: one run from
           idle, whose duration against the averaging window decides how much runs at boost, exactly
           as the CLI's default
    after_runs: as `xpusim kernel --after-runs N`: the kernel as a benchmark times it after N back-to-back
           runs of itself from idle (its warm-up), at the clock the power manager holds then

    The dict has the fields of `xpusim kernel --format json`: latency_s, tflops, share_of_peak (of the
    nominal peak), clock_mhz and clock_ratio (the clock it ran at), transactions, bytes, bandwidth_Bps,
    utilization, kernels, power, ...

    A collective (allreduce, allgather, reducescatter, alltoall, broadcast, sendrecv) runs on a system of chips,
    as `xpusim kernel <op> --system S --bytes SIZE` does: its keywords are that command's flags (system, default
    hgx-h100x8; bytes; algo, proto, nodes, devices, out; alltoall's expert exchange: tokens, hidden, topk, experts,
    ...), parsed, checked and run by the CLI's own code, the report `xpusim.collective` returns (a chip is
    refused as --chip is: a collective does not run inside one chip).
    """
    for key in dims:  # kernel("gemm", chipp="b200") was "unknown argument --chipp (did you mean --dtype?)"
        near = _difflib.get_close_matches(key, ("chip", "set", "functional", "sustained", "after_runs"), n=1, cutoff=0.8)
        if near:
            raise _input_error("kernel %s: unknown keyword %s=%r (did you mean %s=?)" % (op, key, dims[key], near[0]), key, dims[key])
    op = _name("op", op, "an op name such as 'gemm' (see list_ops())")
    chip = None if chip is None else _name("chip", chip, "a chip preset name or a preset file (see list_chips())")
    functional, sustained = _switch("functional", functional, False), _switch("sustained", sustained, False)
    if op in _COLLECTIVES:  # the CLI's `kernel <collective>` (it was the one-chip op, refused with a pointer)
        values = dict(dims, chip=chip, after_runs=after_runs)
        trace = _switch("trace", values.pop("trace", False), False)  # a switch, as --trace
        return _collective_cli(op, values, set, {"functional": functional, "sustained": sustained, "trace": trace})
    return _json.loads(_xpusim.kernel_json(op, chip or "h100-sxm", _args(dims), _sets(set), functional, sustained,
                                          _warmup_runs(after_runs)))


def _collective_cli(op, values, set, switches=None):
    """`xpusim kernel <op>` with `values` as its flags: the CLI's parsing, checks and run (one path)."""
    return _json.loads(_xpusim.collective_cli_json([op] + _flags(values, set, switches or {})))


_COLLECTIVES = ("allreduce", "allgather", "reducescatter", "alltoall", "broadcast", "sendrecv")


def _int(key, value):
    """A whole-number keyword as the CLI's flag reads it: int() took tokens=1.5 as 1 and tokens="abc" as a
    ValueError naming no keyword."""
    text = str(value)
    if isinstance(value, bool) or not _re.fullmatch(r"[+-]?[0-9]{1,18}", text):
        raise _input_error("%s=%r: expected an integer" % (key, value), key, value)
    return int(text)


def _flat_sets(tree, prefix):
    """A dict of overrides as (dotted key, text) pairs: nested dicts as a preset file nests them
    ({"hbm": {"bandwidth": "4 TB/s"}} is hbm.bandwidth; it had been refused as a value where hbm's keys go),
    a list or tuple as the comma-separated text a preset's lists take."""
    for key, value in tree.items():
        path = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            if not value:
                raise ValueError("set: %s: an empty dict sets nothing (expected its keys, e.g. {%r: {...: value}})" % (path, key))
            yield from _flat_sets(value, path)
        elif isinstance(value, (list, tuple)):
            yield path, ", ".join(str(v) for v in value)
        else:
            yield path, value


def _sets(set):
    """Preset overrides as --set texts: a dict, a list of "key=value", or one "key=value" string (which a
    list() would have split into characters: set="hbm.bandwidth=4TB/s" was refused as "--set: 'h'")."""
    if isinstance(set, dict):
        return ["%s=%s" % kv for kv in _flat_sets(set, "")]
    if isinstance(set, str):
        return [set]
    if set is not None and not isinstance(set, (list, tuple)):
        raise TypeError("set: expected a dict, a list of \"key=value\" or one such string, got %s" % type(set).__name__)
    return list(set or [])


def _flag_value(v):
    """A keyword's value as `xpusim compare` reads its flag: lists comma-separated, floats exactly (repr)."""
    if isinstance(v, (list, tuple)):
        return ",".join(_flag_value(x) for x in v)
    if isinstance(v, float):
        return repr(float(v))  # a numpy float's repr names its type
    return str(v)


def _seconds(v):
    """A target in seconds (a number) or a time text ("500ms") as --ttft-slo/--tpot-slo read it."""
    return "%rs" % float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _flags(values, set, switches):
    """A command line of flags: --key value for each value that is not None, --set for each override, and
    the switches that are on."""
    args = []
    for key, value in values.items():
        if value is not None:
            args += ["--" + key.replace("_", "-"), _flag_value(value)]
    for s in _sets(set):
        args += ["--set", s]
    return args + ["--" + k.replace("_", "-") for k, on in switches.items() if on]


@_keyword_errors({"from-idle": "sustained=False", "no-fold": "fold=False"})
def run(model="llama-3.1-8b", chip=None, phase="decode", batch=1, input=2048, output=1, dtype="bf16",
        wdtype=None, kvdtype=None, fusion=None, routing="uniform", sustained=True, set=None, adtype=None, tp=1,
        ep=1, pp=1, dp=1, microbatches=0, system=None, nodes=0, devices=0, overlap=False, fold=True, sp=False,
        pad_heads=0, after_runs=None, redundant_experts=0, two_batch_overlap=False, neuron_buckets=0, out=None,
        trace=False, trace_format=None):
    """Simulate a whole forward pass (prefill, decode steps or a request) and return the report of
    `xpusim run --format json`: ttft_s, tpot_s, tokens_per_s, memory, power, layout, steps[...].kernels.
    Every keyword is the flag of the same name (`xpusim run --help`), parsed, checked and run by the CLI's own
    code (chip: default h100-sxm, or the system's chips; adtype: activations only; tp/ep/pp/dp: the parallel
    layout; system: a system preset, or devices with chip for that chip's default system; nodes/devices 0: not
    given; set: the chip's fields and, on a system, the system's, as `--set`
    (set={"scale_up.link.bandwidth": "225GB/s"}); fold=False: `--no-fold`, every rank's kernels simulated instead
    of identical ones replayed; sp=True: `--sp`; pad_heads=N: `--pad-heads`; redundant_experts=N:
    `--redundant-experts`; two_batch_overlap=True: `--two-batch-overlap`; after_runs=N: the step as a benchmark
    times it after N back-to-back runs from an idle chip, `--after-runs`; sustained=False: one run from an idle
    chip, `--from-idle` (default: the steady state); neuron_buckets=N: `--neuron-buckets`; out: write
    config.resolved.yaml, system.resolved.yaml and stats.json there; trace=True (with out): `--trace`, every rank's
    kernels and collectives and the fabric's link transfers in out/trace.h5, or trace.json with trace_format="perfetto"
    or "both", which xpusim.Trace opens)."""
    flags = dict(model=model, chip=chip, phase=phase, batch=batch, input=input, output=output, dtype=dtype,
                 wdtype=wdtype, kvdtype=kvdtype, adtype=adtype, fusion=fusion, routing=routing, tp=tp, ep=ep, pp=pp,
                 dp=dp, microbatches=microbatches, system=system, nodes=nodes or None, devices=devices or None,
                 pad_heads=pad_heads, after_runs=after_runs, redundant_experts=redundant_experts,
                 neuron_buckets=neuron_buckets, out=None if out is None else str(out), trace_format=trace_format)
    args = _flags(flags, set, {"overlap": _switch("overlap", overlap, False), "no_fold": not _switch("fold", fold, True),
                               "sp": _switch("sp", sp, False), "trace": _switch("trace", trace, False),
                               "two_batch_overlap": _switch("two_batch_overlap", two_batch_overlap, False),
                               "from_idle": not _switch("sustained", sustained, True)})
    return _json.loads(_xpusim.run_cli_json(args))


@_keyword_errors()
def serve(model="llama-3.1-8b", chip=None, input=None, output=None, dtype="fp8", ttft_slo=0.0, tpot_slo=0.0,
          max_batch=0, set=None, concurrency=None, rate=0.0, scheduler="vllm", requests=0, seed=1, prefix_hit=0.0,
          spec_tokens=0, spec_accept=None, spec_method="mtp", spec_draft="", spec_draft_tp=0, system=None, devices=0, tp=1, ep=1,
          pp=1, dp=1, microbatches=0, nodes=0, prefill_devices=0, decode_devices=0, prefill_tp=0, prefill_ep=0, prefill_dp=0,
          prefill_pp=0, scenario_file=None,
          pad_heads=0, host_fixed_us=None, host_us_per_request=None, redundant_experts=0, prefill_redundant_experts=None,
          two_batch_overlap=False, lengths_csv=None, token_budget=None, max_seqs=None, cache_length=None, page_size=None, sp=False, overlap=False,
          dp_dispatch=None, decode_radix_cache=False, out=None, trace=False, trace_format=None):
    """An inference server on one chip, or on a system (`system`, or `devices` of the chip's default
    system) with the parallel layout tp/ep/pp/dp, as `xpusim serve --format json`: every keyword is the flag of
    the same name (`xpusim serve --help`), parsed, checked and run by the CLI's own code; None, False and the
    defaults shown (0 for counts, rates and targets; 1 for tp/ep/pp/dp): not given. set: the chip's and, on a
    system, the system's fields, as `--set`. Offline throughput, a closed loop of `concurrency` users (a list
    sweeps the frontier) or Poisson arrivals at `rate` requests/s, under the `scheduler` policy (vllm, sglang,
    sglang-jax, trtllm, jetstream; cache_length: jetstream's KV tokens per decode slot; page_size: sglang-jax's KV tokens per page). Returns throughput_tok_s, tok_s_per_user, ttft_s/tpot_s (medians) and their p90/p99, itl_p50_s,
    e2e_p50_s, kv_cache, preemptions, power, joules_per_token, usd_per_mtok, the curve and (for sweeps) the
    frontier; tpot_s, its p90/p99, itl_p50_s and tok_s_per_user are None where no request streams a second token
    (output=1). input/output: a number (default 1024 / 256) or a distribution text ("uniform:64:128"); lengths_csv
    instead of them; ttft_slo/tpot_slo: seconds or a time text ("500ms"); max_batch/max_seqs/token_budget and
    host_fixed_us/host_us_per_request: the scheduler's limits and host work (None: its own); prefix_hit and
    spec_*: prefix caching and speculative decoding (spec_tokens needs spec_accept, which has no default);
    nodes, prefill_*/decode_devices, scenario_file, pad_heads, redundant_experts, two_batch_overlap, sp,
    overlap, dp_dispatch (data-parallel attention's controller), decode_radix_cache: as their flags; out: write config.resolved.yaml, system.resolved.yaml and stats.json there;
    trace=True (with out, one operating point): `--trace`, the engine's iterations, requests and KV transfers in
    out/trace.h5, or trace.json with trace_format="perfetto" or "both" (README "Outputs")."""
    given = dict(locals())  # every keyword as passed
    flags = dict(model=model, chip=chip, input=input, output=output, dtype=dtype, scheduler=scheduler, seed=seed, dp_dispatch=dp_dispatch,
                 prefix_hit=prefix_hit, spec_accept=spec_accept, spec_method=spec_method, system=system,
                 scenario_file=scenario_file, host_fixed_us=host_fixed_us, host_us_per_request=host_us_per_request,
                 prefill_redundant_experts=prefill_redundant_experts, lengths_csv=lengths_csv,
                 token_budget=token_budget, max_seqs=max_seqs, cache_length=cache_length, page_size=page_size, out=None if out is None else str(out),
                 trace_format=trace_format, concurrency=[concurrency] if isinstance(concurrency, int) else (concurrency or None))
    for key in _SERVE_OMITTED_AT_DEFAULT:  # a flag at its signature default is not given (the CLI's own default)
        value = given[key]
        if value is not None and value != _SERVE_DEFAULTS[key]:
            flags[key] = _seconds(value) if key in ("ttft_slo", "tpot_slo") else value
    args = _flags(flags, set, {"two_batch_overlap": _switch("two_batch_overlap", two_batch_overlap, False),
                               "sp": _switch("sp", sp, False), "overlap": _switch("overlap", overlap, False),
                               "trace": _switch("trace", trace, False),
                               "decode_radix_cache": _switch("decode_radix_cache", decode_radix_cache, False)})
    return _json.loads(_xpusim.serve_cli_json(args))


# serve()'s keywords passed as flags only when they differ from their default here (counts, rates and
# targets 0, tp/ep/pp/dp 1): the defaults are the signature's own.
_SERVE_DEFAULTS = {k: p.default for k, p in _inspect.signature(serve).parameters.items()}
_SERVE_OMITTED_AT_DEFAULT = ("ttft_slo", "tpot_slo", "max_batch", "rate", "requests", "spec_tokens", "spec_draft", "spec_draft_tp",
                             "devices", "tp", "ep", "pp", "dp", "microbatches", "nodes", "prefill_devices",
                             "decode_devices", "prefill_tp", "prefill_ep", "prefill_dp", "prefill_pp", "pad_heads",
                             "redundant_experts")


COMPARE_CHIPS = ("h100-sxm", "tpu-v6e", "trn2", "maia200")  # compare()'s units without chips= or study=


@_keyword_errors()
def compare(chips=None, model=None, scenario=None, input=None, output=None, dtype=None, ttft_slo=None, tpot_slo=None,
            max_batch=None, set=None, tco=False, tiers=None, prefix_hit=None, spec_tokens=0, spec_accept=None,
            spec_method=None, spec_draft=None, jobs=1, host_fixed_us=None, host_us_per_request=None, concurrency=None,
            rate=0.0, requests=0, scheduler=None, seed=None, study=None, lengths_csv=None, token_budget=None,
            max_seqs=None, cache_length=None, page_size=None, name=None, out=None, no_report=False, finalists=None, dp_dispatch=None):
    """The procurement study of `xpusim compare` as the dict of its summary.json: rows[...] with
    throughput_tok_s, ttft_s, tpot_s, avg_power_w, usd_per_mtok, perf_per_usd_rel per unit. Every keyword is
    the flag of the same name (`xpusim compare --help`), passed to the CLI's own parsing, so the options,
    defaults and checks are the CLI's; None (and 0 for rate, requests, spec_tokens): not given.
    chips: units (a list or "a,b"), default COMPARE_CHIPS, or the study's with `study` (a name of
    workloads/studies or a study .yaml: as --study, its models, units, dtype, scenario and tiers where the
    keywords leave them; a study of several models returns a list of dicts, one per model); without
    `study` the scenario is "chat" and the model llama-3.1-8b unless given. input/output: a number or a
    distribution text ("uniform:64:128"); lengths_csv: as --lengths-csv; ttft_slo/tpot_slo: seconds or a
    time text ("500ms"); set: "key=value" for every unit, "name:key=value" for one chip or system unit
    (a system preset's fields, such as scale_up.link.bandwidth, go to its fabric); max_batch, max_seqs,
    token_budget, cache_length, page_size, host_fixed_us, host_us_per_request, scheduler, concurrency (a number or a list), rate,
    requests, seed, prefix_hit, spec_*, tco, tiers, finalists, dp_dispatch: as their flags; jobs: worker processes (1, the default:
    this process; the numbers are the same either way); out: write the study folder(s) there as the CLI
    does (summary.json/csv, frontier.csv, tiers.csv, configs/, report.html unless no_report), name: the
    study's name. Nothing is written without `out`."""
    if chips is None and study is None:
        chips = COMPARE_CHIPS
    if isinstance(chips, str):
        chips = [c for c in chips.split(",") if c]
    flags = {"study": study, "chips": list(chips) if chips is not None else None, "model": model,
             "scenario": scenario, "input": input, "output": output, "lengths_csv": lengths_csv, "dtype": dtype,
             "ttft_slo": None if ttft_slo is None else _seconds(ttft_slo),
             "tpot_slo": None if tpot_slo is None else _seconds(tpot_slo), "max_batch": max_batch,
             "max_seqs": max_seqs, "token_budget": token_budget, "cache_length": cache_length, "page_size": page_size, "tiers": tiers or None, "prefix_hit": prefix_hit,
             "spec_tokens": spec_tokens or None, "spec_accept": spec_accept, "spec_method": spec_method,
             "spec_draft": spec_draft or None, "jobs": jobs, "host_fixed_us": host_fixed_us,
             "host_us_per_request": host_us_per_request,
             "concurrency": [concurrency] if isinstance(concurrency, int) else (concurrency or None),
             "rate": rate or None, "requests": requests or None, "scheduler": scheduler, "seed": seed,
             "name": name, "out": None if out is None else str(out), "finalists": finalists, "dp_dispatch": dp_dispatch}
    args = _flags(flags, set, {"tco": _switch("tco", tco, False), "no_report": _switch("no_report", no_report, False)})
    studies = [_json.loads(t) for t in _xpusim.compare_cli_json(args, study is not None)]
    return studies[0] if len(studies) == 1 else studies


@_keyword_errors()
def chip_config(chip="h100-sxm", set=None):
    """The fully resolved preset (YAML text) after `set` overrides, as every run writes it."""
    return _xpusim.chip_config(_name("chip", chip, "a chip preset name or a preset file (see list_chips())"), _sets(set))


@_keyword_errors()
def collective(op="allreduce", system="hgx-h100x8", bytes="256MiB", algo="auto", proto="auto", nodes=0, set=None,
               stack=None, rows=None, out=None, trace=False, trace_format=None):
    """Simulate a collective on a system of chips (as `xpusim kernel <op> --system S --bytes B --format
    json`, through the CLI's own parsing and run): latency_s, algbw_GBps, busbw_GBps (nccl-tests definitions),
    algorithm, protocol, considered (each candidate's estimate), utilization per link class and per link.
    `stack` ("trtllm", "vllm", "sglang"): an all-reduce by that serving stack's own kernel where its rule takes it
    (`rows`: the tokens TensorRT-LLM's rule picks by; `algo` "oneshot"/"twoshot" forces the kernel), as `serve`
    runs a TP all-reduce; the report's `stack` names it. out: write config.resolved.yaml and stats.json there;
    trace=True (with out): `--trace`, each rank's sends, receives and reductions and every piece on a link in
    out/trace.h5 (trace_format "perfetto" or "both": trace.json)."""
    values = dict(system=system, bytes=bytes, algo=algo, proto=proto, nodes=_int("nodes", nodes), stack=stack,
                  rows=None if rows is None else _int("rows", rows), out=None if out is None else str(out),
                  trace_format=trace_format)
    return _collective_cli(op, values, set, {"trace": _switch("trace", trace, False)})


@_keyword_errors()
def expert_exchange(system="hgx-h100x8", tokens=4096, hidden=7168, topk=8, experts=256, expert_groups=1,
                    groups_per_token=1, dispatch_dtype="bf16", stage="dispatch", algo="auto", nodes=0, set=None,
                    routing="uniform"):
    """One MoE expert dispatch (or `stage="combine"`, bf16) as DeepEP runs it over every rank of a system
    (as `xpusim kernel alltoall --tokens N --hidden H --topk K --experts E ... --format json`, through the CLI's
    own parsing and run): `tokens` sent by each rank, `algo` "auto"/"deepep" (normal kernels, forwarded once per
    node across nodes) or "deepep-ll" (low-latency), sized by the same functions as a model's step, under `routing`
    as `run`'s --routing ("uniform": the step's draw, its busiest rank receiving more; "even": the expected loads);
    the report's `expert` fields give the tokens the busiest rank receives and the bytes per token."""
    ints = dict(nodes=nodes, tokens=tokens, hidden=hidden, topk=topk, experts=experts, expert_groups=expert_groups,
                groups_per_token=groups_per_token)
    values = {k: _int(k, v) for k, v in ints.items()}
    values.update(system=system, dispatch_dtype=dispatch_dtype, stage=stage, algo=algo, routing=routing)
    return _collective_cli("alltoall", values, set)


@_keyword_errors()
def system_config(system="hgx-h100x8", set=None, nodes=0):
    """The resolved system preset (YAML text) after `set` overlays, as a collective run uses it."""
    return _xpusim.system_config(system, _sets(set), int(nodes))


def list_systems():
    """Names of the system presets (chips/systems/presets)."""
    return _xpusim.list_systems()


def list_chips():
    """Names of the chip presets."""
    return _xpusim.list_chips()


def list_models():
    """Names of the shipped models (`xpusim list models`); run() also takes a Hugging Face config.json path."""
    return _xpusim.list_models()


def list_ops():
    """Names of the kernel ops (`xpusim list ops`)."""
    return _xpusim.list_ops()


from .trace import Trace, to_perfetto  # noqa: E402,F401  (trace replay, Perfetto export)
from . import plots  # noqa: E402,F401  (matplotlib, imported lazily inside the functions)
from .functional import functional  # noqa
from .session import Session  # noqa: E402,F401
from .sweep_spec import SpecError, load_spec  # noqa: E402,F401  (sweep specs)
from .sweeps import SweepError, SweepFailedWarning, sweep  # noqa: E402,F401  (what-if sweeps, local or on Dask)
from . import analysis  # noqa: E402,F401  (Pareto fronts, sensitivity, heat maps, the sweep report)
