"""One simulation path: the CLI and the Python module give the same number for the same question."""
import json
import os
import re

import pytest

import xpusim


def test_cli_equals_python_on_a_throttling_gemm(cli):
    dims = dict(m=2048, n=2048, k=2048, dtype="bf16")
    c = json.loads(cli("kernel", "gemm", "--chip", "h100-sxm", "--m", "2048", "--n", "2048", "--k", "2048",
                       "--dtype", "bf16", "--format", "json").stdout)
    p = xpusim.kernel("gemm", chip="h100-sxm", **dims)
    # The shape is held to a power limit in both, so the throttle is part of the comparison.
    assert c["power"]["throttled"] and p["power"]["throttled"]
    for k in ("latency_s", "tflops", "transactions", "flops"):
        assert c[k] == p[k], k
    assert c["power"]["clock_ratio"] == p["power"]["clock_ratio"]
    # % of peak is against the nominal peak; the clock it ran at is reported beside it (a burst of a few
    # microseconds runs entirely at the boost clock the electrical limit allows).
    for j in (c, p):
        assert abs(j["share_of_peak"] - j["tflops"] / j["peak_tflops"]) < 1e-12
        assert j["clock_ratio"] == j["power"]["clock_ratio"] < 1
        assert abs(j["clock_ratio"] - j["power"]["boost_clock_ratio"]) < 1e-12
        assert j["power"]["held_clock_ratio"] < j["clock_ratio"] and not j["power"]["steady_state"]
        assert abs(j["clock_mhz"] - 1830 * j["clock_ratio"]) < 1e-6


def test_cli_equals_python_sustained(cli):
    c = json.loads(cli("kernel", "gemm", "--m", "1024", "--n", "1024", "--k", "1024", "--sustained",
                       "--format", "json").stdout)
    p = xpusim.kernel("gemm", m=1024, n=1024, k=1024, sustained=True)
    assert c["latency_s"] == p["latency_s"] and c["power"] == p["power"]
    # --sustained assumes steady state: the clock held at TDP from the start.
    assert p["power"]["steady_state"] and abs(p["clock_ratio"] - p["power"]["held_clock_ratio"]) < 1e-12


def test_run_cli_equals_python(cli, tiny_model):
    args = ["--chip", "h100-sxm", "--model", tiny_model, "--phase", "decode", "--batch", "4", "--input", "64"]
    c = json.loads(cli("run", *args, "--format", "json").stdout)
    p = xpusim.run(chip="h100-sxm", model=tiny_model, phase="decode", batch=4, input=64)
    assert c["tpot_s"] == p["tpot_s"] and c["power"] == p["power"]


def test_a_cached_run_reports_what_it_stands_for(tiny_model):
    kw = dict(chip="h100-sxm", model=tiny_model, phase="decode", batch=3, input=96)
    first = xpusim.run(**kw)
    again = xpusim.run(**kw)
    assert again["cached"] and again["cached_kernels"] == again["simulated_kernels"] > 0
    for k in ("tpot_s", "transactions", "simulated_kernels", "power"):
        assert again[k] == first[k], k
    assert first["transactions"] > 0


def test_run_takes_every_scenario_flag_of_the_cli(cli, tiny_model):
    args = ["--chip", "h100-sxm", "--model", tiny_model, "--phase", "decode", "--batch", "2", "--input", "64",
            "--dtype", "fp8", "--adtype", "bf16"]
    c = json.loads(cli("run", *args, "--format", "json").stdout)
    p = xpusim.run(chip="h100-sxm", model=tiny_model, phase="decode", batch=2, input=64, dtype="fp8", adtype="bf16")
    assert p["scenario"]["adtype"] == "bf16" and c["tpot_s"] == p["tpot_s"]
    p2 = cli("run", *args, "--tp", "2", check=False)
    with pytest.raises(ValueError) as e:
        xpusim.run(chip="h100-sxm", model=tiny_model, phase="decode", batch=2, input=64, tp=2)
    assert p2.returncode == 2 and "--tp 2" in p2.stderr and "tp=2" in str(e.value)


