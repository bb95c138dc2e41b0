"""The CLI: JSON fields, result files, bad input (one line, non-zero exit, nothing half-written)."""
import json
import os
import re

import h5py
import numpy as np
import pytest
import xpusim


def test_json_fields(cli):
    j = json.loads(cli("kernel", "gemm", "--m", "2048", "--n", "2048", "--k", "2048", "--format", "json").stdout)
    assert j["chip"] == "h100-sxm" and j["op"] == "gemm"
    assert j["latency_s"] > 0 and j["tflops"] > 0 and j["transactions"] > 0
    assert j["kernels"][0]["bound"] == "compute"
    assert j["latency_s"] >= j["roofline_s"]


def test_out_dir_with_trace(cli, tmp_path):
    out = tmp_path / "run"
    cli("kernel", "gemm", "--m", "256", "--n", "256", "--k", "512", "--out", str(out), "--trace")
    assert sorted(os.listdir(out)) == ["config.resolved.yaml", "stats.json", "trace.h5"]
    stats = json.loads((out / "stats.json").read_text())
    with h5py.File(out / "trace.h5") as f:
        t = f["transactions"][:]
        assert len(t) == stats["transactions"]
        assert set(t.dtype.names) >= {"start_ps", "end_ps", "unit", "kind", "bytes", "flops", "kernel"}
        assert np.all(t["end_ps"] >= t["start_ps"])
        assert "hbm:" in f.attrs["config"]
        assert len(f["units"]) > 0
    assert "bandwidth: 3.35 TB/s" in (out / "config.resolved.yaml").read_text()


def test_serve_out_dir(cli, tmp_path):
    """serve --out DIR as run --out: config.resolved.yaml, stats.json (the JSON --format json prints, with run's
    empty "stats") and, on a system, system.resolved.yaml with the --set overrides in it."""
    serve = ["serve", "--model", "llama-3.1-8b", "--input", "256", "--output", "16", "--requests", "8", "--concurrency", "4",
             "--format", "json"]
    out = tmp_path / "one"
    p = cli(*serve, "--out", str(out))
    assert sorted(os.listdir(out)) == ["config.resolved.yaml", "stats.json"]
    stats = json.loads((out / "stats.json").read_text())
    assert stats.pop("stats") == {}
    assert stats == json.loads(p.stdout)
    assert "bandwidth: 3.35 TB/s" in (out / "config.resolved.yaml").read_text()
    for cmd, extra in [(serve, []), (["run", "--model", "llama-3.1-8b", "--input", "256", "--format", "json"], [])]:
        out = tmp_path / cmd[0]
        p = cli(*cmd, *extra, "--system", "hgx-h100x8", "--tp", "8", "--set", "scale_up.link.bandwidth=225GB/s",
                "--set", "hbm.bandwidth=3TB/s", "--out", str(out))
        assert sorted(os.listdir(out)) == ["config.resolved.yaml", "stats.json", "system.resolved.yaml"], cmd
        assert "    bandwidth: 225 GB/s" in (out / "system.resolved.yaml").read_text()
        assert "bandwidth: 3 TB/s" in (out / "config.resolved.yaml").read_text()
        stats = json.loads((out / "stats.json").read_text())
        stats.pop("stats")
        assert stats == json.loads(p.stdout), cmd


def test_bad_input_one_line_nonzero_and_nothing_written(cli, tmp_path):
    out = tmp_path / "bad"
    cases = [
        (["kernel", "gemm", "--chip", "h101", "--m", "1", "--n", "1", "--k", "1"], "valid chips"),
        (["kernel", "gemm", "--m", "-4", "--n", "1", "--k", "1"], "positive"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--dtype", "fp5"], "valid dtypes"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--dtype", "fp4"], "fp4"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "hbm.bandwith=1TB/s"], "nearest valid key"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "hbm.bandwidth=fast"], "hbm.bandwidth"),
        # A power or cost figure without its section names the full key (it suggested 'name' for 'tdp').
        (["kernel", "gemm", "--chip", "maia200", "--m", "4", "--n", "4", "--k", "4", "--set", "tdp=100W"],
         "--set tdp: unknown key (did you mean power.tdp? power figures are under 'power.')"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "chip_hour=3"], "did you mean cost.chip_hour?"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "clock=1GHz"], "nearest valid key: sm.clock"),
        (["run", "--model", "llama-3.1-8b", "--system", "hgx-h100x8", "--tp", "8", "--set", "tdp=300W"],
         "nearest valid key: power.tdp"),
        # The hint lists the dtypes the chip's tensor cores run (it named bf16/fp8 only, not tf32); Hopper has no FP6
        # (it ran at the FP8 rate on every GPU with FP8).
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--dtype", "fp32"], "(use bf16, fp16, fp8, int8 or tf32)"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--dtype", "fp6"], "no fp6 tensor-core path"),
        # A --set value error names the key once ("--set hbm.bandwidth: hbm.bandwidth: ..." before).
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "hbm.bandwidth=-1GB/s"], "--set hbm.bandwidth: '-1"),
        # A negative seed wrapped to 2^64 - 1 (Boost's unsigned option) and ran.
        (["serve", "--model", "llama-3.1-8b", "--requests", "4", "--seed", "-1"], "--seed -1: expected an integer of 0 or more"),
        # serve's capacity is the chip's less its scheduler's activations: the message says so (run's 85.52 GB, serve's 83.32).
        (["serve", "--model", "llama-3.1-70b", "--requests", "4", "--dtype", "bf16"],
         "is available (85.52 GB less 2.203 GB of activations for the scheduler's largest iteration: --token-budget 8192, --max-seqs 1024)"),
        # A closed loop of more users than requests: its row was the smaller loop's under the larger name.
        (["serve", "--model", "llama-3.1-8b", "--concurrency", "4,64", "--requests", "16"],
         "--requests 16 is fewer than --concurrency 64: at most 16 users are ever in flight"),
        # The model's limits on the layout come before the layout's on the batch (--batch 1 over --dp 2 was named first).
        (["run", "--model", "llama-3.1-8b", "--system", "hgx-h100x8", "--tp", "3", "--dp", "2"], "--tp 3 does not divide llama-3.1-8b's 32"),
        # Options that were silently ignored: routing of a dense model, a drafter without draft tokens,
        # the same serving limit given twice with two values.
        (["run", "--model", "llama-3.1-8b", "--routing", "zipf:1"], "--routing zipf:1: llama-3.1-8b has no experts"),
        (["run", "--model", "llama-3.1-8b", "--routing", "even"], "--routing even: llama-3.1-8b has no experts"),
        (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--heads", "8"], "--heads '8' is not an argument of gemm"),
        # A dtype the chip cannot run names the flags (it once gave the first GEMM's lowering error and shape).
        (["run", "--model", "llama-3.1-8b", "--dtype", "fp4"], "weights fp4 with activations fp8 (--dtype/--wdtype/--adtype): h100-sxm: no fp4"),
        (["run", "--chip", "tpu-v5e", "--model", "llama-3.1-8b", "--dtype", "fp8"], "(--dtype/--wdtype/--adtype): tpu-v5e:"),
        (["kernel", "rmsnorm", "--rows", "4", "--cols", "64", "--seq", "3"], "--seq '3' is not an argument of rmsnorm"),
        (["kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB", "--stage", "combine"], "--stage"),
        (["kernel", "alltoall", "--system", "hgx-h100x8", "--bytes", "1MiB", "--dispatch-dtype", "fp8"], "--dispatch-dtype"),
        (["kernel", "alltoall", "--system", "hgx-h100x8", "--bytes", "1MiB", "--expert-groups", "4"], "--expert-groups"),
        # --overlap on one chip: no collective to overlap (it was accepted and ignored).
        (["run", "--model", "llama-3.1-8b", "--overlap"], "--overlap: overlaps collectives with compute on a system of chips"),
        # serve --out as run --out: a refused study writes nothing.
        (["serve", "--model", "llama-3.1-8b", "--spec-method", "draft", "--requests", "4"], "--spec-tokens"),
        (["serve", "--model", "llama-3.1-8b", "--requests", "4", "--set", "hbm.bandwith=1TB/s"], "nearest valid key: hbm.bandwidth"),
        # A system field on one chip; a key of neither preset on a system names the nearest field of both.
        (["run", "--model", "llama-3.1-8b", "--set", "scale_up.link.bandwidth=225GB/s"],
         "--set scale_up.link.bandwidth: a field of a system preset (xpusim params system), but this runs on one chip"),
        (["serve", "--model", "llama-3.1-8b", "--requests", "4", "--set", "library.channels=4"], "--set library.channels: a field of a system"),
        (["run", "--model", "llama-3.1-8b", "--system", "hgx-h100x8", "--tp", "8", "--set", "scale_upp.link.bandwidth=1TB/s"],
         "--set scale_upp.link.bandwidth: unknown key, neither a field of h100-sxm (xpusim params gpu) nor of the system "
         "(xpusim params system); nearest valid key: scale_up.link.bandwidth"),
        (["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100x8", "--tp", "8", "--set", "scale_up.link.bandwith=1TB/s"],
         "nearest valid key: scale_up.link.bandwidth"),
    ]
    for args, expect in cases:
        p = cli(*args, "--out", str(out), check=False)
        assert p.returncode != 0, args
        assert expect in p.stderr, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not out.exists()


