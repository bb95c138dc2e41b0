"""Parallel layouts through the CLI and the module: one path (same numbers), the layout in every report,
collectives in the breakdown, and bad layouts refused in one line naming the flag."""
import json
import os
import re

import pytest
import xpusim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QWEN_MOE = os.path.join(ROOT, "tests", "data", "models", "qwen1.5-moe-a2.7b.json")
TINY = os.path.join(ROOT, "tests", "data", "systems", "tiny_switch.yaml")
SERVE_MOE = ("serve", "--system", TINY, "--model", QWEN_MOE, "--concurrency", "8", "--requests", "16", "--input", "256",
             "--output", "16", "--format", "json")
RUN = ("run", "--system", "hgx-h100x8", "--model", "llama-3.1-8b", "--tp", "8", "--batch", "16", "--input", "512")


def test_run_on_a_system_reports_its_layout_and_collectives(cli):
    j = json.loads(cli(*RUN, "--format", "json").stdout)
    assert j["layout"]["tp"] == 8 and j["layout"]["devices"] == 8 and j["system"] == "hgx-h100x8"
    ks = j["steps"][0]["kernels"]
    coll = [k for k in ks if k["collective_bytes"]]
    assert coll and all(k["algorithm"] for k in coll)
    assert {k["op"] for k in coll} == {"allreduce", "allgather"}  # the layers' all-reduces, the LM head's logits
    assert 0 < sum(k["share"] for k in coll) < 1
    # The module gives the same step for the same question.
    r = xpusim.run(model="llama-3.1-8b", system="hgx-h100x8", tp=8, batch=16, input=512)
    assert r["tpot_s"] == j["tpot_s"]
    table = cli(*RUN).stdout
    assert "hgx-h100x8 (8x h100-sxm, tp8)" in table and "memory per device" in table


def test_run_takes_the_all_reduce_of_the_software_it_names(cli):
    """QA session 43: `run` said "fusion vllm" but ran its TP all-reduces on NCCL's ring, where serve (vLLM's
    scheduler) ran vLLM's own one-shot: the same TP8 decode step was 2.269 ms in run and 1.82 ms in serve (8B fp8,
    8 sequences on hgx-h100x8). The fusion's stack now runs them, so both give the same all-reduce; software with
    no own kernel (--fusion none) keeps the collective library's."""
    args = ("--system", "hgx-h100x8", "--tp", "8", "--model", "llama-3.1-8b", "--dtype", "fp8", "--format", "json")
    def allreduces(j):
        return {k["label"]: (k["algorithm"], k["time_s"]) for k in j["kernels"] if k["collective_bytes"] and "allreduce" in k["label"]}
    run = json.loads(cli("run", *args, "--batch", "8", "--input", "1024").stdout)["steps"][0]
    served = json.loads(cli("serve", *args, "--concurrency", "8", "--requests", "8", "--input", "1024", "--output", "4").stdout)
    a, b = allreduces(run), allreduces(served)
    assert a and a == b and all(alg == "oneshot/vllm" for alg, _ in a.values()), (a, b)
    trt = json.loads(cli("run", *args, "--batch", "8", "--input", "1024", "--fusion", "trtllm").stdout)["steps"][0]
    assert all(alg.endswith("/trtllm") for alg, _ in allreduces(trt).values()), allreduces(trt)
    plain = json.loads(cli("run", *args, "--batch", "8", "--input", "1024", "--fusion", "none").stdout)["steps"][0]
    assert all(not alg.endswith(("/vllm", "/trtllm")) for alg, _ in allreduces(plain).values()), allreduces(plain)


def test_sequence_parallel_through_the_cli_and_the_module(cli):
    args = ("run", "--chip", "h100-sxm", "--devices", "4", "--tp", "4", "--model", "llama-3.1-8b", "--phase",
            "prefill", "--batch", "2", "--input", "256", "--format", "json")
    j = json.loads(cli(*args, "--sp").stdout)
    assert j["layout"]["sp"] is True and j["layout"]["name"] == "tp4+sp"
    ops = {k["op"] for k in j["steps"][0]["kernels"] if k["collective_bytes"]}
    assert ops == {"reducescatter", "allgather"}
    r = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", devices=4, tp=4, sp=True, phase="prefill", batch=2, input=256)
    assert r["ttft_s"] == j["ttft_s"]
    plain = json.loads(cli(*args).stdout)
    assert plain["layout"]["sp"] is False and plain["ttft_s"] != j["ttft_s"]


def test_devices_picks_the_chips_default_system():
    a = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", devices=2, tp=2, batch=8, input=256)
    b = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", batch=8, input=256)
    assert a["devices"] == 2 and a["tpot_s"] < b["tpot_s"]
    assert a["system"] == "hgx-h100x8[2]"  # the preset's name as users type it, and the block used


def test_serve_on_a_system(cli):
    j = json.loads(cli("serve", "--system", "hgx-h100x8", "--tp", "8", "--model", "llama-3.1-8b", "--concurrency", "4",
                       "--requests", "8", "--input", "256", "--output", "16", "--format", "json").stdout)
    assert j["devices"] == 8 and j["layout"]["name"] == "tp8"
    p = j["curve"][0]
    assert p["throughput_tok_s_per_chip"] == pytest.approx(p["throughput_tok_s"] / 8)


def test_serve_perf_per_watt_is_the_inverse_of_joules_per_token(cli):
    # perf_per_watt was the unit's tok/s over one chip's average watts: 8x too high on an 8-chip system
    # (compare's report printed 18.8 tok/s/W beside 0.426 J/token), while joules_per_token counted every chip.
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    common = ("--model", small, "--input", "128", "--output", "16", "--concurrency", "4", "--requests", "8", "--format", "json")
    for layout in (["--chip", "h100-sxm"], ["--system", "hgx-h100x8", "--tp", "2", "--dp", "4"],
                   ["--system", "hgx-h100x8", "--prefill-devices", "4", "--prefill-tp", "2", "--decode-devices", "4",
                    "--tp", "4"]):
        j = json.loads(cli("serve", *layout, *common).stdout)
        assert j["perf_per_watt"] == pytest.approx(1 / j["joules_per_token"], rel=1e-3), (layout, j["perf_per_watt"])
        assert j["perf_per_watt"] == j["throughput_tok_s_per_chip"] / j["avg_power_w"]