def test_run_is_the_cli_run_for_every_keyword(cli, tiny_model, tmp_path):
    """xpusim.run() goes through `xpusim run`'s parsing and code: a run from idle (sustained=False, --from-idle),
    every rank simulated (fold=False, --no-fold) and --out give what the CLI gives."""
    args = ["--model", tiny_model, "--phase", "prefill", "--batch", "4", "--input", "128", "--system", "hgx-h100x8",
            "--tp", "2", "--dp", "4"]
    kw = dict(model=tiny_model, phase="prefill", batch=4, input=128, system="hgx-h100x8", tp=2, dp=4)
    idle = json.loads(cli("run", *args, "--from-idle", "--format", "json").stdout)
    p = xpusim.run(sustained=False, out=tmp_path / "run", **kw)
    assert idle["ttft_s"] == p["ttft_s"] and idle["power"] == p["power"] and idle["layout"] == p["layout"]
    assert not p["power"]["steady_state"]
    assert json.load(open(tmp_path / "run" / "stats.json"))["ttft_s"] == p["ttft_s"]
    assert (tmp_path / "run" / "system.resolved.yaml").exists()
    assert xpusim.run(fold=False, **kw)["ttft_s"] == xpusim.run(**kw)["ttft_s"]
    both = cli("run", *args, "--from-idle", "--after-runs", "3", check=False)
    assert both.returncode == 2 and "--from-idle and --after-runs 3" in both.stderr
    with pytest.raises(xpusim.InputError, match=r"^sustained=False and after_runs=3 "):
        xpusim.run(sustained=False, after_runs=3, **kw)


def test_a_chip_that_is_not_the_systems_is_refused_by_run_and_serve(cli, tiny_model):
    """--chip tpu-v6e --system hgx-h100x8 was refused by run but silently ignored by serve (it served H100s)."""
    for cmd in ("run", "serve"):
        p = cli(cmd, "--chip", "tpu-v6e", "--system", "hgx-h100x8", "--tp", "2", "--dp", "4", "--model", tiny_model, check=False)
        assert p.returncode == 2 and "--chip tpu-v6e with --system hgx-h100x8, whose chips are h100-sxm" in p.stderr, p.stderr
    with pytest.raises(xpusim.InputError, match="chip='tpu-v6e' with system='hgx-h100x8'"):
        xpusim.serve(chip="tpu-v6e", system="hgx-h100x8", tp=2, dp=4, model=tiny_model, requests=2)
    # Without chip=, the system's chips (the Python default is the CLI's); serve's JSON layout has run's fields
    # (it had only name, devices and replicas) and the replicas.
    served = xpusim.serve(system="hgx-h100x8", tp=2, dp=4, model=tiny_model, requests=2, input=64, output=4)["layout"]
    ran = xpusim.run(system="hgx-h100x8", tp=2, dp=4, model=tiny_model, batch=4, input=64)["layout"]
    # ... and each pool's layout when disaggregated (null here: one pool).
    assert served.pop("pools") is None
    assert served.pop("replicas") == 4 and served == ran and ran["tp"] == 2 and ran["dp"] == 4
    # serve's per-kernel breakdown gives each collective's algorithm and bytes per rank beside its share, under
    # run's key names (it had label, time and share only), and its table lists them.
    args = ["serve", "--system", "hgx-h100x8", "--tp", "2", "--dp", "4", "--model", tiny_model, "--requests", "8",
            "--input", "64", "--output", "8"]
    ks = json.loads(cli(*args, "--format", "json").stdout)["kernels"]
    coll = [k for k in ks if k["label"].endswith("allreduce")]
    assert coll and all(k["algorithm"] and k["collective_bytes"] > 0 and k["share"] > 0 for k in coll), coll
    assert all(k["algorithm"] is None and k["collective_bytes"] is None for k in ks if k["label"] == "layer.qkv_proj")
    table = cli(*args).stdout
    assert "collectives of a decode step at the best point (share of the step): embed_allreduce %s" % coll[0]["algorithm"] in table


def test_a_units_own_set_wins_over_the_general_one_in_either_order():
    """compare: `key=value` for every unit and `name:key=value` for one; that unit takes its own value whatever
    the order (before, the later of the two won; now a key given twice for one unit is refused instead)."""
    for sets in (["cost.chip_hour=2", "h100-sxm:cost.chip_hour=3"], ["h100-sxm:cost.chip_hour=3", "cost.chip_hour=2"]):
        y = xpusim._xpusim.compare_unit_config("h100-sxm", sets)["chip_yaml"]
        assert [l.strip() for l in y.splitlines() if "chip_hour" in l] == ["chip_hour: 3"], sets
        y = xpusim._xpusim.compare_unit_config("tpu-v6e", sets)["chip_yaml"]
        assert [l.strip() for l in y.splitlines() if "chip_hour" in l] == ["chip_hour: 2"], sets