def test_serve_refuses_options_it_would_ignore(cli):
    for args, expect in [
        (["--spec-method", "draft", "--requests", "4"], "--spec-tokens"),
        (["--max-batch", "4", "--max-seqs", "8"], "--max-seqs 8 and --max-batch 4"),
        (["--dtype", "fp4"], "weights fp4 with activations fp8 (--dtype/--wdtype/--adtype): h100-sxm"),
        # An iteration budget whose activations crowd out the cache names the budget (it once said
        # "-17.4 GB is available" and advised a larger system).
        (["--token-budget", "1000000"], "(--token-budget 1000000 tokens, --max-seqs 1024 sequences' logits) take"),
        (["--overlap", "--requests", "4"], "--overlap: overlaps collectives with compute on a system of chips"),
    ]:
        p = cli("serve", "--model", "llama-3.1-8b", *args, check=False)
        assert p.returncode == 2 and expect in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
        assert not re.search(r"-[0-9.]+ [kMGT]?B", p.stderr), p.stderr  # no negative sizes
    # The module checks max_batch as the CLI checks --max-batch (10**7 once reached the memory check).
    with pytest.raises(xpusim.InputError, match="^max_batch=10000000: expected 1 to 65536"):
        xpusim.serve(model="llama-3.1-8b", requests=4, concurrency=2, max_batch=10**7)


def test_sglang_jax_token_budget_stops_at_its_largest_token_padding(cli):
    """sglang-jax runs no forward pass beyond its largest compiled token padding, min(max_prefill_tokens 16384,
    chunked_prefill_size) (sgl-project/sglang-jax tp_worker.py get_max_padded_size): a --token-budget above it
    schedules 16384 tokens an iteration and sizes the activations for them. With --token-budget 10000000 this
    server was refused for 10M tokens of activations (QA session 39); SGLang on GPUs keeps the budget given."""
    args = ("serve", "--chip", "tpu-v6e", "--scheduler", "sglang-jax", "--max-seqs", "100000", "--input", "128", "--output", "8")
    big = json.loads(cli(*args, "--token-budget", "10000000", "--format", "json").stdout)
    cap = json.loads(cli(*args, "--token-budget", "16384", "--format", "json").stdout)
    assert big["scheduler"]["token_budget"] == 16384, big["scheduler"]
    assert big["memory"] == cap["memory"] and big["memory"]["kv_tokens"] > 0, (big["memory"], cap["memory"])


def test_help_teaches(cli):
    assert "xpusim kernel gemm" in cli("--help").stdout
    assert "--m" in cli("kernel", "--help").stdout
    # Every command answers --help (list once took it for a topic).
    for cmd in ("run", "serve", "compare", "validate", "params", "list"):
        p = cli(cmd, "--help")
        assert "usage" in p.stdout and not p.stderr, cmd
    # ... also after their argument (QA session 49: `params gpu --help` was "unexpected argument '--help'").
    for args in (("params", "gpu", "--help"), ("list", "chips", "-h")):
        p = cli(*args)
        assert "usage" in p.stdout and not p.stderr, args
    p = cli("params", "gpu").stdout
    assert "hbm.bandwidth" in p and "sm.mma_efficiency" in p
    # compare's help showed serve's defaults (--model llama-3.1-8b, --input 1024, under "serve:"), which compare
    # does not use: its study's models and dtype and its scenario's lengths are the defaults.
    h = " ".join(cli("compare", "--help").stdout.split())
    assert "compare: --model arg (=the study's models)" in h and "--input arg (=the scenario's)" in h, h
    assert "(=llama-3.1-8b)" not in h and "serve:" not in h and "(=1024)" not in h
    assert "--model arg (=llama-3.1-8b)" in " ".join(cli("serve", "--help").stdout.split())
    assert "one serving unit of each family per model" in cli("--help").stdout
    # run's help names every keyword of xpusim.run() that is no scenario flag: the one path takes them as flags.
    h = cli("run", "--help").stdout
    assert "--from-idle" in h and "--no-fold" in h and "--out" in h