def test_serve_expert_parallel_moe(cli):
    """Experts over the TP group, then data-parallel attention with the all-to-alls over every rank."""
    tp = json.loads(cli(*SERVE_MOE, "--tp", "4", "--ep", "4").stdout)
    assert tp["layout"]["name"] == "tp4 x ep4" and tp["devices"] == 4 and tp["folding"] is None
    assert tp["memory"]["comm_buffer_bytes"] > 0 and tp["memory"]["per_device"]
    assert any("moe_allreduce" in k["label"] for k in tp["kernels"])
    # The module runs the same study.
    mod = xpusim.serve(model=QWEN_MOE, system=TINY, tp=4, ep=4, concurrency=8, requests=16, input=256, output=16)
    assert mod["throughput_tok_s"] == tp["throughput_tok_s"] and mod["layout"] == tp["layout"]
    dpa = json.loads(cli(*SERVE_MOE, "--tp", "1", "--dp", "4", "--ep", "4").stdout)
    assert dpa["layout"]["name"] == "dp4 x ep4" and dpa["layout"]["replicas"] == 4
    assert "attention groups" in dpa["folding"]
    assert any("moe_dispatch" in k["label"] for k in dpa["kernels"])
    # Data-parallel attention holds the attention whole on every rank: more weights, less KV cache.
    assert dpa["memory"]["weights_bytes"] > tp["memory"]["weights_bytes"]
    p = dpa["curve"][0]
    assert p["throughput_tok_s_per_chip"] == pytest.approx(p["throughput_tok_s"] / 4)
    table = cli(*SERVE_MOE[:-2], "--tp", "1", "--dp", "4", "--ep", "4").stdout
    assert "folded:" in table and "communication buffers:" in table


def test_two_batch_overlap_through_the_cli_and_the_module(cli):
    """Two interleaved micro-batches per replica: the layout says so, the module gives the same step, and
    a server whose iterations hold one sequence runs them without the overlap."""
    args = ("run", "--system", TINY, "--model", QWEN_MOE, "--tp", "1", "--dp", "4", "--ep", "4", "--phase", "prefill",
            "--batch", "8", "--input", "256", "--format", "json")
    j = json.loads(cli(*args, "--two-batch-overlap").stdout)
    assert j["layout"]["name"] == "dp4 x ep4 (two-batch overlap)"
    r = xpusim.run(model=QWEN_MOE, system=TINY, tp=1, dp=4, ep=4, phase="prefill", batch=8, input=256,
                   two_batch_overlap=True)
    assert r["ttft_s"] == j["ttft_s"]
    plain = json.loads(cli(*args).stdout)
    assert plain["ttft_s"] != j["ttft_s"]
    s = json.loads(cli(*SERVE_MOE, "--tp", "1", "--dp", "4", "--ep", "4", "--two-batch-overlap").stdout)
    assert s["layout"]["name"] == "dp4 x ep4 (two-batch overlap)" and s["throughput_tok_s"] > 0
    mod = xpusim.serve(model=QWEN_MOE, system=TINY, tp=1, dp=4, ep=4, concurrency=8, requests=16, input=256, output=16,
                       two_batch_overlap=True)
    assert mod["throughput_tok_s"] == s["throughput_tok_s"]
    assert j["layout"]["two_batch_overlap"] is True and j["layout"]["overlap"] is True  # it implies the overlap
    assert s["layout"]["two_batch_overlap"] is True and plain["layout"]["two_batch_overlap"] is False


def test_default_requests_are_as_serve_help_says(cli):
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    base = ("serve", "--system", "hgx-h100x8", "--model", small, "--input", "64", "--output", "4", "--format", "json")
    def requests(*a):
        return json.loads(cli(*base, *a).stdout)["requests"]
    assert requests("--tp", "8", "--concurrency", "8") == 64 == requests("--tp", "2", "--dp", "4", "--concurrency", "8")
    assert requests("--tp", "8", "--concurrency", "32") == 128
    assert requests("--tp", "8", "--rate", "100") == 256 and requests("--tp", "2", "--dp", "4", "--rate", "100") == 4 * 256


def test_overlap_is_in_the_report(cli):
    """--overlap changes the step (collectives on their own stream) but no report said it: two runs that
    differed only by it read the same. JSON layout.overlap and the table's header carry it, run and serve."""
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    base = ("run", "--system", "hgx-h100x8", "--model", small, "--tp", "8", "--batch", "4", "--input", "128")
    j = json.loads(cli(*base, "--overlap", "--format", "json").stdout)
    plain = json.loads(cli(*base, "--format", "json").stdout)
    assert j["layout"]["overlap"] is True and plain["layout"]["overlap"] is False
    assert j["layout"]["two_batch_overlap"] is False and j["layout"]["name"] == plain["layout"]["name"] == "tp8"
    assert xpusim.run(model=small, system="hgx-h100x8", tp=8, batch=4, input=128, overlap=True)["layout"] == j["layout"]
    assert "(8x h100-sxm, tp8, collectives overlapped)" in cli(*base, "--overlap").stdout
    assert "(8x h100-sxm, tp8)" in cli(*base).stdout
    serve = ("serve", "--system", "hgx-h100x8", "--model", small, "--tp", "4", "--prefill-devices", "4", "--decode-devices", "4",
             "--concurrency", "2", "--input", "128", "--output", "4")
    s = json.loads(cli(*serve, "--overlap", "--format", "json").stdout)
    assert s["layout"]["overlap"] is True and s["layout"]["pools"]["decode"]["overlap"] is True
    assert s["layout"]["pools"]["prefill"]["overlap"] is True
    assert json.loads(cli(*serve, "--format", "json").stdout)["layout"]["overlap"] is False
    assert ", collectives overlapped)" in cli(*serve, "--overlap").stdout.splitlines()[0]


def test_dense_layouts_give_no_expert_tp_and_one_chip_names_its_layout(cli):
    """A dense model has no experts to split: layout.expert_tp is null in run's and serve's JSON (a MoE
    model's is its tp/ep, test_tensor_parallel_inside_experts_in_the_report); it read tp. One chip's table
    header names its layout as a system's does ("(1x h100-sxm, tp1)"; it said "on h100-sxm" alone)."""
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    one = ("run", "--model", small, "--batch", "2", "--input", "64")
    j = json.loads(cli(*one, "--format", "json").stdout)
    assert j["layout"]["expert_tp"] is None and j["layout"]["name"] == "tp1", j["layout"]
    assert xpusim.run(model=small, batch=2, input=64)["layout"] == j["layout"]
    assert cli(*one).stdout.splitlines()[0].startswith("small-llama-100m on h100-sxm (1x h100-sxm, tp1): decode")
    tp8 = json.loads(cli(*RUN, "--format", "json").stdout)
    assert tp8["layout"]["expert_tp"] is None and tp8["layout"]["tp"] == 8
    serve = ("serve", "--model", small, "--concurrency", "2", "--requests", "2", "--input", "64", "--output", "4")
    assert json.loads(cli(*serve, "--format", "json").stdout)["layout"]["expert_tp"] is None
    assert cli(*serve).stdout.splitlines()[0].startswith("small-llama-100m on h100-sxm (1x h100-sxm, tp1) (fp8)")
    pools = json.loads(cli("serve", "--system", "hgx-h100x8", "--model", small, "--tp", "4", "--prefill-devices", "4",
                           "--decode-devices", "4", "--concurrency", "2", "--input", "128", "--output", "4", "--format", "json").stdout)
    assert pools["layout"]["pools"]["prefill"]["expert_tp"] is None and pools["layout"]["pools"]["decode"]["expert_tp"] is None
    moe = json.loads(cli(*SERVE_MOE, "--tp", "4", "--ep", "2").stdout)
    assert moe["layout"]["expert_tp"] == 2, moe["layout"]