def test_a_value_of_the_wrong_type_is_one_input_error_naming_flag_value_and_type(cli, tiny_model):
    """Boost's "the argument ('4.0') for option '--batch' is invalid (see xpusim --help)" said neither what was
    expected nor which command's help; from Python the same flag parsing raised a bare RuntimeError."""
    p = cli("run", "--batch", "4.0", check=False)
    assert p.returncode == 2 and p.stderr == "xpusim: error: --batch '4.0': expected an integer (see xpusim run --help)\n", p.stderr
    p = cli("serve", "--rate", "fast", check=False)
    assert p.returncode == 2 and "--rate 'fast': expected a number (see xpusim serve --help)" in p.stderr, p.stderr
    p = cli("serve", "--bogus", "1", check=False)
    assert p.returncode == 2 and "unrecognised option '--bogus' (see xpusim serve --help)" in p.stderr, p.stderr
    with pytest.raises(xpusim.InputError, match=r"^batch=4.5: expected an integer \(see help\(xpusim.run\)\)$"):
        xpusim.run(model=tiny_model, input=64, batch=4.5)
    with pytest.raises(xpusim.InputError, match=r"^tp='x': expected an integer \(see help\(xpusim.serve\)\)$"):
        xpusim.serve(model=tiny_model, tp="x")
    with pytest.raises(xpusim.InputError, match=r"^jobs='many': expected an integer \(see help\(xpusim.compare\)\)$"):
        xpusim.compare(chips="h100-sxm", model=tiny_model, jobs="many")


def test_run_and_serve_take_the_same_in_graph_collective_cost(cli):
    """A Neuron model step's collectives run inside its compiled graph (library.in_graph_launch_latency on
    inf2-48xl): `run` took that cost while `serve` still paid the 52 us of a collective timed alone, so the
    same decode step came out 8.6 ms in one and 10.1 ms in the other. Both now take it, whatever its value."""
    common = ["--system", "inf2-48xl", "--tp", "12", "--pad-heads", "24", "--model", "llama-2-13b", "--dtype", "bf16",
              "--format", "json"]
    tpots = {}
    for overlay in ([], ["--set", "library.in_graph_launch_latency=52us"]):
        ran = json.loads(cli("run", *common, "--phase", "decode", "--batch", "1", "--input", "576", *overlay).stdout)
        served = json.loads(cli("serve", *common, "--input", "576", "--output", "2", "--concurrency", "1",
                                "--requests", "1", *overlay).stdout)
        assert served["tpot_s"] == pytest.approx(ran["tpot_s"], rel=1e-3), overlay
        tpots[bool(overlay)] = ran["tpot_s"]
    # The step's 82 collectives (embedding, 2 x 40 layers' all-reduces, the logits' all-gather), 50 us more each
    assert tpots[True] - tpots[False] == pytest.approx(82 * 50e-6, rel=1e-3)


def test_session37_features_give_the_clis_numbers(cli):
    """QA of session 37's features (issue 16, one path): the A100's sm80 GEMM, the B200's NVFP4/MXFP4 GEMMs,
    sglang-jax's --page-size and DeepEP's exchange alone are the same numbers through Python as through the CLI."""
    for chip, dims, flags in [("a100-sxm", dict(m=1024, n=1024, k=1024, dtype="bf16"), []),
                              ("b200", dict(m=1024, n=2048, k=4096, dtype="fp4", fp4_scale_block=32), ["--fp4-scale-block", "32"])]:
        c = json.loads(cli("kernel", "gemm", "--chip", chip, "--m", str(dims["m"]), "--n", str(dims["n"]), "--k", str(dims["k"]),
                           "--dtype", dims["dtype"], *flags, "--format", "json").stdout)
        p = xpusim.kernel("gemm", chip=chip, **dims)
        assert (c["latency_s"], c["transactions"]) == (p["latency_s"], p["transactions"]), chip
    serve = dict(model="llama-3.1-8b", chip="tpu-v6e", scheduler="sglang-jax", page_size=64, input=256, output=16,
                 concurrency=4, requests=8)
    c = json.loads(cli("serve", "--model", "llama-3.1-8b", "--chip", "tpu-v6e", "--scheduler", "sglang-jax", "--page-size", "64",
                       "--input", "256", "--output", "16", "--concurrency", "4", "--requests", "8", "--format", "json").stdout)
    p = xpusim.serve(**serve)
    assert (c["throughput_tok_s"], c["ttft_s"], c["tpot_s"]) == (p["throughput_tok_s"], p["ttft_s"], p["tpot_s"])
    dpa = ["--system", "hgx-h100x8", "--model", "mixtral-8x7b", "--tp", "1", "--ep", "8", "--dp", "8", "--scheduler", "sglang",
           "--dp-dispatch", "minimum_tokens", "--concurrency", "16", "--requests", "32", "--input", "uniform:64:512", "--output", "16"]
    c = json.loads(cli("serve", *dpa, "--format", "json").stdout)
    p = xpusim.serve(system="hgx-h100x8", model="mixtral-8x7b", tp=1, ep=8, dp=8, scheduler="sglang", dp_dispatch="minimum_tokens",
                     concurrency=16, requests=32, input="uniform:64:512", output=16)
    assert (c["throughput_tok_s"], c["tpot_s"], c["folding"]) == (p["throughput_tok_s"], p["tpot_s"], p["folding"])
    assert "(minimum_tokens)" in p["folding"]
    a2a = dict(tokens=256, hidden=7168, topk=8, experts=256)
    c = json.loads(cli("kernel", "alltoall", *[f for k, v in a2a.items() for f in ("--" + k, str(v))], "--format", "json").stdout)
    assert c["latency_s"] == xpusim.expert_exchange(**a2a)["latency_s"]