def test_options_that_look_ignored_say_what_they_do(cli):
    """--output with --phase prefill sizes the memory check's KV cache, and --pad-heads at --tp 1 pads a chip's
    own cores' heads (found accepted by a QA round): the help says so, and both change the answer."""
    h = " ".join(cli("run", "--help").stdout.split())
    assert "with --phase prefill they only size the KV cache of the memory check" in h
    assert "also at --tp 1, a chip's own cores" in h
    p = cli("run", "--model", "llama-3.1-8b", "--phase", "prefill", "--batch", "64", "--input", "1024", "--output", "120000",
            check=False)
    assert p.returncode == 2 and "batch 64 x (1024 + 120000) tokens does not fit" in p.stderr, p.stderr
    tpot = {n: json.loads(cli("run", "--chip", "trn1", "--model", "llama-3.1-8b", "--input", "128", "--pad-heads", n,
                              "--format", "json").stdout)["tpot_s"] for n in ("0", "2", "3")}
    assert tpot["2"] == tpot["0"] < tpot["3"]  # 2 cores split the 8 KV heads; 3 pad 32 heads to 33, KV replicated


def test_list_chips(cli):
    assert "h100-sxm" in cli("list", "chips").stdout


def test_python_overlap_needs_a_system():
    """xpusim.run(overlap=True) on one chip is refused as `run --overlap` is; on a system it runs."""
    import xpusim
    with pytest.raises(xpusim.InputError, match="^overlap: overlaps collectives"):
        xpusim.run(model="llama-3.1-8b", chip="h100-sxm", overlap=True)
    assert xpusim.run(model="llama-3.1-8b", system="hgx-h100x8", tp=8, overlap=True)["tpot_s"] > 0


def test_table_columns_keep_a_space(cli):
    """A label or default as wide as its column ran into the next one: tpu-v6e's kernel table printed
    "utilization tc.mxu0_weights6.9%", and `params` printed "hbm_channelsDRAM implementation"."""
    t = cli("kernel", "gemm", "--chip", "tpu-v6e", "--m", "64", "--n", "64", "--k", "64").stdout
    rows = [line for line in t.splitlines() if line.strip().startswith("utilization ")]
    assert rows and all(re.fullmatch(r"  utilization \S+ +[0-9.]+%(  +\S.*)?", line) for line in rows), rows
    for family in ("gpu", "tpu", "trainium", "maia"):
        p = cli("params", family).stdout
        assert re.search(r"^hbm\.model +text +hbm_channels +DRAM implementation", p, re.M), family
    assert re.search(r"^field +unit +default +meaning$", cli("params", "system").stdout, re.M)


def test_maia_has_one_tdp(cli):
    """Maia presets had a top-level `tdp` beside `power.tdp` that nothing read: --set tdp=100W on maia200 was
    accepted and changed nothing. It is refused now; power.tdp is the field the power manager reads."""
    p = cli("kernel", "gemm", "--chip", "maia200", "--m", "64", "--n", "64", "--k", "64", "--set", "tdp=100W",
            check=False)
    assert p.returncode == 2 and "--set tdp: unknown key" in p.stderr, p.stderr
    params = cli("params", "maia").stdout
    assert not re.search(r"^tdp ", params, re.M) and re.search(r"^power\.tdp ", params, re.M)


def test_chip_descriptions_state_hbm_in_gib(cli):
    """Capacities are binary (README): `list chips` said "32 GB HBM" for tpu-v6e, whose run prints its
    32 GiB as 34.36 GB, and likewise for tpu-v5e, maia100 and maia200. Every description gives its HBM in
    GiB, within 1% of the preset's hbm.capacity."""
    for chip in xpusim.list_chips():
        line = next(l for l in cli("list", "chips").stdout.splitlines() if l.split()[0] == chip)
        m = re.search(r"([0-9.]+) (GiB|GB|TB|TiB) HBM", line)
        assert m and m.group(2) == "GiB", line
        cfg = xpusim.chip_config(chip)
        cap = re.search(r"^hbm:\n(?:  .*\n)*?  capacity: ([0-9.]+) (GiB|MiB)", cfg, re.M)
        gib = float(cap.group(1)) / (1024 if cap.group(2) == "MiB" else 1)
        assert abs(float(m.group(1)) / gib - 1) < 0.01, (chip, m.group(1), gib)


def test_dtype_errors_name_the_flag(cli):
    """An unknown dtype was reported without its flag ("unknown dtype 'fp9'") by kernel, run, serve and
    compare; only run --kvdtype named it."""
    cases = [(["kernel", "gemm", "--m", "8", "--n", "8", "--k", "8", "--dtype", "fp9"], "--dtype: unknown dtype 'fp9'"),
             (["kernel", "gemm", "--m", "8", "--n", "8", "--k", "8", "--wdtype", "fp9"], "--wdtype: unknown dtype"),
             (["kernel", "gemm", "--m", "8", "--n", "8", "--k", "8", "--odtype", "fp9"], "--odtype: unknown dtype"),
             (["run", "--dtype", "fp9"], "--dtype: unknown dtype 'fp9'"),
             (["serve", "--dtype", "fp9"], "--dtype: unknown dtype 'fp9'"),
             (["compare", "--dtype", "fp9", "--chips", "h100-sxm"], "--dtype: unknown dtype 'fp9'")]
    for args, msg in cases:
        p = cli(*args, check=False)
        assert p.returncode == 2 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)


def test_kernel_help_explains_every_dimension(cli):
    """`xpusim kernel --help` listed 26 of its 28 op dimensions (--seq-q, --page-size, --label, ...) with no
    word on what they size or their default."""
    h = cli("kernel", "--help").stdout
    dims = h[h.index("op dimensions:"):h.index("output:")]
    bare = [line.strip() for line in dims.splitlines()[1:] if re.fullmatch(r"  --[a-z-]+( arg| \[=arg\(=true\)\])?", line)]
    assert not bare, bare
    assert "tokens per KV-cache page (default 16)" in " ".join(dims.split())


def test_a_missing_dimension_is_required_not_zero(cli):
    """`kernel gemm` without --k said "--k must be a positive integer, got 0" for a flag never given."""
    p = cli("kernel", "gemm", "--chip", "h100-sxm", "--m", "4", "--n", "4", check=False)
    assert p.returncode == 2 and p.stderr.strip() == "xpusim: error: gemm: --k is required (a positive integer)", p.stderr


def test_power_times_that_did_not_happen_are_null(cli):
    """kernel/run JSON wrote -1 for a boost that was never cut, a TDP average never reached and no warm-up
    (power.boost_ends_s, limit_reached_s, after_runs), where serve's power_manager writes null for the same
    boost_ends_s: a reader could take -1 s for a time."""
    j = json.loads(cli("kernel", "gemm", "--chip", "tpu-v6e", "--m", "64", "--n", "64", "--k", "64", "--format", "json").stdout)
    p = j["power"]
    assert p["after_runs"] is None and p["boost_ends_s"] is None and p["limit_reached_s"] is None, p
    warm = json.loads(cli("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--after-runs", "3", "--format", "json").stdout)
    assert warm["power"]["after_runs"] == 3