def test_prefill_all_to_alls_forward_across_nodes_decode_ones_do_not(cli):
    """DeepEP's normal kernels (a prefill's dispatch and combine over EP ranks of two nodes) cross the
    network once per node and forward over NVLink; decode's low-latency all-to-alls and skewed routing
    stay the library's all-to-all."""
    args = ("run", "--system", "hgx-h100x8", "--nodes", "2", "--model", QWEN_MOE, "--tp", "1", "--dp", "16", "--ep", "16",
            "--redundant-experts", "4", "--batch", "16", "--input", "128", "--format", "json")
    def algos(*more):
        j = json.loads(cli(*args, *more).stdout)
        return {k["algorithm"] for k in j["steps"][0]["kernels"] if k["op"] == "alltoall"}, j
    pre, j = algos("--phase", "prefill")
    assert pre == {"deepep/simple"}
    dec, _ = algos("--phase", "decode")
    assert dec and not any(a.startswith("deepep") for a in dec)
    hot, h = algos("--phase", "prefill", "--routing", "hot:0.2")
    assert not any(a.startswith("deepep") for a in hot)


def test_serve_pipeline_stages(cli):
    j = json.loads(cli(*SERVE_MOE, "--tp", "2", "--pp", "2").stdout)
    assert j["layout"]["name"] == "tp2 x pp2"
    assert len(j["memory"]["stage_kv_tokens"]) == 2 and j["memory"]["kv_tokens"] == min(j["memory"]["stage_kv_tokens"])


def test_compare_takes_serving_units(cli, tmp_path):
    p = cli("compare", "--chips", "hgx-h100x8:tp2", "--model", "llama-3.1-8b", "--input", "256", "--output", "16",
            "--max-batch", "4", "--name", "units_test", "--out", str(tmp_path / "units_test"), "--no-report", check=False)
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "units_test" / "summary.json").read_text())
    row = s["rows"][0]
    assert row["chip"] == "hgx-h100x8:tp2" and row["devices"] == 2 and row["ran"]
    assert row["layout"]["name"] == "tp2" and row["layout_search"] is None  # an explicit layout is not searched


def test_compare_takes_expert_parallel_units(cli, tmp_path):
    p = cli("compare", "--chips", "hgx-h100x8:tp4ep4", "--model", QWEN_MOE, "--input", "256", "--output", "16",
            "--max-batch", "4", "--name", "ep_units", "--out", str(tmp_path / "ep_units"), "--no-report", check=False)
    assert p.returncode == 0, p.stderr
    row = json.loads((tmp_path / "ep_units" / "summary.json").read_text())["rows"][0]
    assert row["chip"] == "hgx-h100x8:tp4ep4" and row["devices"] == 4 and row["ran"]


def test_compare_scales_requests_with_the_concurrency_per_attention_group(cli, tmp_path):
    # compare's --concurrency is per replica or attention group: a dp8 layout runs 8 x 8 users, and --requests 16
    # ran them over 16 requests (the row said conc 64, batch 16); the requests scale with the users.
    p = cli("compare", "--chips", "hgx-h100x8", "--model", QWEN_MOE, "--input", "128", "--output", "16", "--concurrency", "8",
            "--requests", "16", "--name", "groups", "--out", str(tmp_path / "groups"), "--no-report", check=False)
    assert p.returncode == 0, p.stderr
    row = json.loads((tmp_path / "groups" / "summary.json").read_text())["rows"][0]
    groups = row["layout"]["dp"]
    assert groups > 1, row["layout"]
    for pt in row["curve"]:
        assert pt["concurrency"] == 8 * groups and pt["requests"] == 16 * groups and pt["batch"] == pt["concurrency"], pt


def test_a_fixed_unit_layout_takes_the_load_per_replica_as_the_search_does(cli, tmp_path):
    # hgx-h100x8 (searched: dp8) at --concurrency 4 ran 8 x 4 users; hgx-h100x8:dp8 ran 4 for the whole unit,
    # half its replicas idle: one layout, two loads. Now both run 32, and --rate is per replica too (one
    # H100's figures per chip at the same rate).
    small = os.path.join(ROOT, "tests", "data", "models", "small-llama-100m.json")
    base = ("compare", "--model", small, "--input", "64", "--output", "8", "--jobs", "1", "--no-report")
    def row(units, *load):
        out = tmp_path / ("u%d" % len(list(tmp_path.iterdir())))
        cli(*base, "--chips", units, *load, "--out", str(out))
        return json.loads((out / "summary.json").read_text())["rows"]
    searched, fixed = row("hgx-h100x8,hgx-h100x8:dp8", "--concurrency", "4")
    assert searched["layout"]["name"] == fixed["layout"]["name"] == "dp8", searched["layout"]
    for key in ("concurrency", "batch", "tpot_s", "ttft_s"):
        assert searched[key] == pytest.approx(fixed[key], rel=1e-12), (key, searched[key], fixed[key])
    assert searched["throughput_tok_s_per_chip"] == pytest.approx(fixed["throughput_tok_s_per_chip"], rel=1e-12)
    assert fixed["concurrency"] == 32
    # The requests the unit ran: 8 replicas x 64 (the searched row said one replica's 64); the fixed unit's
    # default is the unit's (4 x 32 users).
    assert searched["requests"] == 8 * 64 and fixed["requests"] == 128
    one, unit = row("h100-sxm,hgx-h100x8:dp8", "--rate", "100")
    assert unit["throughput_tok_s_per_chip"] == pytest.approx(one["throughput_tok_s_per_chip"], rel=1e-9)