def test_python_refuses_bad_keywords_of_session37_features_naming_key_and_value():
    """Python's own parsing of these keywords: int() took expert_exchange(tokens=1.5) as 1 and raised a bare
    ValueError on tokens="abc"; kernel("alltoall", tokens=...) ran the one-chip op and refused --tokens as
    "not an argument of alltoall", where `xpusim kernel alltoall --tokens` is DeepEP's exchange on a system (since
    session 39 it is that exchange: test_python_kernel_collectives_are_the_clis);
    a model Session with fp8 on the A100 named a GEMM's probe shape, not the dtype run names; Session(chipp=...)
    did not name the keyword."""
    for key, value in [("tokens", 1.5), ("tokens", "abc"), ("hidden", True), ("nodes", "x")]:
        with pytest.raises(xpusim.InputError, match="^%s=%r: expected an integer$" % (key, value)):
            xpusim.expert_exchange(**{"tokens": 64, key: value})
    with pytest.raises(xpusim.InputError, match=r"^collective\b|nodes='x': expected an integer"):
        xpusim.collective("allreduce", nodes="x")
    with pytest.raises(xpusim.InputError, match=r"^weights fp8 with activations fp8 \(dtype/wdtype/adtype\): a100-sxm: "):
        xpusim.Session(chip="a100-sxm", model="llama-3.1-8b", dtype="fp8")
    with pytest.raises(ValueError, match=r"kernel=<op>.*model=<name>; got chipp='a100-sxm'"):
        xpusim.Session(chipp="a100-sxm")
    for kw, text in [(dict(page_size=0), "page_size must be positive, got 0"),
                     (dict(page_size=1.5), "page_size=1.5: expected an integer"),
                     (dict(dp_dispatch="foo"), "dp_dispatch: expected round_robin, shortest_queue or minimum_tokens, got 'foo'")]:
        with pytest.raises(xpusim.InputError, match=re.escape(text)):
            xpusim.serve(scheduler="sglang-jax", concurrency=1, requests=4, **kw)