def test_params_refuses_extra_arguments(cli):
    # `params gpu --format json` printed the table and exited 0: the words after the family were dropped.
    for args in (["gpu", "--format", "json"], ["system", "--bogus"], ["tpu", "maia"]):
        p = cli("params", *args, check=False)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and not p.stdout and len(lines) == 1, (args, p.stdout[:200], p.stderr)
        assert "params %s: unexpected argument '%s'" % (args[0], args[1]) in lines[0], lines


def test_params_of_a_chip_names_its_family(cli):
    # `xpusim params h100-sxm` (a chip where a family is asked) said "unknown chip family 'h100-sxm'; families: gpu,
    # tpu, trainium, maia", leaving the user to guess which (QA qa48): now it names the chip's family.
    for chip, fam in (("h100-sxm", "gpu"), ("trn2", "trainium"), ("tpu-v6e", "tpu")):
        p = cli("params", chip, check=False)
        assert p.returncode == 2 and not p.stdout and p.stderr.count("\n") == 1, p.stderr
        assert "'%s' is a chip, not a chip family: its family is %s (" % (chip, fam) in p.stderr, p.stderr
        assert "xpusim params %s lists its fields" % fam in p.stderr
    p = cli("params", "gpux", check=False)
    assert p.returncode == 2 and "unknown chip family 'gpux' (did you mean gpu?)" in p.stderr, p.stderr


def test_help_mentions_only_flags_that_exist(cli):
    # serve's help said "--dp: data-parallel replicas (--batch is split over them)", and serve has no --batch;
    # its --max-batch said "(default 512)", compare's default, where serve's is the scheduler's.
    elsewhere = {"--sustained", "--enable-two-batch-overlap"}  # kernel's flag and SGLang's, named as such
    for cmd in (["run"], ["serve"], ["compare"], ["validate"], ["kernel", "allreduce"]):
        text = cli(*cmd, "--help").stdout
        options = set(re.findall(r"^\s+(?:-\w \[ )?(--[a-z0-9-]+)", text, re.M))
        for line in text.splitlines():
            for m in re.finditer(r"--[a-z][a-z0-9-]*", line):
                flag = m.group(0)
                cut = m.end() == len(line.rstrip())  # a name wrapped onto the next line
                known = options | elsewhere
                assert flag in known or (cut and any(k.startswith(flag) for k in known)), (cmd, flag, line)
        # Every option says what it does: `kernel allreduce --help` listed a bare "--op arg" (the words'
        # catch-all, which no one types).
        bare = re.findall(r"^  (?:-\w \[ )?--[a-z0-9-]+(?: \])?(?: arg)?(?: \(=[^)]*\))?[ \t]*$", text, re.M)
        assert not bare, (cmd, bare)
    serve = " ".join(cli("serve", "--help").stdout.split())
    assert "--max-batch arg same as --max-seqs (default: the scheduler's)" in serve, serve
    # The default requests: it said "256 open loop, 4 x max-seqs offline", which --dp multiplies (per replica),
    # and not the closed loop's floor of 64.
    assert "(default: 4 x concurrency, at least 64; open loop 256 and offline 4 x max-seqs per data-parallel replica)" in serve, serve
    assert "compare sweeps concurrency up to it (default 512)" in " ".join(cli("compare", "--help").stdout.split())


def test_stray_words_are_refused_not_dropped(cli, tiny_model):
    # `run extra`, `serve --concurrency 1 4` and `--set a=1 b=2` ran with the stray word silently dropped (Boost
    # keeps a word that no option takes as a positional token, which nothing read): the second --set was lost.
    cases = [(["run", "--model", tiny_model, "extra"], "run: unexpected argument 'extra'"),
             (["run", "--model", tiny_model, "--set", "hbm.bandwidth=4TB/s", "sm.count=66"],
              "run: unexpected argument 'sm.count=66'"),
             (["serve", "--model", tiny_model, "--concurrency", "1", "4"], "serve: unexpected argument '4'"),
             (["compare", "--chips", "h100-sxm", "tpu-v6e"], "compare: unexpected argument 'tpu-v6e'"),
             (["validate", "K01"], "validate: unexpected argument 'K01'"),
             (["validate", "--collectives", "az-h100"], "validate: unexpected argument 'az-h100'"),
             (["kernel", "allreduce", "--bytes", "1MiB", "4MiB"], "kernel allreduce: unexpected argument '4MiB'")]
    for args, message in cases:
        p = cli(*args, check=False)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and not p.stdout and len(lines) == 1 and message in lines[0], (args, p.stdout[:300], p.stderr)


def test_validate_collectives_has_help_and_checks_its_format(cli):
    # `validate --collectives --help` was "unrecognised option '--help'", `validate --help` did not name
    # --collectives, and `validate --collectives --format xml` printed the table.
    p = cli("validate", "--collectives", "--help")
    assert "usage: xpusim validate --collectives" in p.stdout and "--filter" in p.stdout and not p.stderr
    assert "--collectives" in cli("validate", "--help").stdout
    p = cli("validate", "--collectives", "--filter", "az-h100-001", "--format", "xml", check=False)
    assert p.returncode == 2 and not p.stdout and "--format 'xml'" in p.stderr and len(p.stderr.splitlines()) == 1, p
    assert "1 of 1 rows modeled" in cli("validate", "--collectives", "--filter", "az-h100-001").stdout


def test_run_json_writes_null_for_a_time_the_run_did_not_have(cli, tiny_model):
    # A decode step wrote "ttft_s": 0.0 and a prefill "tpot_s": 0.0, as if those times had been measured as zero.
    def run(*extra):
        return json.loads(cli("run", "--model", tiny_model, "--batch", "2", "--input", "64", "--format", "json", *extra).stdout)
    decode, prefill, request = run("--phase", "decode"), run("--phase", "prefill"), run("--phase", "request", "--output", "3")
    assert decode["ttft_s"] is None and decode["tpot_s"] > 0, decode["ttft_s"]
    assert prefill["tpot_s"] is None and prefill["ttft_s"] > 0, prefill["tpot_s"]
    assert request["ttft_s"] > 0 and request["tpot_s"] > 0
    assert xpusim.run(model=tiny_model, batch=2, input=64)["ttft_s"] is None  # the module: the same report


def test_every_kernel_op_is_listed_and_a_collective_table_says_what_its_times_are(cli):
    # `list ops` and `kernel --help` left out broadcast and sendrecv, which `kernel` runs; the collective table
    # printed "latency_s 23.57 us" (a JSON key with another unit) and the algorithms' estimates as if simulated.
    listed = cli("list", "ops").stdout.split()
    assert {"broadcast", "sendrecv", "allreduce", "gemm"} <= set(listed), listed
    assert "broadcast, sendrecv" in cli("kernel", "--help").stdout
    t = cli("kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB").stdout
    assert "latency_s" not in t and re.search(r"^  latency +[\d.]+ [mun]?s \(simulated\)$", t, re.M), t
    assert re.search(r"^  considered \(estimate\) ring/", t, re.M), t