@pytest.mark.parametrize("args,needle", [
    (("run", "--tp", "2"), "--system"),
    (("run", "--system", "hgx-h100x8", "--tp", "4"), "has 8 chips"),
    (("run", "--system", "hgx-h100x8", "--tp", "3", "--dp", "1"), "--tp 3"),
    (("run", "--system", "hgx-h100x8", "--ep", "8", "--tp", "8"), "--ep 8"),
    (("run", "--system", "hgx-h100x8", "--pp", "64", "--tp", "1", "--dp", "1"), "--pp 64"),
    (("run", "--system", "hgx-h100x8", "--tp", "8", "--devices", "8"), "--devices"),
    (("run", "--nodes", "2"), "--nodes"),
    (("run", "--system", "hgx-h100x8", "--tp", "4", "--pp", "2", "--batch", "1"), "or --microbatches 1)"),
    (("serve", "--system", "hgx-h100x8", "--nodes", "2", "--tp", "3", "--prefill-devices", "6", "--decode-devices", "6"),
     "error: --tp 3 does not divide"),  # once, not "--tp 3: --tp 3 does not divide"
    (("run", "--system", "hgx-h100x8", "--tp", "8", "--microbatches", "3"), "--microbatches 3 needs --pp > 1"),
    (("serve", "--system", "hgx-h100x8", "--tp", "8", "--microbatches", "2"), "--microbatches 2 needs --pp > 1"),
    (("run", "--chip", "h100-sxm", "--devices", "2048", "--tp", "8", "--dp", "256", "--batch", "256"),
     "--devices 2048 is more than 1024, the most chips of one simulated system"),
    # DeepSeek-style EP over all 72 GPUs of an NVL72 cannot split 256 experts: the nearest divisor and its chips.
    (("run", "--system", "gb200-nvl72", "--model", "deepseek-v3", "--tp", "1", "--dp", "72", "--ep", "72", "--batch", "72"),
     "--ep 72 does not divide deepseek-v3's 256 experts (expected a divisor, e.g. --ep 64 in a layout of 64 chips, "
     "or, on these 72 chips, --redundant-experts 32 replicas of the hottest experts)"),
    # With TP groups the divisor is a whole number of them (was 'e.g. --ep 15 ... 15 chips' with --tp 4).
    (("run", "--system", "hgx-h100x8", "--nodes", "2", "--model", QWEN_MOE, "--tp", "4", "--dp", "4", "--ep", "16"),
     "--ep 16 does not divide qwen1.5-moe-a2.7b's 60 experts (expected a divisor, e.g. --ep 12 in a layout of 12 chips,"),
    (("run", "--system", "gb200-nvl72", "--model", "deepseek-v3", "--tp", "1", "--dp", "72", "--ep", "72", "--batch", "72",
      "--redundant-experts", "40"),
     "--redundant-experts 40: 256 + 40 = 296 experts do not split over --ep 72 (expected 256 + N a multiple of 72, "
     "e.g. --redundant-experts 32 or 104)"),
    (("run", "--system", "hgx-h200x8", "--model", "deepseek-v3", "--tp", "1", "--dp", "8", "--ep", "8", "--batch", "8",
      "--redundant-experts", "-8"), "--redundant-experts -8 must not be negative"),
    (("serve", "--system", "hgx-h200x8", "--model", "deepseek-v3", "--tp", "8", "--redundant-experts", "8"),
     "--redundant-experts 8 needs --ep > 1"),
    # Out of memory with replicas: the advice still names a layout (its own, without them) that fits.
    (("run", "--system", "hgx-h100x8", "--model", "deepseek-v3", "--dp", "8", "--ep", "8", "--batch", "8", "--dtype", "fp8",
      "--redundant-experts", "32"), "a system that fits: --system p5-h100x8 --tp 8 --dp 2"),
    (("run", "--system", "hgx-h100x8", "--model", QWEN_MOE, "--tp", "2", "--pp", "2", "--dp", "2", "--ep", "4", "--batch", "4"),
     "--ep 4 = --tp x --dp (data-parallel attention) with --pp 2"),
    # --devices that no block of the chip's system forms: the flag and the counts that do, not a preset path.
    (("run", "--chip", "h100-sxm", "--devices", "12", "--tp", "4", "--dp", "3", "--batch", "3"),
     "--devices 12: h100-sxm's smallest system of at least that many chips, p5-h100x8 (16 chips), has no block of 12 chips "
     "(expected 1-8, 16, or a multiple of 8 over its scale-out network)"),
    (("run", "--chip", "tpu-v6e", "--devices", "6", "--tp", "2", "--dp", "3", "--batch", "3"), "(expected 1, 2, 4, 8)"),
    (("run", "--system", "hgx-h100x8", "--chip", "tpu-v6e", "--tp", "8"), "--chip tpu-v6e"),
    (("run", "--system", "hgx-h100x8", "--tp", "4", "--dp", "2", "--batch", "3"), "--dp 2"),
    (("run", "--chip", "h100-sxm", "--sp"), "--sp needs --tp"),
    (("run", "--system", "inf2-48xl", "--model", "llama-2-70b", "--tp", "12"), "--pad-heads"),
    (("run", "--system", "inf2-48xl", "--model", "llama-2-70b", "--tp", "12", "--pad-heads", "20"), "--pad-heads 20"),
    (("run", "--system", "inf2-48xl", "--model", "llama-2-70b", "--tp", "12", "--pad-heads", "-2"), "--pad-heads must be a positive"),
    (("run", "--chip", "trn1", "--pad-heads", "-3"), "--pad-heads must be a positive number of cores, got -3"),
    # Neuron's head padding on a GPU or TPU padded their heads as no stack of theirs does (QA qa48): refused, with the
    # chip's family and where it applies, also before a --tp it does not divide (compare has no --pad-heads).
    (("run", "--chip", "h100-sxm", "--pad-heads", "8"), "--pad-heads 8: heads padded as AWS Neuron stores them for its "
     "NeuronCores apply to the trainium family (trn1, trn2, inf2), not h100-sxm (gpu), whose serving stacks split the heads"),
    (("run", "--system", "hgx-h100x8", "--tp", "8", "--pad-heads", "3"), "--pad-heads 3: heads padded as AWS Neuron"),
    (("serve", "--chip", "tpu-v6e", "--pad-heads", "8"), "not tpu-v6e (tpu),"),
    (("run", "--chip", "h100-sxm", "--tp", "3", "--devices", "3"), "or on a trainium chip --pad-heads as Neuron pads them"),
    (("serve", "--system", "hgx-h100x8", "--tp", "8", "--ep", "8", "--model", QWEN_MOE), "--ep 8 does not divide"),
    (("serve", "--system", "hgx-h100x8", "--tp", "8", "--ep", "8"), "--ep 8"),
    (("serve", "--system", "hgx-h100x8", "--tp", "4", "--pp", "64"), "--pp 64"),
    (("compare", "--chips", "hgx-h100x8:tp8ep3", "--model", QWEN_MOE), "--ep 3"),
    (("compare", "--chips", "hgx-h100x8:tp4xx2"), "tpN"),
    (("compare", "--chips", "h100-sxm:tp2"), "system preset"),
    (("compare", "--chips", "hgx-h100x8:tp9"), "tpN"),
    (("kernel", "alltoall", "--system", "hgx-h100x8", "--nodes", "2", "--bytes", "1MiB", "--algo", "deepep"),
     "--algo deepep: DeepEP's forwarding runs an expert dispatch or combine, not a plain all-to-all of --bytes"),
    (("run", "--chip", "h100-sxm", "--two-batch-overlap"), "--two-batch-overlap overlaps one micro-batch's collectives"),
    (("run", "--system", "hgx-h100x8", "--tp", "4", "--pp", "2", "--batch", "4", "--two-batch-overlap"),
     "--two-batch-overlap with --pp 2"),
    (("run", "--system", "hgx-h100x8", "--tp", "4", "--dp", "2", "--batch", "6", "--two-batch-overlap"),
     "3 sequences per replica, which do not split into two micro-batches (expected an even number per replica: --batch 8)"),
])
def test_bad_layouts_are_one_line(cli, args, needle):
    p = cli(*args, check=False)
    assert p.returncode != 0
    line = p.stderr.strip()
    assert line.count("\n") == 0 and needle in line, line