def test_python_kernel_collectives_are_the_clis(cli):
    """QA session 39 (one path, issue 16): xpusim.kernel("allreduce", ...) was the one-chip op, refused with a pointer
    at the CLI, where `xpusim kernel allreduce --bytes N` times a collective on hgx-h100x8; kernel("alltoall", tokens=)
    was refused with a pointer at expert_exchange. Now each is `xpusim kernel <op>`'s flags through the CLI's own
    parsing and run: the same number for the same question, and the CLI's refusals, word for word."""
    for op, kw in [("allreduce", dict(bytes="16MiB")), ("allgather", dict(bytes="1MiB", system="tpu-v6e-8")),
                   ("reducescatter", dict(bytes="64MiB", nodes=2, algo="ring")), ("sendrecv", dict(bytes="4KiB")),
                   ("alltoall", dict(tokens=256, hidden=7168, topk=8, experts=256, dispatch_dtype="fp8"))]:
        c = json.loads(cli("kernel", op, *[f for k, v in kw.items() for f in ("--" + k.replace("_", "-"), str(v))], "--format", "json").stdout)
        p = xpusim.kernel(op, **kw)
        assert (p["latency_s"], p["algorithm"], p["bytes"], p["ranks"]) == (c["latency_s"], c["algorithm"], c["bytes"], c["ranks"]), op
    assert xpusim.kernel("allreduce", bytes="64MiB")["latency_s"] == xpusim.collective("allreduce", bytes="64MiB")["latency_s"]
    a2a = dict(tokens=128, hidden=7168, topk=8, experts=256)
    assert xpusim.kernel("alltoall", **a2a)["latency_s"] == xpusim.expert_exchange(**a2a)["latency_s"]
    # A chip, a one-chip kernel's option or dimension, a missing size: the CLI's own one-line refusals.
    for kw, args in [(dict(chip="h100-sxm", bytes="1MiB"), ["--chip", "h100-sxm", "--bytes", "1MiB"]),
                     (dict(bytes="1MiB", dtype="fp8"), ["--bytes", "1MiB", "--dtype", "fp8"]),
                     (dict(bytes="1MiB", sustained=True), ["--bytes", "1MiB", "--sustained"]),
                     (dict(m=64), ["--m", "64"]), ({}, []), (dict(bytes="1MiB", devices=4), ["--bytes", "1MiB", "--devices", "4"]),
                     (dict(bytes="1MiB", tokens=64), ["--bytes", "1MiB", "--tokens", "64"])]:
        p = cli("kernel", "allreduce", *args, check=False)
        assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
        with pytest.raises(xpusim.InputError) as e:
            xpusim.kernel("allreduce", **kw)
        # The same refusal, its flags named as the keywords the call wrote (session 51).
        assert str(e.value) == xpusim._keyword_message(p.stderr.strip()[len("xpusim: error: "):], kw), (kw, str(e.value), p.stderr)
    assert "chip: a collective runs on a system of chips" in str(pytest.raises(xpusim.InputError, xpusim.kernel, "allreduce",
                                                                              chip="b200", bytes="1MiB").value)


def test_sglang_jax_logits_are_sized_for_the_requests_it_runs(cli):
    """QA session 39: serve sized sglang-jax's fp32 logits for --max-seqs as given (100000 x 128256 x 4 B = 51 GB on a
    32 GB tpu-v6e) where its attention backend runs one request at Llama-3.1's 128K context (page 1): the padded
    batch, and the LogitsProcessor's rows with it, are at most min(max_running_requests, max_padded_num_tokens)."""
    base = ["serve", "--chip", "tpu-v6e", "--model", "llama-3.1-8b", "--scheduler", "sglang-jax", "--input", "128", "--output", "8",
            "--concurrency", "1", "--requests", "2", "--format", "json"]
    big = json.loads(cli(*base, "--max-seqs", "100000").stdout)
    one = json.loads(cli(*base, "--max-seqs", "1").stdout)
    assert big["memory"]["activation_bytes"] == one["memory"]["activation_bytes"]
    assert big["throughput_tok_s"] == one["throughput_tok_s"]
    # At page 128 the backend runs 128 at 128K: the logits of 128 rows, not of the given 4096 nor of the default.
    paged = base + ["--page-size", "128"]
    m = {n: json.loads(cli(*paged, "--max-seqs", str(n)).stdout)["memory"]["activation_bytes"] for n in (64, 128, 4096)}
    assert m[128] == m[4096] == pytest.approx(m[64] + 4.0 * 64 * 128256)
    p = xpusim.serve(model="llama-3.1-8b", chip="tpu-v6e", scheduler="sglang-jax", input=128, output=8, concurrency=1, requests=2,
                     max_seqs=100000)
    assert p["memory"]["activation_bytes"] == big["memory"]["activation_bytes"]


def test_python_kernel_names_a_misspelt_keyword():
    """QA session 39: kernel("gemm", chipp="b200") was "unknown argument --chipp (did you mean --dtype?)"."""
    for key, hint in [("chipp", "chip"), ("sustaned", "sustained"), ("after_run", "after_runs")]:
        with pytest.raises(xpusim.InputError, match=r"^kernel gemm: unknown keyword %s=.* \(did you mean %s=\?\)$" % (key, hint)):
            xpusim.kernel("gemm", m=64, n=64, k=64, **{key: 1})
    assert xpusim.kernel("attention", phase="decode", batch=2, heads=8, seq=256)["latency_s"] > 0  # seq is not set