def test_roofline_ratio_is_a_number_and_a_host_bound_ttft_is_explained(cli):
    # The ratio was to_string's first five characters: "1208." for a tiny fp4 GEMM on Maia 200.
    t = cli("kernel", "gemm", "--chip", "maia200", "--m", "64", "--n", "64", "--k", "64", "--dtype", "fp4").stdout
    ratio = re.search(r"simulated / roofline = ([^)]*)\)", t).group(1)
    assert re.fullmatch(r"\d+(\.\d+)?", ratio) and float(ratio) >= 1, t
    # sglang-jax's page-table build of each prefill (padded to its largest batch x the model's context) held a
    # long TTFT most of the run, but in few iterations: the host line, shown above half the iterations, was not.
    # At --page-size 128 its 128 running requests (the attention backend's bound at 128K) make each prefill's table
    # 33 ms, 55% of a run of 4-token answers.
    base = ("serve", "--chip", "tpu-v6e", "--devices", "4", "--tp", "4", "--model", "llama-3.1-8b", "--scheduler", "sglang-jax",
            "--concurrency", "4", "--requests", "16", "--input", "128")
    s = cli(*base, "--output", "4", "--page-size", "128").stdout
    assert re.search(r"^  host: .* the chip waited for it \d+% of the run$", s, re.M), s
    # At its default page size 1 the same backend runs one 128K-context request at a time: a one-row table, a
    # TTFT of milliseconds (it was 1 s with 4096 rows), the clients queueing behind each other.
    d = json.loads(cli("serve", "--chip", "tpu-v6e", "--model", "llama-3.1-8b", "--scheduler", "sglang-jax", "--concurrency", "1",
                       "--requests", "4", "--input", "128", "--output", "16", "--format", "json").stdout)
    assert d["scheduler"]["max_seqs"] == 1 and d["scheduler"]["page_tokens"] == 0, d["scheduler"]
    assert 1e-3 < d["ttft_s"] < 20e-3, d["ttft_s"]
    # Its power column is one chip's (57 W of a 4-chip TP4, whose J/token counts all four) and said "power W".
    head = next(l for l in s.splitlines() if l.strip().startswith("conc "))
    assert " W/chip " in head and "power W" not in head, head


def test_dma_queue_utilization_says_it_is_issue_time(cli):
    """TPU tc.dma_in/tc.dma_out count only the copies' issue time (0.0% in a 1024^3 GEMM that copies all the
    time, the data's 56% being mem.dma0): the table says so beside the unit and the JSON keeps its keys with
    `utilization_notes`; Trainium's and Maia's queues and the GPU's TMA likewise."""
    gemm = ("kernel", "gemm", "--m", "1024", "--n", "1024", "--k", "1024")
    t = cli(*gemm, "--chip", "tpu-v6e").stdout
    assert re.search(r"^  utilization tc\.dma_in +[0-9.]+% +issue only: .*mem\.dma<core>", t, re.M), t
    assert re.search(r"^  utilization mem\.dma0 +[0-9.]+% +streaming time of TensorCore 0's copies", t, re.M), t
    assert re.search(r"^  utilization tc\.mxu0 +[0-9.]+%$", t, re.M), t  # a compute engine: no note
    j = json.loads(cli(*gemm, "--chip", "tpu-v6e", "--format", "json").stdout)
    assert {"tc.dma_in", "tc.dma_out", "mem.dma0"} <= set(j["utilization"]), j["utilization"]
    assert j["utilization_notes"]["tc.dma_out"].startswith("issue only") and "tc.mxu0" not in j["utilization_notes"]
    for chip, unit in (("trn2", "core.dma_in"), ("maia200", "tile.tdma"), ("h100-sxm", "sm.tma")):
        j = json.loads(cli(*gemm, "--chip", chip, "--format", "json").stdout)
        assert j["utilization_notes"][unit].startswith("issue only"), (chip, j["utilization_notes"])


def test_list_chips_gives_every_tdp(cli):
    """`list chips` gave a TDP (in the description) for the GPUs and maia200 only; every preset has power.tdp,
    now in a column of its own, marked (assumed) where the preset's comment says it is not published."""
    t = cli("list", "chips").stdout
    rows = {line.split()[0]: line for line in t.splitlines()[1:] if line and not line.startswith("(")}
    assert re.search(r"^chip +family +TDP +description$", t, re.M), t
    # Maia 100 is designed for 700 W and provisioned at 500 W (the limit the power model holds): both, sourced.
    assert re.match(r"maia100 +maia +500 W \(design 700 W\) +Microsoft", rows["maia100"]), rows["maia100"]
    assert "(design): the chip's design TDP" in t
    assert re.match(r"tpu-v4 +tpu +192 W +Google", rows["tpu-v4"]), rows["tpu-v4"]  # [GCP-v4] measured maximum
    assert re.match(r"tpu-v7 +tpu +1000 W \(assumed\) +Google", rows["tpu-v7"]), rows["tpu-v7"]
    assert re.match(r"trn2 +trainium +500 W \(assumed\) +AWS", rows["trn2"]), rows["trn2"]
    assert re.match(r"inf2 +trainium +300 W \(assumed\) +AWS", rows["inf2"]), rows["inf2"]  # inherited from trn1
    assert re.match(r"h200 +gpu +700 W +NVIDIA", rows["h200"]), rows["h200"]
    assert "(assumed): no published TDP" in t


def test_list_chips_says_the_tdp_once(cli):
    """The GPU and maia200 descriptions end in their TDP (", 700 W"), which the TDP column now gives: the table
    drops it from the description (the preset keeps it)."""
    rows = {l.split()[0]: l for l in cli("list", "chips").stdout.splitlines()[1:] if l and not l.startswith("(")}
    for chip, tdp in [("h100-sxm", "700 W"), ("h200", "700 W"), ("a100-sxm", "400 W"), ("b200", "1000 W"), ("maia200", "750 W")]:
        assert rows[chip].count(tdp) == 1 and not rows[chip].endswith(", " + tdp), rows[chip]
    assert rows["h100-sxm"].endswith("80 GiB HBM3 at 3.35 TB/s"), rows["h100-sxm"]