def test_compare_with_a_preset_path_writes_its_config_inside_the_study(cli, tmp_path):
    preset = os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml")
    out = tmp_path / "path_test"
    p = cli("compare", "--chips", preset, "--model", "llama-3.1-8b", "--input", "128", "--output", "8",
            "--max-batch", "2", "--name", "path_test", "--out", str(out), "--no-report", check=False)
    assert p.returncode == 0, p.stderr
    assert (out / "configs" / "h100_sxm.yaml").is_file()
    assert sorted(x.name for x in (out / "configs").iterdir()) == ["h100_sxm.yaml"]


def test_out_of_memory_advice_names_a_layout_that_fits(cli):
    p = cli("run", "--model", "llama-3.1-70b", "--system", "hgx-h100x8", "--tp", "1", "--dp", "8", "--batch", "8",
            check=False)
    assert p.returncode == 2 and "on hgx-h100x8: --tp 2 --dp 4" in p.stderr, p.stderr
    p = cli("run", "--model", "llama-3.1-70b", "--batch", "8", check=False)  # one chip: a shipped system that fits
    assert p.returncode == 2 and "a system that fits: --system hgx-h100x8 --tp 2 --dp 4" in p.stderr, p.stderr


def test_out_of_memory_advice_names_a_system_even_when_none_holds_it_as_shipped(cli):
    # DeepSeek-V3 in BF16 (1.34 TB of weights) needs 32 H100s; the largest shipped H100 system has 16, so
    # the advice says so and names the fewest nodes of a scale-out system that hold it.
    p = cli("run", "--model", "deepseek-v3", "--chip", "h100-sxm", check=False)
    line = p.stderr.strip()
    assert p.returncode == 2 and line.count("\n") == 0, p.stderr
    assert "--tp 32" in line and "none of the shipped systems of h100-sxm holds it as shipped" in line, line
    assert "with more nodes: --system hgx-h100x8 --nodes 4 --tp 32 --dp 1 (" in line, line
    # Inferentia2's only system has no scale-out network: the advice says plainly that nothing ships.
    p = cli("run", "--model", "llama-3.1-405b", "--chip", "inf2", check=False)
    assert p.returncode == 2 and "none of the shipped systems of inf2 holds it" in p.stderr, p.stderr
    assert "none has a scale-out network" in p.stderr, p.stderr


def test_serve_out_of_memory_advice_names_a_layout_with_room_for_a_request(cli):
    # Llama-3.1-70B in BF16 (141 GB of weights) does not fit one H100; split over two chips it leaves
    # room for a request's KV cache under vLLM's 90% memory use, so the advice is tp2 with four replicas.
    request = ("serve", "--model", "llama-3.1-70b", "--input", "1024", "--output", "256", "--concurrency", "1")
    serve = request + ("--dtype", "bf16")
    p = cli(*serve, "--system", "hgx-h100x8", "--tp", "1", "--dp", "8", check=False)
    line = p.stderr.strip()
    assert p.returncode == 2 and line.count("\n") == 0, p.stderr
    assert "llama-3.1-70b" in line and "on hgx-h100x8: --tp 2 --dp 4 (" in line and "per device)" in line, line
    # FP8 weights fit one chip, but not with the activations of a 64k-token iteration: the serve rule
    # (room for one request's KV cache after the scheduler's activations) picks the layout.
    p = cli(*request, "--dtype", "fp8", "--token-budget", "65536", check=False)
    assert p.returncode == 2 and "a system that fits: --system hgx-h100x8 --tp 2 --dp 4" in p.stderr, p.stderr
    p = cli(*serve, check=False)  # one chip: a shipped system that fits
    assert p.returncode == 2 and "a system that fits: --system hgx-h100x8 --tp 2 --dp 4" in p.stderr, p.stderr
    # The advice is a layout that serves: the same request on it runs.
    ok = cli(*serve, "--system", "hgx-h100x8", "--tp", "2", "--dp", "4", "--requests", "4")
    assert ok.returncode == 0


def test_negative_devices_from_python_are_refused():
    with pytest.raises(xpusim.InputError, match="^devices must be a positive integer, got -2"):
        xpusim.run(model="llama-3.1-8b", devices=-2)


def test_tensor_parallel_inside_experts_in_the_report(cli):
    # Mixtral on hgx-h100x8 at --tp 8 --ep 2: two expert groups of four ranks, each expert split four ways;
    # the MoE block ends in the TP all-reduce (16 tokens x 4096 x bf16), no all-to-all.
    run = ("run", "--system", "hgx-h100x8", "--model", "mixtral-8x7b", "--batch", "16", "--format", "json")
    j = json.loads(cli(*run, "--tp", "8", "--ep", "2").stdout)
    assert j["layout"]["name"] == "tp8 x ep2 (expert tp4)" and j["layout"]["expert_tp"] == 4, j["layout"]
    comm = [k for k in j["steps"][0]["kernels"] if k.get("collective_bytes")]
    assert {k["label"] for k in comm} == {"embed_allreduce", "layer.attn_allreduce", "layer.moe_allreduce", "logits_allgather"}
    assert all(k["collective_bytes"] == (16 * 32000 * 2 if k["label"] == "logits_allgather" else 16 * 4096 * 2) for k in comm)
    plain = json.loads(cli(*run, "--tp", "8").stdout)
    assert plain["layout"]["expert_tp"] == 8
    assert j["memory"]["weights_bytes"] == plain["memory"]["weights_bytes"]  # 1/8 of the experts either way
    p = cli(*run, "--tp", "8", "--ep", "3", check=False)
    assert p.returncode == 2 and "--ep 3 must divide --tp (8" in p.stderr, p.stderr


def test_neuron_head_layout_through_the_cli_and_the_module(cli):
    """Llama-2-70B at TP24 NeuronCores on inf2.48xlarge, as AWS Neuron's tables run it: 64 query heads
    padded to 72 and the 8 KV heads replicated per query head, 6 of each per chip."""
    args = ("run", "--system", "inf2-48xl", "--model", "llama-2-70b", "--tp", "12", "--pad-heads", "24", "--batch", "1",
            "--input", "512", "--format", "json")
    j = json.loads(cli(*args).stdout)
    assert j["layout"]["pad_heads"] == 24 and "24 NeuronCores" in j["layout"]["name"]
    kv = j["memory"]["kv_cache_bytes"]
    # 80 layers x K and V x 6 heads x 128 x 2 bytes per token of the 513 cached
    assert kv == pytest.approx(80 * 2 * 6 * 128 * 2 * 513, rel=1e-9)
    r = xpusim.run(model="llama-2-70b", system="inf2-48xl", tp=12, pad_heads=24, batch=1, input=512)
    assert r["tpot_s"] == j["tpot_s"]