def test_an_unknown_kernel_argument_lists_what_the_op_takes():
    """QA (session 44): kernel("gemm", foo=3) (and `xpusim kernel gemm --foo 3` via a sweep) said only "unknown argument
    --foo", not what gemm takes; a near miss still gets its hint."""
    with pytest.raises(xpusim.InputError, match=r"^kernel gemm: foo=3 is not an argument of gemm \(it takes batch, .*m, n"):
        xpusim.kernel("gemm", m=64, n=64, k=64, foo=3)
    with pytest.raises(xpusim.InputError, match=r"^kernel gemm: unknown argument mm \(did you mean m\?\)$"):
        xpusim.kernel("gemm", m=64, n=64, k=64, mm=3)


def test_errors_from_python_name_the_keywords_the_caller_wrote(tiny_model):
    """QA (session 51): the module's calls go through the CLI's parsers and checks, whose errors quoted flags (--m,
    --kv-heads, --from-idle) where the caller had written keywords (m=, kv_heads=, sustained=False). Every entry point
    now names the keyword, with the caller's value, and points at help() instead of the CLI's --help."""
    cases = [(lambda: xpusim.kernel("gemm", m=0, n=4, k=4), "m=0: expected a positive integer"),
             (lambda: xpusim.kernel("gemm", n=4, k=4), "gemm: m is required"),
             (lambda: xpusim.kernel("attention", phase="decode", batch=1, heads=32, kv_heads=3, seq=128, head_dim=128),
              "attention: heads=32 must be a multiple of kv_heads=3"),
             (lambda: xpusim.run(model=tiny_model, sustained=False, after_runs=3), "sustained=False and after_runs=3 are two"),
             (lambda: xpusim.run(model=tiny_model, batch=0), "batch must be a positive integer, got 0"),
             (lambda: xpusim.kernel("allreduce", bytes="1MiB", algo="foo"), "algo='foo': unknown algorithm"),
             (lambda: xpusim.Session(kernel="gemm", m=0, n=4, k=4), "m=0: expected a positive integer"),
             (lambda: xpusim.serve(model=tiny_model, tp="x"), "tp='x': expected an integer (see help(xpusim.serve))")]
    for call, text in cases:
        with pytest.raises(xpusim.InputError) as e:
            call()
        assert str(e.value).startswith(text) and "--" not in str(e.value), (text, str(e.value))


def test_an_input_error_carries_its_flag_value_file_and_key(tiny_model):
    """QA (session 53): the keyword an error names was found by reading the CLI's message with a pattern; the error now
    carries the flag it is about and the value given to it (a config error: its file or --set, and its key) as data,
    set where it is raised, and Python names the keyword from them. The messages are the same."""
    e = pytest.raises(xpusim.InputError, xpusim.serve, model=tiny_model, tp="x").value
    assert (e.flag, e.value, e.file, e.key) == ("--tp", "x", None, None)
    assert str(e) == "tp='x': expected an integer (see help(xpusim.serve))"
    e = pytest.raises(xpusim.InputError, xpusim.serve, model=tiny_model, concurrency="1, x").value
    assert (e.flag, e.value) == ("--concurrency", "1, x")
    assert str(e).startswith("concurrency='1, x': ' x' is not a positive whole number of users"), str(e)  # a value with a space
    e = pytest.raises(xpusim.InputError, xpusim.serve, model=tiny_model, ttft_slo="2h").value
    assert (e.flag, e.value) == ("--ttft-slo", "2h") and str(e).startswith("ttft_slo='2h': "), str(e)
    # A preset's key: through --set, and in a chip file.
    e = pytest.raises(xpusim.InputError, xpusim.kernel, "gemm", m=64, n=64, k=64, set={"hbm.bandwith": "4TB/s"}).value
    assert (e.flag, e.key, e.file) == ("--set", "hbm.bandwith", None), str(e)
    bad = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "presets", "bad_key.yaml")
    e = pytest.raises(xpusim.InputError, xpusim.kernel, "gemm", chip=bad, m=64, n=64, k=64).value
    assert (e.flag, e.key) == (None, "hbm.bandwith") and "bad_key.yaml" in e.file, (e.file, str(e))
    # An error Python raises itself carries the keyword it is about as its flag too (qa56; it said nothing of it).
    e = pytest.raises(xpusim.InputError, xpusim.kernel, "gemm", chipp="b200").value
    assert (e.flag, e.value, e.file, e.key) == ("--chipp", "b200", None, None)