def test_a_name_far_from_every_candidate_gets_no_hint(cli):
    """QA session 42: `compare --chips foo` said "did you mean b200?" (nearest_of always named the nearest, though
    documented to give none when nothing is close); a near miss keeps its hint, a far one is named alone."""
    for args, hint in [(["compare", "--chips", "h100-sx", "--model", "llama-3.1-8b"], "(did you mean h100-sxm?)"),
                       (["compare", "--chips", "foo", "--model", "llama-3.1-8b"], None),
                       (["kernel", "gemm", "--chip", "foo", "--m", "4", "--n", "4", "--k", "4"], None),
                       (["kernel", "gemm", "--chip", "h200x", "--m", "4", "--n", "4", "--k", "4"], "(did you mean h200?)"),
                       (["serve", "--model", "llama-3.1-8b", "--scheduler", "qqqqqq"], None),
                       (["serve", "--model", "llama-3.1-8b", "--scheduler", "vlm"], "(did you mean vllm?)"),
                       (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "zzzz.qqqq=1"], None),
                       (["kernel", "gemm", "--m", "4", "--n", "4", "--k", "4", "--set", "hbm.bandwith=1TB/s"],
                        "nearest valid key: hbm.bandwidth"),
                       (["run", "--model", "llama-3.1-8b", "--system", "hgx-h100x8", "--tp", "8", "--set", "zzzz.qqqq=1"], None)]:
        p = cli(*args, check=False)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
        if hint:
            assert hint in p.stderr, (args, p.stderr)
        else:
            assert "did you mean" not in p.stderr and "nearest" not in p.stderr, (args, p.stderr)


def test_kernel_op_hint_prefers_the_name_a_typo_abbreviates(cli):
    """`kernel attn` suggested "gemm" (four edits away; "attention" is five): a word whose letters the op's name
    has in order, from its first, abbreviates it."""
    for typo, hint in [("attn", "attention"), ("rmsnrm", "rmsnorm"), ("gem", "gemm"), ("atention", "attention")]:
        p = cli("kernel", typo, check=False)
        assert p.returncode != 0 and f"(did you mean {hint}?)" in p.stderr, (typo, p.stderr)


def test_decode_attention_is_not_tagged_causal(cli):
    """A one-token decode query attends to every cached key: reports tagged it "causal" even without --causal."""
    attn = ["kernel", "attention", "--heads", "8", "--seq", "1024", "--format", "json"]
    assert "causal" not in json.loads(cli(*attn, "--phase", "decode").stdout)["shape"]
    assert json.loads(cli(*attn, "--phase", "prefill").stdout)["shape"].split()[-2:] == ["causal", "bf16"]
    assert "causal" in json.loads(cli(*attn, "--phase", "decode", "--seq-q", "4").stdout)["shape"]  # among its 4 queries


def test_serve_table_has_no_trailing_spaces(cli):
    """serve's J/token column ended in a space on every row but the best one."""
    t = cli("serve", "--model", "llama-3.1-8b", "--input", "256", "--output", "16", "--requests", "8",
            "--concurrency", "2,4").stdout
    assert "J/token" in t and [l for l in t.splitlines() if l.endswith(" ")] == [], t
    assert re.search(r"\d <- best$", t, re.M), t