def test_neuron_buckets_pad_the_prompt_and_run_decode_over_the_token_bucket(cli):
    """--neuron-buckets N: transformers-neuronx's default buckets for N positions. A 300-token prompt runs the
    512-token context graph (the TTFT of a 512-token prompt), and decode steps attend over their token bucket."""
    base = ("run", "--system", "inf2-48xl", "--model", "llama-2-7b", "--tp", "12", "--pad-heads", "24", "--phase",
            "request", "--output", "4", "--format", "json")
    padded = json.loads(cli(*base, "--input", "300", "--neuron-buckets", "4096").stdout)
    exact512 = json.loads(cli(*base, "--input", "512").stdout)
    assert padded["ttft_s"] == pytest.approx(exact512["ttft_s"], rel=1e-9)
    decode = [s for s in padded["steps"] if s["phase"] == "decode"]
    assert decode and all(s["context"] == 512 for s in decode)  # caches of 301..303 tokens: the 512 bucket
    r = xpusim.run(model="llama-2-7b", system="inf2-48xl", tp=12, pad_heads=24, phase="request", input=300, output=4,
                   neuron_buckets=4096)
    assert r["ttft_s"] == padded["ttft_s"] and r["tpot_s"] == padded["tpot_s"]  # one path for the CLI and the module
    p = cli(*base, "--input", "300", "--neuron-buckets", "256", check=False)
    assert p.returncode != 0 and "--neuron-buckets 256" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_neuron_buckets_are_refused_off_the_neuron_family(cli):
    """--neuron-buckets is transformers-neuronx's: on a GPU, TPU or Maia chip it is refused in one line naming
    the flag and where it applies (it was applied to their steps without a word)."""
    for chip in ("h100-sxm", "tpu-v6e", "maia200"):
        p = cli("run", "--chip", chip, "--model", "llama-3.1-8b", "--phase", "request", "--input", "300", "--output", "4",
                "--neuron-buckets", "4096", check=False)
        line = p.stderr.strip()
        assert p.returncode != 0 and line.count("\n") == 0, (chip, line)
        assert "--neuron-buckets" in line and "trainium family" in line and chip in line, (chip, line)
    with pytest.raises(xpusim.InputError, match="^neuron_buckets: "):
        xpusim.run(model="llama-3.1-8b", chip="h100-sxm", phase="request", input=300, output=4, neuron_buckets=4096)


def test_run_energy_per_token_counts_every_device_of_the_layout():
    # dp8 x batch 8 is eight copies of one chip at batch 1: the same energy per token, not an eighth of it.
    one = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", batch=1, input=256)
    dp8 = xpusim.run(model="llama-3.1-8b", system="hgx-h100x8", dp=8, batch=8, input=256)
    assert dp8["joules_per_token"] == pytest.approx(one["joules_per_token"], rel=0.02)
    # And on a TP group: J/token x tokens/s is every device's power.
    tp = xpusim.run(model="llama-3.1-8b", system="hgx-h100x8", tp=8, batch=8, input=256)
    assert tp["joules_per_token"] * tp["tokens_per_s"] == pytest.approx(tp["power"]["avg_power_w"] * 8, rel=1e-6)


@pytest.mark.parametrize("chip,fp4", [("tpu-v6e", False), ("h100-sxm", False), ("b200", True)])
def test_memory_advice_names_fp4_only_where_the_chip_runs_it(cli, chip, fp4):
    # 405B at fp8 on two chips does not fit on any of these; fp4 weights would halve it, where the chip has them.
    r = cli("run", "--chip", chip, "--devices", "2", "--tp", "2", "--model", "llama-3.1-405b", "--batch", "1",
            "--input", "128", "--dtype", "fp8", check=False)
    assert r.returncode != 0 and "does not fit" in r.stderr
    assert ("fp4 weights" in r.stderr) == fp4, r.stderr
    assert "where the chip supports" not in r.stderr


def test_pipeline_hand_offs_are_in_the_breakdown(cli):
    # Each micro-batch's hidden states (tokens x hidden x bf16) go to the next stage: listed per stage
    # beside the collectives, with their bytes and time (before, the sends were in the step but not listed).
    j = json.loads(cli("run", "--system", "hgx-h100x8", "--model", "llama-3.1-8b", "--tp", "4", "--pp", "2", "--phase",
                       "prefill", "--batch", "2", "--input", "256", "--format", "json").stdout)
    sends = [k for k in j["steps"][0]["kernels"] if k["op"] == "sendrecv"]
    assert [k["stage"] for k in sends] == [0]  # a prefill pass: the last stage sends nothing back
    s = sends[0]
    assert s["count"] == 2 and s["collective_bytes"] == 256 * 4096 * 2 and s["algorithm"] == "p2p"
    assert s["time_s"] > 2 * s["collective_bytes"] / 450e9 and 0 < s["share"] < 1


def test_deepseek_v3_over_all_72_gpus_of_an_nvl72_with_redundant_experts(cli):
    """EP72 of DeepSeek-V3's 256 experts: 32 redundant ones (the V3 report's prefill count) make 288 = 4 per
    GPU, placed by EPLB; every GPU holds 4 experts' weights per MoE layer, and a bad count exits 2."""
    run = ("run", "--system", "gb200-nvl72", "--model", "deepseek-v3", "--tp", "1", "--dp", "72", "--ep", "72",
           "--batch", "72", "--input", "512", "--dtype", "fp8", "--format", "json")
    j = json.loads(cli(*run, "--redundant-experts", "32").stdout)
    assert j["layout"]["redundant_experts"] == 32 and j["layout"]["name"] == "dp72 x ep72 (+32 redundant experts)"
    a2a = {k["label"]: k["collective_bytes"] for k in j["steps"][0]["kernels"] if k["op"] == "alltoall"}
    assert set(a2a) == {"layer[moe].moe_dispatch", "layer[moe].moe_combine"}, a2a
    bad = cli(*run, "--redundant-experts", "33", check=False)
    assert bad.returncode == 2 and "--redundant-experts 33" in bad.stderr and "e.g. --redundant-experts 32 or 104" in bad.stderr
    mod = xpusim.run(model="deepseek-v3", system="gb200-nvl72", tp=1, dp=72, ep=72, batch=72, input=512, dtype="fp8",
                     redundant_experts=32)
    assert mod["tpot_s"] == j["tpot_s"]


def test_redundant_experts_from_a_scenario_file_equal_the_flag(cli, tmp_path):
    f = tmp_path / "replicas.yaml"
    f.write_text("description: Qwen MoE with replicas of its hottest experts\nredundant_experts: 4\n")
    moe = (*SERVE_MOE, "--tp", "1", "--dp", "4", "--ep", "4")
    a = json.loads(cli(*moe, "--scenario-file", str(f)).stdout)
    b = json.loads(cli(*moe, "--redundant-experts", "4").stdout)
    assert a["layout"]["name"] == "dp4 x ep4 (+4 redundant experts)"
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "layout"):
        assert a[key] == b[key], key
    both = cli(*moe, "--redundant-experts", "4", "--scenario-file", str(f), check=False)
    assert both.returncode == 2 and "redundant_experts" in both.stderr and "either this key or --redundant-experts" in both.stderr
    f.write_text("redundant_experts: -4\n")
    neg = cli(*moe, "--scenario-file", str(f), check=False)
    assert neg.returncode == 2 and "redundant_experts: '-4'" in neg.stderr, neg.stderr