def test_fa3_needs_hopper(cli):
    """`--impl fa3` ran on a100-sxm, though FlashAttention-3 is written for Hopper's TMA and wgmma."""
    attn = ["kernel", "attention", "--heads", "8", "--seq", "1024"]
    p = cli(*attn, "--chip", "a100-sxm", "--impl", "fa3", check=False)
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "a100-sxm" in p.stderr and "--impl fa3" in p.stderr and "--impl fa2 runs here" in p.stderr, p.stderr
    cli(*attn, "--chip", "a100-sxm", "--impl", "fa2")
    cli(*attn, "--chip", "h100-sxm", "--impl", "fa3")
    # FlashAttention-3 is sm_90a code: Blackwell does not run it either (FA4 / cuDNN run there).
    p = cli(*attn, "--chip", "b200", "--impl", "fa3", check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "b200" in p.stderr and "sm_90a" in p.stderr and "--impl fa2" in p.stderr, p.stderr
    # Without --impl the A100 runs FlashAttention-2 (it ran the Hopper kernel), the H100 the FA3-style one.
    js = lambda *a: json.loads(cli(*attn, "--format", "json", *a).stdout)
    a100, a100_fa2 = js("--chip", "a100-sxm"), js("--chip", "a100-sxm", "--impl", "fa2")
    assert a100["latency_s"] == a100_fa2["latency_s"] and "FlashAttention-2" in a100["kernels"][0]["strategy"], a100
    assert "FlashAttention-2" not in js("--chip", "h100-sxm")["kernels"][0]["strategy"]


def test_collective_on_one_chip_names_system(cli):
    """`kernel allreduce --chip h100-sxm` said "unrecognised option '--chip' (see xpusim --help)": a collective
    runs on a system; the error says so, and other unknown flags point at the collective's own help."""
    p = cli("kernel", "allreduce", "--chip", "h100-sxm", "--bytes", "1MiB", check=False)
    assert p.returncode == 2 and p.stdout == "", p
    assert "kernel allreduce: --chip: a collective runs on a system of chips" in p.stderr and "--system" in p.stderr, p.stderr
    p = cli("kernel", "allgather", "--bytez", "1MiB", check=False)
    assert p.returncode == 2 and "see xpusim kernel allgather --help" in p.stderr, p.stderr
    # A flag given twice pointed at the top-level help too.
    p = cli("kernel", "gemm", "--m", "8", "--n", "8", "--k", "8", "--k", "16", check=False)
    assert p.returncode == 2 and p.stderr.endswith("more than once (see xpusim kernel --help)\n"), p.stderr


def test_memory_line_states_capacity_in_gib(cli):
    """Reports print decimal GB, presets binary GiB: an H100's 81559 MiB printed only as "of 85.52 GB"."""
    t = cli("run", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--batch", "1", "--input", "128").stdout
    assert re.search(r"^  memory .* of 85\.52 GB \(79\.65 GiB\)$", t, re.M), t


def test_validate_filter_matching_nothing_is_refused(cli):
    """`validate --filter ZZZZ` printed "0 points, mean absolute error 0%" and exited 0: a typo read as a pass."""
    p = cli("validate", "--filter", "ZZZZ", check=False)
    assert p.returncode == 2 and p.stdout == "", p
    assert "--filter 'ZZZZ': no row's id starts with it" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr


def test_format_flags_of_another_dtype_are_refused(cli):
    """--fast-accum (fp8) and --fp4-scale-block (fp4) on a bf16 GEMM were accepted and changed nothing."""
    gemm = ("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64")
    p = cli(*gemm, "--fast-accum", check=False)
    assert p.returncode == 2 and "--fast-accum applies to fp8 GEMMs" in p.stderr and "--dtype is bf16" in p.stderr, p.stderr
    p = cli(*gemm, "--fp4-scale-block", "32", check=False)
    assert p.returncode == 2 and "--fp4-scale-block applies to fp4 operands" in p.stderr, p.stderr
    cli(*gemm, "--dtype", "fp8", "--fast-accum")
    cli(*gemm, "--chip", "b200", "--dtype", "fp4", "--fp4-scale-block", "32")


def test_rate_error_prints_the_value_as_given(cli):
    p = cli("serve", "--model", "llama-3.1-8b", "--rate", "-1", check=False)
    assert p.returncode == 2 and p.stderr.strip().endswith("got -1"), p.stderr


def _preset_lines(path):
    """A preset's own lines and, before them, those of the presets it inherits (the later line of a key wins)."""
    text = open(path).read()
    m = re.search(r"^inherits: *(\S+)", text, re.M)
    parent = _preset_lines(os.path.join(os.path.dirname(path), m.group(1))) if m else []
    return parent + text.splitlines()


def test_published_prices_are_not_marked_unverified():
    """A price reports call published (cost.published: true) must not be one its own comment calls unverified or
    only commonly cited (issue 14: such prices were reported as published)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    presets = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "chips")) if d.endswith("presets")
               for f in fs if f.endswith(".yaml") and "systems" not in d]
    assert len(presets) >= 15
    for path in presets:
        cost, section = {}, None
        for line in _preset_lines(path):
            if re.match(r"^\S", line):
                section = line.split(":")[0]
            elif section == "cost" and re.match(r"^  (chip_hour|published):", line):
                cost[line.split(":")[0].strip()] = line
        if "published: true" in cost.get("published", "").split("#")[0]:
            comment = cost["chip_hour"].partition("#")[2].lower()
            assert "unverified" not in comment and "commonly cited" not in comment, (path, cost["chip_hour"])


def test_compare_set_error_lists_each_unit_once(cli):
    """A --set naming no unit listed the units once per model of the study: "its units: h100-sxm, h100-sxm"."""
    p = cli("compare", "--chips", "h100-sxm", "--set", "tpu-v6e:cost.chip_hour=3", check=False)
    assert p.returncode == 2 and "(its units: h100-sxm)" in p.stderr, p.stderr


def test_validate_usage_names_its_modes(cli):
    """`validate --help`'s usage line left out --models and --collectives, the two other things it validates."""
    first = cli("validate", "--help").stdout.splitlines()[0]
    assert "--models" in first and "--collectives" in first, first


def test_weights_refusal_names_the_alternatives_once(cli):
    """`run --chip a100-sxm --dtype fp8` said "(use bf16, fp16, int8 or tf32) (its GEMM dtypes: ...)": two lists."""
    p = cli("run", "--chip", "a100-sxm", "--model", "llama-3.1-8b", "--dtype", "fp8", check=False)
    assert p.returncode == 2 and "(use bf16" in p.stderr and "its GEMM dtypes" not in p.stderr, p.stderr
    p = cli("run", "--chip", "h100-sxm", "--model", "llama-3.1-8b", "--dtype", "fp4", check=False)
    assert p.returncode == 2 and "(its GEMM dtypes: fp32, tf32, bf16, fp16, fp8, int8)" in p.stderr, p.stderr


def test_a_tpu_kv_cache_is_stored_as_its_weights_are(cli):
    # TPUs refuse fp4 weights ("no fp4 weight storage format"), yet `run --kvdtype fp4` on tpu-v6e ran an fp4 KV
    # cache at half fp8's bytes (QA session 40); int8 and fp8 caches run, as int8 and fp8 weights do.
    p = cli("run", "--chip", "tpu-v6e", "--model", "llama-3.1-8b", "--batch", "8", "--input", "1024", "--kvdtype", "fp4", check=False)
    assert p.returncode == 2 and "no fp4 KV-cache storage format on TPU (use int8 or fp8)" in p.stderr, p.stderr
    for kv in ("int8", "fp8"):
        cli("run", "--chip", "tpu-v6e", "--model", "llama-3.1-8b", "--batch", "8", "--input", "1024", "--kvdtype", kv)


def test_an_fp4_kv_cache_needs_a_gpu_with_an_fp4_tensor_path(cli):
    # run --kvdtype fp4 on h100-sxm ran an fp4 cache at half fp8's bytes (QA session 41): NVFP4 KV caches run on
    # Blackwell only. Refused from the preset's sm.tensor_flops_per_clk.fp4 (0 on A100, H100, H200), by run, by
    # xpusim.run and by a kernel session, naming the flag, the value, the chip and what works.
    args = ["--model", "llama-3.1-8b", "--phase", "decode", "--batch", "8", "--input", "1024"]
    for chip in ("a100-sxm", "h100-sxm", "h200"):
        p = cli("run", "--chip", chip, *args, "--kvdtype", "fp4", check=False)
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1 and "KV cache fp4 (--kvdtype): %s: no fp4 KV-cache format on this GPU" % chip in p.stderr, p.stderr
        assert "sm.tensor_flops_per_clk.fp4: 0" in p.stderr and "(use fp8 or bf16)" in p.stderr, p.stderr
    for kv in ("fp8", "bf16"):
        cli("run", "--chip", "h100-sxm", *args, "--kvdtype", kv)
    cli("run", "--chip", "b200", *args, "--kvdtype", "fp4")
    with pytest.raises(xpusim.InputError, match=r"^KV cache fp4 \(kvdtype\): h100-sxm: no fp4 KV-cache format on this GPU"):
        xpusim.run(chip="h100-sxm", model="llama-3.1-8b", phase="decode", batch=8, input=1024, kvdtype="fp4")
    with pytest.raises(xpusim.InputError, match=r"h100-sxm: cannot run attention .*no fp4 KV-cache format on this GPU"):
        with xpusim.Session(chip="h100-sxm", kernel="attention", phase="decode", batch=8, heads=32, kv_heads=8, seq=1024,
                            head_dim=128, wdtype="fp4") as s:
            s.run()
    # A KV dtype the attention cannot take at all names the flag and the dtypes that run (it named only the probe's shape).
    p = cli("run", "--chip", "h100-sxm", *args, "--kvdtype", "fp32", check=False)
    assert p.returncode == 2 and "KV cache fp32 (--kvdtype): h100-sxm: no fp32 tensor-core path on this GPU (its KV-cache dtypes with bf16 activations: " in p.stderr, p.stderr


def test_a_row_op_is_not_a_share_of_the_matrix_peak(cli):
    # A row-wise or memory op in a dtype the chip's matrix units lack printed "(0.0% of 0 TFLOP/s fp8 peak)", and in
    # one they have a share of a peak it never uses: maia200 rmsnorm "0.0% of 5000 TFLOP/s fp8 peak" (QA session 42).
    # It runs on the vector units: the line gives its share of its roofline speed (JSON: share_of_roofline, and
    # matrix_flops 0; share_of_peak stays).
    for chip, op, dims, dtype in (("a100-sxm", "rmsnorm", ["--rows", "64", "--cols", "4096"], "fp8"),
                                  ("h100-sxm", "copy", ["--rows", "64", "--cols", "4096"], "fp4"),
                                  ("tpu-v4", "embedding", ["--tokens", "16", "--cols", "256"], "fp4"),
                                  ("b200", "copy", ["--rows", "64", "--cols", "4096"], "fp4"),
                                  ("maia200", "rmsnorm", ["--rows", "8", "--cols", "4096"], "bf16"),
                                  ("h100-sxm", "softmax", ["--rows", "64", "--cols", "4096"], "bf16"),
                                  ("tpu-v6e", "swiglu", ["--rows", "64", "--cols", "4096"], "bf16")):
        out = cli("kernel", op, "--chip", chip, *dims, "--dtype", dtype).stdout
        line = next(l for l in out.splitlines() if l.strip().startswith("throughput"))
        assert "TFLOP/s" not in line.split("(", 1)[1] and re.search(r"\(no matrix-unit work: it runs at \d+\.\d% of its roofline speed\)$", line), line
        j = json.loads(cli("kernel", op, "--chip", chip, *dims, "--dtype", dtype, "--format", "json").stdout)
        assert j["matrix_flops"] == 0 and j["share_of_roofline"] == pytest.approx(j["roofline_s"] / j["latency_s"]), j
    for chip, dtype in (("b200", "fp8"), ("maia200", "fp8"), ("tpu-v6e", "bf16")):  # a GEMM keeps its share of the peak
        line = next(l for l in cli("kernel", "gemm", "--chip", chip, "--m", "256", "--n", "256", "--k", "256", "--dtype", dtype)
                    .stdout.splitlines() if l.strip().startswith("throughput"))
        assert re.search(r"% of \d+ TFLOP/s " + dtype + r" peak\)$", line), line
        assert xpusim.kernel("gemm", chip=chip, m=256, n=256, k=256, dtype=dtype)["matrix_flops"] > 0


def test_warm_up_flags_are_named_as_typed(cli):
    # These said "after-runs: -1", "flush-gb: -1" (no flag) and "--after-runs 5.000000".
    for args, line in ((["run", "--after-runs", "5", "--from-idle"], "xpusim: error: --from-idle and --after-runs 5 are two"),
                       (["run", "--after-runs", "-1"], "xpusim: error: --after-runs -1: expected a number of warm-up runs"),
                       (["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--after-runs", "nan"],
                        "xpusim: error: --after-runs nan: expected"),
                       (["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--flush-gb", "-1"],
                        "xpusim: error: --flush-gb -1: expected GB written before each call")):
        p = cli(*args, check=False)
        assert p.returncode == 2 and p.stderr.startswith(line) and len(p.stderr.splitlines()) == 1, p.stderr


def test_help_examples_of_serve_and_run_run_as_printed(cli):
    """--help that teaches (issue 14): serve's and run's --help show data-parallel attention with --dp-dispatch,
    sglang-jax's --page-size, the A100 (no fp8) and AWS Neuron's --neuron-buckets, and every example without
    placeholders runs as printed (they had none for session 37's options)."""
    ran = []
    for cmd in ("serve", "run"):
        for line in cli(cmd, "--help").stdout.split("\n\n")[0].splitlines():
            words = line.split("   (")[0].split()
            if "xpusim" not in words or any(re.fullmatch(r"[A-Z]", w) for w in words) or any("[" in w for w in words):
                continue
            ran.append(" ".join(words[words.index("xpusim") + 1:]))
            assert cli(*ran[-1].split(), "--format", "json").returncode == 0
    for flag in ("--dp-dispatch shortest_queue", "--page-size 128", "--chip a100-sxm", "--neuron-buckets 2048"):
        assert any(flag in r for r in ran), flag
    gemm = [l for l in cli("kernel", "--help").stdout.splitlines() if "e.g. --chip b200" in l][0]
    args = gemm.split("e.g. ")[1].split(" (")[0].split()
    assert json.loads(cli("kernel", "gemm", *args, "--format", "json").stdout)["latency_s"] > 0


def test_a_misspelt_flag_names_the_nearest(cli):
    """QA session 39: `--chipp`, `--modle`, `--fromat` were "unknown option" / "unrecognised option" with no hint, where
    a misspelt preset key names the nearest valid key (STYLE, strict config); a flag near none is named alone."""
    for args, expect in [(["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--chipp", "b200"], "kernel: unknown option --chipp (did you mean --chip?)"),
                         (["run", "--modle", "llama-3.1-8b"], "unrecognised option '--modle' (did you mean --model?) (see xpusim run --help)"),
                         (["serve", "--fromat", "json"], "unrecognised option '--fromat' (did you mean --format?)"),
                         (["compare", "--chip", "b200"], "(did you mean --chips?)"),
                         (["kernel", "allreduce", "--byts", "1MiB"], "unrecognised option '--byts' (did you mean --bytes?) (see xpusim kernel allreduce --help)")]:
        p = cli(*args, check=False)
        assert p.returncode == 2 and expect in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    p = cli("serve", "--bogus", "1", check=False)
    assert p.returncode == 2 and "did you mean" not in p.stderr, p.stderr
    # QA session 43: an abbreviation (refused: abbreviation is off) names the one flag it starts, not the nearest
    # by edits: --sys was "did you mean --set?", --conc and --coll named nothing. --t starts several: --tp by edits.
    for args, expect in [(["run", "--sys", "hgx-h100x8"], "unrecognised option '--sys' (did you mean --system?)"),
                         (["serve", "--conc", "4"], "unrecognised option '--conc' (did you mean --concurrency?)"),
                         (["validate", "--coll"], "unrecognised option '--coll' (did you mean --collectives?)"),
                         (["kernel", "allreduce", "--sys", "hgx-h100x8"], "(did you mean --system?)"),
                         (["run", "--t", "8"], "unrecognised option '--t' (did you mean --tp?)")]:
        p = cli(*args, check=False)
        assert p.returncode == 2 and expect in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    with pytest.raises(xpusim.InputError, match=r"unrecognised option '--max-seq' \(did you mean --max-seqs\?\)"):
        xpusim._xpusim.serve_cli_json(["--max-seq", "4"])  # xpusim.serve's keywords go through the same parser


def test_an_unknown_key_near_no_key_names_its_sections_keys(cli):
    # `--set l2.size=...` named nothing (l2.capacity is many edits away): another name for a field is no typo,
    # so the keys of the section it was looking in are listed; a typo still names the nearest key.
    p = cli("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--set", "l2.size=40MB", check=False)
    assert p.returncode == 2 and p.stderr.startswith(
        "xpusim: error: --set l2.size: unknown key (keys under l2: l2.capacity, l2.slices, l2.bandwidth,"), p.stderr
    p = cli("kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--set", "l2.capacit=40MB", check=False)
    assert "--set l2.capacit: unknown key (nearest valid key: l2.capacity)" in p.stderr, p.stderr