def test_layout_mismatch_example_is_a_layout_that_runs(cli):
    """A layout whose product is not the system's chips is refused with an example that multiplies to the
    chips and splits the model's heads (it used to offer --tp min(chips, 8) --dp max(1, chips/8): --tp 6 on
    six chips, a TP group that does not divide Llama's 32 heads, and --tp 8 --dp 1 on twelve)."""
    p = cli("run", "--chip", "h100-sxm", "--devices", "6", "--model", "llama-3.1-8b", "--tp", "4", check=False)
    assert p.returncode == 2 and "e.g. --tp 2 --dp 3)" in p.stderr, p.stderr
    ok = cli("run", "--chip", "h100-sxm", "--devices", "6", "--model", "llama-3.1-8b", "--tp", "2", "--dp", "3",
             "--batch", "3", "--input", "128", "--format", "json")
    assert json.loads(ok.stdout)["devices"] == 6
    p = cli("run", "--chip", "h100-sxm", "--devices", "5", "--model", "llama-3.1-8b", check=False)
    assert p.returncode == 2 and "e.g. --tp 1 --dp 5)" in p.stderr, p.stderr


def test_layout_mismatch_example_keeps_the_given_degrees(cli):
    """The example keeps the degrees the user gave and fills in the one left at 1: --tp 2 on four chips
    suggested --tp 4 --dp 1 (the widest TP group), where --tp 2 --dp 2 is the closer fix."""
    p = cli("run", "--chip", "h100-sxm", "--devices", "4", "--model", "llama-3.1-8b", "--tp", "2", check=False)
    assert p.returncode == 2 and "e.g. --tp 2 --dp 2)" in p.stderr, p.stderr
    p = cli("run", "--chip", "h100-sxm", "--devices", "8", "--model", "llama-3.1-8b", "--dp", "2", "--batch", "2",
            check=False)
    assert p.returncode == 2 and "e.g. --tp 4 --dp 2)" in p.stderr, p.stderr
    p = cli("run", "--chip", "h100-sxm", "--devices", "8", "--model", "llama-3.1-8b", "--tp", "2", "--pp", "2",
            "--batch", "2", check=False)
    assert p.returncode == 2 and "e.g. --tp 2 --pp 2 --dp 2)" in p.stderr, p.stderr


def test_layout_mismatch_example_keeps_the_users_stages(cli):
    """QA session 43: with --pp given, the example named no --pp, so following it kept the stages: --tp 4 --pp 4
    on four chips offered "e.g. --tp 4 --dp 1" (16 chips again with --pp 4). It keeps the stages where they
    divide the chips (and the user's TP group where it divides the rest), else says --pp 1."""
    p = cli("run", "--chip", "h100-sxm", "--devices", "4", "--model", "llama-3.1-8b", "--tp", "4", "--pp", "4",
            "--batch", "4", check=False)
    assert p.returncode == 2 and "e.g. --tp 1 --pp 4 --dp 1)" in p.stderr, p.stderr
    ok = cli("run", "--chip", "h100-sxm", "--devices", "4", "--model", "llama-3.1-8b", "--tp", "1", "--pp", "4",
             "--dp", "1", "--batch", "4", "--input", "128", "--format", "json")
    assert json.loads(ok.stdout)["devices"] == 4
    p = cli("run", "--chip", "h100-sxm", "--devices", "8", "--model", "llama-3.1-8b", "--tp", "2", "--pp", "2",
            "--dp", "4", "--batch", "8", check=False)
    assert p.returncode == 2 and "e.g. --tp 2 --pp 2 --dp 2)" in p.stderr, p.stderr
    p = cli("run", "--chip", "h100-sxm", "--devices", "6", "--model", "llama-3.1-8b", "--tp", "2", "--pp", "4",
            "--batch", "4", check=False)
    assert p.returncode == 2 and "e.g. --tp 2 --pp 1 --dp 3)" in p.stderr, p.stderr


def test_layout_mismatch_example_keeps_data_parallel_attention(cli):
    """QA session 43: --ep 4 --dp 4 (data-parallel attention) on eight chips offered "e.g. --tp 2 --dp 4", which the
    --ep 4 kept then refused; the example keeps the kind, the attention groups filling the chips."""
    moe = ("run", "--system", "hgx-h100x8", "--model", "qwen3-30b-a3b", "--dtype", "fp8", "--input", "128")
    p = cli(*moe, "--ep", "4", "--dp", "4", "--batch", "8", check=False)
    assert p.returncode == 2 and "e.g. --tp 1 --dp 8 --ep 8)" in p.stderr, p.stderr
    assert json.loads(cli(*moe, "--tp", "1", "--dp", "8", "--ep", "8", "--batch", "8", "--format", "json").stdout)["devices"] == 8
    # Where the chips would be more EP ranks than the experts split over (Mixtral's 8 on 16 chips: --ep 16 refused),
    # the example is one the --ep 4 given fits: --tp 4 --dp 4 (experts over each TP group).
    mix = ("run", "--chip", "h100-sxm", "--devices", "16", "--model", "mixtral-8x7b", "--phase", "decode", "--batch", "16")
    p = cli(*mix, "--tp", "1", "--dp", "4", "--ep", "4", check=False)
    assert p.returncode == 2 and "e.g. --tp 4 --dp 4)" in p.stderr and "--ep 16" not in p.stderr, p.stderr
    assert json.loads(cli(*mix, "--tp", "4", "--dp", "4", "--ep", "4", "--format", "json").stdout)["devices"] == 16


def test_micro_batch_advice_is_the_most_that_split_the_sequences(cli):
    """QA session 43: 8 sequences in 3 micro-batches offered --microbatches 1 (gcd(8, 3)), the whole pipeline's
    bubble, where 2 split them."""
    p = cli("run", "--chip", "h100-sxm", "--devices", "4", "--model", "llama-3.1-8b", "--pp", "4", "--microbatches", "3",
            "--batch", "8", check=False)
    assert p.returncode == 2 and "or --microbatches 2)" in p.stderr, p.stderr
    p = cli("run", "--chip", "h100-sxm", "--devices", "4", "--model", "llama-3.1-8b", "--pp", "4", "--microbatches", "5",
            "--batch", "12", check=False)
    assert p.returncode == 2 and "or --microbatches 4)" in p.stderr, p.stderr


def test_fused_rows_count_every_micro_batch(cli):
    # A fused op runs inside its host kernel once per micro-batch: its row counts as the host's does
    # (before, pp2 x 2 micro-batches listed layer.attn_residual x16 beside layer.mlp_norm x32).
    j = json.loads(cli("run", "--chip", "h100-sxm", "--devices", "2", "--model", "llama-3.1-8b", "--pp", "2",
                       "--batch", "2", "--format", "json").stdout)
    rows = {(k["stage"], k["label"]): k for k in j["steps"][0]["kernels"]}
    fused = [k for k in rows.values() if k["fused"]]
    assert fused
    for k in fused:
        assert k["count"] == rows[(k["stage"], k["fused_into"])]["count"], k


def test_pipeline_table_says_why_its_shares_exceed_the_step(cli):
    # With stages side by side each row's share is of the step's time and they add up to more than 100%:
    # the table says so under the breakdown (a user read it as an error); one chip's table does not.
    out = cli("run", "--chip", "h100-sxm", "--devices", "2", "--model", "llama-3.1-8b", "--pp", "2", "--batch", "2").stdout
    shares = [float(m) for m in re.findall(r" ([0-9.]+)% ", out)]
    assert sum(shares) > 100 and "the stages run side by side, so the shares add up to more than 100%" in out
    assert "add up to more than 100%" not in cli("run", "--model", "llama-3.1-8b").stdout


def test_dp_dispatch_needs_data_parallel_attention(cli):
    """--dp-dispatch is the data-parallel attention controller's policy: given where no DP attention runs
    (no --dp, or replicas whose experts stay inside --tp) it is refused in one line naming the flag; with
    DP attention it applies, round_robin by default."""
    for layout in (["--tp", "4", "--ep", "4"], ["--tp", "2", "--dp", "2"]):
        p = cli(*SERVE_MOE, *layout, "--dp-dispatch", "shortest_queue", check=False)
        line = p.stderr.strip()
        assert p.returncode != 0 and line.count("\n") == 0 and "--dp-dispatch shortest_queue" in line, (layout, line)
        assert "data-parallel attention" in line, line
    dpa = ["--tp", "1", "--dp", "4", "--ep", "4"]
    assert "(round_robin)" in json.loads(cli(*SERVE_MOE, *dpa).stdout)["folding"]
    assert "(shortest_queue)" in json.loads(cli(*SERVE_MOE, *dpa, "--dp-dispatch", "shortest_queue").stdout)["folding"]


DRAFT_TP = ("serve", "--system", "hgx-h100x8", "--tp", "4", "--dp", "2", "--model", "llama-3.1-70b", "--concurrency", "4",
            "--requests", "8", "--input", "256", "--output", "16", "--format", "json")
DRAFT = ("--spec-tokens", "3", "--spec-accept", "0.7", "--spec-method", "draft", "--spec-draft", "llama-3.1-8b")


def test_a_draft_tp_of_one_runs_the_drafter_whole_on_the_first_rank(cli):
    """--spec-draft-tp 1 (vLLM's draft_tensor_parallel_size, as V0's SmallerTpProposerWorker ran it; serve.h): the
    draft model lives whole on each TP group's first rank, which holds its whole weights and its KV of every token
    (65,536 B: 32 layers x 8 KV heads x 128 x K, V x 1 byte) and so bounds the KV cache, where on the target's tp4
    group each rank holds a quarter (2 of the 8 KV heads); its passes run with no collective (each replica's). The target's tp given
    as the draft tp is the default, number for number."""
    none = json.loads(cli(*DRAFT_TP).stdout)
    four = json.loads(cli(*DRAFT_TP, *DRAFT).stdout)
    one = json.loads(cli(*DRAFT_TP, *DRAFT, "--spec-draft-tp", "1").stdout)
    assert one["speculative"]["draft_tp"] == 1 and four["speculative"]["draft_tp"] == 4
    assert "whole on the first rank of the target's tp4 group" in one["speculative"]["drafter"]
    m0, m4, m1 = none["memory"], four["memory"], one["memory"]
    assert m1["kv_bytes_per_token"] - m0["kv_bytes_per_token"] == 32 * 8 * 128 * 2
    assert m4["kv_bytes_per_token"] - m0["kv_bytes_per_token"] == 32 * 2 * 128 * 2
    whole, quarter = m1["weights_bytes"] - m0["weights_bytes"], m4["weights_bytes"] - m0["weights_bytes"]
    assert 3.5 * quarter < whole < 4.5 * quarter and m1["kv_tokens"] < m4["kv_tokens"]
    assert one["tpot_s"] != four["tpot_s"]
    py = xpusim.serve(model="llama-3.1-70b", system="hgx-h100x8", tp=4, dp=2, concurrency=4, requests=8, input=256,
                      output=16, spec_tokens=3, spec_accept=0.7, spec_method="draft", spec_draft="llama-3.1-8b", spec_draft_tp=1)
    assert py["memory"] == one["memory"] and py["tpot_s"] == one["tpot_s"]
    same = json.loads(cli(*DRAFT_TP, *DRAFT, "--spec-draft-tp", "4").stdout)
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "memory", "speculative"):
        assert same[key] == four[key], key


@pytest.mark.parametrize("extra,names", [
    (("--spec-draft-tp", "2"), ("--spec-draft-tp 2", "expected 1 or the target's tensor-parallel degree 4")),
    (("--spec-draft-tp", "1", "--scheduler", "sglang"), ("--scheduler sglang", "target's TP group")),
    (("--spec-draft-tp", "1", "--spec-method", "mtp", "--spec-draft", "0.1"), ("--spec-draft-tp 1", "cost fraction")),
    (("--spec-draft-tp", "1", "--prefill-devices", "4", "--decode-devices", "4"), ("--spec-draft-tp 1", "disaggregated pools")),
])
def test_a_draft_tp_the_stacks_do_not_run_is_refused(cli, extra, names):
    base = [a for a in DRAFT_TP if a not in ("--format", "json")]
    if "--decode-devices" in extra:  # the pools take the 8 chips
        base = [a for a in base if a not in ("--dp", "2")]
    spec = list(DRAFT)
    if "--spec-method" in extra:
        spec = spec[:4]
    r = cli(*base, *spec, *extra, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--spec-draft-tp" in r.stderr, r.stderr
    for n in names:
        assert n in r.stderr, r.stderr


def test_a_draft_model_under_pipeline_stages_is_held_whole_by_the_last_stage(cli):
    """The drafter runs unpipelined beside the target's last stage (step_time.h drafter_scenario; vLLM builds it on the
    last PP rank), so that stage's devices hold all its layers' weights and KV, sharded over the TP group as without
    stages: the same bytes added as at --pp 1, where they had been split over the stages as if it were pipelined."""
    base = ("serve", "--system", "hgx-h100x8", "--tp", "4", "--model", "llama-3.1-70b", "--concurrency", "4",
            "--requests", "8", "--input", "256", "--output", "16", "--format", "json")
    added = {}
    for layout in (("--dp", "2"), ("--pp", "2")):
        m0 = json.loads(cli(*base, *layout).stdout)["memory"]
        m = json.loads(cli(*base, *layout, *DRAFT).stdout)["memory"]
        assert m["stage"] == int(layout[0] == "--pp")  # the last stage holds it and has the fewest tokens
        added[layout[0]] = (m["weights_bytes"] - m0["weights_bytes"], m["kv_bytes_per_token"] - m0["kv_bytes_per_token"])
    assert added["--pp"][1] == added["--dp"][1] == 32 * 2 * 128 * 2
    # (at --pp 2 the run without a drafter reports stage 0, whose target weights differ from the last stage's by
    # its final norm: 8 KB)
    assert added["--pp"][0] == pytest.approx(added["--dp"][0], rel=1e-5)
