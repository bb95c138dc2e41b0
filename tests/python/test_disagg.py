"""Disaggregated serving through the CLI and the module: prefill and decode pools on two nodes, the KV
transfers in the report, one path for both front ends, and pools that do not fit refused in one line."""
import json
import os

import pytest
import xpusim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLA_MOE = os.path.join(ROOT, "tests", "data", "models", "deepseek-v2-lite.json")  # 27 layers, MLA latent 512 + 64, 64 experts


def placed(pool):
    """A pool's placement and layout (the report also gives pp and its memory per device)."""
    return {k: pool[k] for k in ("devices", "instances", "tp", "ep", "dp", "first_rank")}

POOLS = ("serve", "--system", "hgx-h100x8", "--nodes", "2", "--tp", "4", "--prefill-devices", "8", "--decode-devices", "8",
         "--model", "llama-3.1-8b", "--concurrency", "4", "--requests", "8", "--input", "512", "--output", "16")


def test_pools_in_one_nvlink_node_share_its_ports_with_the_instances_all_reduces(cli):
    """Both pools in one NVLink node: a KV transfer reaches ranks whose tensor-parallel all-reduces run meanwhile on
    the same NVLink ports, so the fabric replays them beside it and the iterations that ran them take longer. On
    two nodes the transfers cross the NICs and the all-reduces stay on NVLink: they meet, nothing slows."""
    node = ("serve", "--system", "hgx-h100x8", "--tp", "4", "--prefill-devices", "4", "--decode-devices", "4",
            "--model", "llama-3.1-8b", "--concurrency", "8", "--requests", "16", "--input", "2048", "--output", "32")
    one = json.loads(cli(*node, "--format", "json").stdout)["kv_transfer"]
    assert one["collectives_met"] > 0 and one["collective_delay_s"] > 0 and one["converged"]
    assert f"beside {one['collectives_met']} of the instances' collectives (+" in cli(*node).stdout
    two = json.loads(cli(*POOLS, "--format", "json").stdout)["kv_transfer"]
    assert two["collectives_met"] > 0 and two["collective_delay_s"] == 0


def test_kv_transfers_take_device_memory_from_the_kernels_beside_them(cli):
    """A transfer reads its prefill devices' HBM and writes its decode devices' while their iterations run (disagg.h):
    the kernels lose that HBM time (hbm_delay_s, also in the text). Prompts of twice the length move twice the KV and
    cost more; requests of one output token never leave the prefill pool: no transfer, no delay."""
    node = ("serve", "--system", "hgx-h100x8", "--tp", "4", "--prefill-devices", "4", "--decode-devices", "4",
            "--model", "llama-3.1-8b", "--concurrency", "8", "--requests", "16", "--output", "32")
    short = json.loads(cli(*node, "--input", "1024", "--format", "json").stdout)["kv_transfer"]
    long = json.loads(cli(*node, "--input", "2048", "--format", "json").stdout)["kv_transfer"]
    assert 0 < short["hbm_delay_s"] < long["hbm_delay_s"] and long["converged"]
    assert "through their devices' HBM (+" in cli(*node, "--input", "1024").stdout
    none = json.loads(cli(*node[:-2], "--output", "1", "--input", "1024", "--format", "json").stdout)["kv_transfer"]
    assert none["transfers"] == 0 and none["hbm_delay_s"] == 0


def test_a_busy_node_converges_on_the_figures_it_reports(cli):
    """100 requests through TP4 prefill + TP4 decode in one NVLink node: single transfers keep trading the all-reduces
    they meet between rounds, the figures the run reports settle within 1% (the quantiles within their sampling bands) in
    2 rounds, measured (disagg.h)."""
    busy = ("serve", "--system", "hgx-h100x8", "--tp", "4", "--prefill-devices", "4", "--decode-devices", "4",
            "--model", "llama-3.1-8b", "--requests", "100", "--format", "json")
    k = json.loads(cli(*busy).stdout)["kv_transfer"]
    assert k["converged"] and k["fabric_runs"] <= 2 and k["collective_delay_s"] > 0


def test_a_run_drifting_to_its_fixed_point_converges_in_three_rounds(cli):
    """400 requests at 32 users on that node: after the first rounds the fabric's transfer times barely move with the
    engine's, and halving each step only halved the gap (the mean's residual -9.8, -5.2, -2.6, -1.3%: not converged in
    6 rounds). The first round's second fabric run and the secant step where a residual keeps its sign (disagg.h)
    settle it in 3, measured."""
    drift = ("serve", "--system", "hgx-h100x8", "--tp", "4", "--prefill-devices", "4", "--decode-devices", "4",
             "--model", "llama-3.1-8b", "--requests", "400", "--concurrency", "32", "--format", "json")
    k = json.loads(cli(*drift).stdout)["kv_transfer"]
    assert k["converged"] and k["fabric_runs"] <= 3


def test_pools_report_their_kv_transfers_and_every_chip(cli):
    j = json.loads(cli(*POOLS, "--format", "json").stdout)
    d = j["disaggregated"]
    assert placed(d["prefill"]) == {"devices": 8, "instances": 2, "tp": 4, "ep": 1, "dp": 1, "first_rank": 0}
    assert placed(d["decode"]) == {"devices": 8, "instances": 2, "tp": 4, "ep": 1, "dp": 1, "first_rank": 8}
    assert d["decode"]["weight_bytes"] > 0 and d["decode"]["kv_tokens"] >= 512 + 16
    # llama-3.1-8b: 32 layers x 8 KV heads x 128 x (K, V) x 1 byte (fp8 KV cache) per token.
    assert d["kv_bytes_per_token"] == 32 * 8 * 128 * 2 * 1
    assert j["devices"] == 16
    k = j["kv_transfer"]
    assert k["transfers"] == 8 and k["bytes_mean"] == 512 * d["kv_bytes_per_token"]
    # Each of 4 ranks sends 4 MiB over its own 400 Gb/s rail: at least the line rate's time, and contended
    # transfers never beat a transfer alone.
    assert k["alone_s"] > 512 * 32 * 8 * 128 * 2 / 4 / 50e9
    assert k["time_p99_s"] >= k["time_mean_s"] >= k["alone_s"] * 0.999
    assert k["converged"]
    assert j["throughput_tok_s_per_chip"] == pytest.approx(j["throughput_tok_s"] / 16)
    # Power: each pool's chips averaged over the run; the peak is the highest iteration, above both.
    assert j["peak_power_w"] >= max(k["prefill_power_w"], k["decode_power_w"]) > 0
    assert min(k["prefill_power_w"], k["decode_power_w"]) <= j["avg_power_w"] <= max(k["prefill_power_w"], k["decode_power_w"])
    # TTFT ends at the first token (prefill pool); TPOT carries the transfer.
    assert j["ttft_s"] < j["e2e_p50_s"]
    table = cli(*POOLS).stdout
    assert "prefill pool 8 chips (2 x tp4, ranks 0-7;" in table and "KV transfers: 8 of" in table


def test_the_module_takes_the_same_path():
    j = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", nodes=2, tp=4, prefill_devices=8, decode_devices=8,
                     concurrency=4, requests=8, input=512, output=16)
    assert j["disaggregated"]["decode"]["instances"] == 2
    assert j["kv_transfer"]["transfers"] == 8
    assert j["throughput_tok_s"] > 0 and j["ttft_s"] > 0


def test_cli_and_module_agree(cli):
    a = json.loads(cli(*POOLS, "--format", "json").stdout)
    b = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", nodes=2, tp=4, prefill_devices=8, decode_devices=8,
                     concurrency=4, requests=8, input=512, output=16)
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "e2e_p50_s", "kv_transfer", "disaggregated"):
        assert a[key] == b[key], key


SPEC = ("--spec-tokens", "2", "--spec-accept", "0.7")  # the model's MTP module (one layer of its shape)
# llama-3.1-8b per token: 32 layers (the MTP module: 1) x 8 KV heads x 128 x (K, V) x 1 byte (fp8 KV cache).
LAYER_KV = 8 * 128 * 2 * 1


def _colocated_weights(cli, tp, *spec):
    args = ("serve", "--system", "hgx-h100x8", "--tp", str(tp), "--dp", str(8 // tp), "--model", "llama-3.1-8b", "--requests", "2",
            "--input", "64", "--output", "4", "--format", "json", *spec)
    return json.loads(cli(*args).stdout)["memory"]["weights_bytes"]


def test_speculative_decoding_runs_on_the_pools(cli):
    """Speculative decoding with pools (disagg.h), as SGLang's PD disaggregation runs MTP: the drafter on both pools, its
    KV of the prompt in each transfer (one MTP layer's per token beside the target's 32), its weights in each pool's
    memory (each pool at its own tp: what colocated serving at that tp adds), the decode pool's verify steps emitting
    the accepted tokens, so TPOT falls while every token is still produced once."""
    plain = json.loads(cli(*POOLS, "--prefill-tp", "2", "--format", "json").stdout)
    j = json.loads(cli(*POOLS, "--prefill-tp", "2", *SPEC, "--format", "json").stdout)
    d, k = j["disaggregated"], j["kv_transfer"]
    assert d["draft_kv_bytes_per_token"] == LAYER_KV
    assert d["kv_bytes_per_token"] == 33 * LAYER_KV
    assert k["transfers"] == 8 and k["bytes_mean"] == 512 * 33 * LAYER_KV and k["converged"]
    for pool, tp in (("prefill", 2), ("decode", 4)):
        added = d[pool]["weight_bytes"] - plain["disaggregated"][pool]["weight_bytes"]
        assert added > 0 and added == _colocated_weights(cli, tp, *SPEC) - _colocated_weights(cli, tp), pool
    assert j["speculative"]["tokens"] == 2 and "mtp" in j["speculative"]["drafter"]
    assert j["tpot_s"] < plain["tpot_s"] and j["throughput_tok_s"] > plain["throughput_tok_s"]
    assert "(the drafter's 2.048 kB included)" in cli(*POOLS, *SPEC).stdout
    # A drafter as a fraction of the target's cost keeps no memory and sends no KV (as colocated).
    f = json.loads(cli(*POOLS, *SPEC, "--spec-draft", "0.05", "--format", "json").stdout)
    assert f["disaggregated"]["draft_kv_bytes_per_token"] == 0 and f["kv_transfer"]["bytes_mean"] == 512 * 32 * LAYER_KV


def test_speculative_pools_cli_and_module_agree(cli):
    a = json.loads(cli(*POOLS, *SPEC, "--format", "json").stdout)
    b = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", nodes=2, tp=4, prefill_devices=8, decode_devices=8,
                     concurrency=4, requests=8, input=512, output=16, spec_tokens=2, spec_accept=0.7)
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "kv_transfer", "disaggregated", "speculative"):
        assert a[key] == b[key], key


def test_prefill_instances_take_their_own_tp(cli):
    j = json.loads(cli(*POOLS, "--prefill-tp", "2", "--format", "json").stdout)
    d = j["disaggregated"]
    assert placed(d["prefill"]) == {"devices": 8, "instances": 4, "tp": 2, "ep": 1, "dp": 1, "first_rank": 0}
    assert d["decode"]["tp"] == 4 and d["decode"]["instances"] == 2
    k = j["kv_transfer"]
    # The same bytes cross (8 KV heads split either way), now from 2 prefill ranks to 4 decode ranks.
    assert k["transfers"] == 8 and k["bytes_mean"] == 512 * 32 * 8 * 128 * 2
    same = json.loads(cli(*POOLS, "--format", "json").stdout)
    # Each prefill rank now sends to two decode ranks; the fabric routes the second message over NVLink to
    # the GPU on the destination's rail (as NCCL's PXN does), so four NICs still carry a quarter each: about
    # the time of rank-to-rank transfers, never less.
    assert same["kv_transfer"]["alone_s"] * 0.999 <= k["alone_s"] < same["kv_transfer"]["alone_s"] * 1.2


def test_a_prefix_hit_shortens_the_prefill_pool_and_sends_the_whole_prompt_with_sglang(cli):
    """--prefix-hit with pools (disagg.h), as SGLang's PD disaggregation runs it by default: the prefill pool takes each
    prompt's cached head from its radix cache and prefills the rest, so it is busy for less and the first tokens come
    sooner at the same load; the decode pool keeps no prefix cache (a chunk cache), so each transfer carries the whole
    prompt's KV, the cached head's included (256 of the 512 tokens)."""
    sglang = (*POOLS, "--scheduler", "sglang")
    plain = json.loads(cli(*sglang, "--format", "json").stdout)
    hit = json.loads(cli(*sglang, "--prefix-hit", "0.5", "--format", "json").stdout)
    per_token = hit["disaggregated"]["kv_bytes_per_token"]
    k0, k = plain["kv_transfer"], hit["kv_transfer"]
    assert hit["prefix_hit"] == 0.5 and per_token == plain["disaggregated"]["kv_bytes_per_token"]
    assert k["transfers"] == 8 and k["bytes_mean"] == 512 * per_token == k0["bytes_mean"]
    assert k["prefix_tokens_mean"] == 256 and k["prefix_bytes_mean"] == 256 * per_token
    assert k["sent_tokens_mean"] == 512 and k["resident_tokens_mean"] == 0
    assert k["prefix_rule"] == k0["prefix_rule"] == "whole prompt (SGLang: decode chunk cache)"
    assert k0["prefix_tokens_mean"] == 0 and k0["prefix_bytes_mean"] == 0
    assert k["prefill_busy"] * hit["makespan_s"] < k0["prefill_busy"] * plain["makespan_s"]
    assert hit["ttft_s"] < plain["ttft_s"]
    assert "of it a cached prefix of 256 tokens, not prefilled; whole prompt (SGLang" in cli(*sglang, "--prefix-hit", "0.5").stdout


def test_sglangs_decode_radix_cache_sends_only_the_tokens_it_lacks(cli, tmp_path):
    """--decode-radix-cache (SGLang's --disaggregation-decode-enable-radix-cache; disagg.h): the decode server keeps its
    radix cache, matches each prompt there first and the prefill server sends from the matched length on, so with
    --scheduler sglang a transfer carries the 256 uncached tokens' KV, as vLLM's connector does, instead of the whole
    prompt; the report names the rule used. Without a hit it changes nothing but that name; without the flag the
    default rule holds (test above); from a scenario file, the same run."""
    sglang = (*POOLS, "--scheduler", "sglang", "--prefix-hit", "0.5")
    chunk = json.loads(cli(*sglang, "--format", "json").stdout)
    radix = json.loads(cli(*sglang, "--decode-radix-cache", "--format", "json").stdout)
    per_token = radix["disaggregated"]["kv_bytes_per_token"]
    kc, kr = chunk["kv_transfer"], radix["kv_transfer"]
    assert kc["bytes_mean"] == 512 * per_token and kr["bytes_mean"] == 256 * per_token
    assert kr["sent_tokens_mean"] == 256 and kr["resident_tokens_mean"] == 256 and kr["prefix_tokens_mean"] == 256
    assert kr["prefix_rule"] == "uncached tokens (SGLang: decode radix cache, --disaggregation-decode-enable-radix-cache)"
    assert kc["prefix_rule"] == "whole prompt (SGLang: decode chunk cache)"
    assert kr["alone_s"] < kc["alone_s"]
    assert "uncached tokens (SGLang: decode radix cache" in cli(*sglang, "--decode-radix-cache").stdout
    py = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", nodes=2, tp=4, prefill_devices=8, decode_devices=8,
                      concurrency=4, requests=8, input=512, output=16, scheduler="sglang", prefix_hit=0.5,
                      decode_radix_cache=True)
    assert py["kv_transfer"] == kr and py["throughput_tok_s"] == radix["throughput_tok_s"]
    # No hit: the decode cache holds nothing, the same run but for the rule's name.
    nohit = [a for a in sglang if a not in ("--prefix-hit", "0.5")]
    off = json.loads(cli(*nohit, "--format", "json").stdout)
    on = json.loads(cli(*nohit, "--decode-radix-cache", "--format", "json").stdout)
    on["kv_transfer"]["prefix_rule"] = off["kv_transfer"]["prefix_rule"]
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "e2e_p50_s", "makespan_s", "kv_transfer", "disaggregated"):
        assert on[key] == off[key], key
    f = tmp_path / "pools.yaml"
    f.write_text("pools:\n  prefill: {devices: 8}\n  decode: {devices: 8, tp: 4, radix_cache: true}\n")
    shared = (*SHARED, "--scheduler", "sglang", "--prefix-hit", "0.5", "--scenario-file", str(f))
    filed = json.loads(cli(*shared).stdout)
    for key in ("throughput_tok_s", "ttft_s", "kv_transfer", "disaggregated"):
        assert filed[key] == radix[key], key
    both = cli(*shared, "--decode-radix-cache", check=False)
    assert both.returncode == 2 and "pools.decode.radix_cache" in both.stderr and "--decode-radix-cache" in both.stderr


@pytest.mark.parametrize("extra,names", [
    (("--scheduler", "vllm"), ("--scheduler vllm", "keeps its prefix cache already")),
    (("--scheduler", "trtllm"), ("--scheduler trtllm", "expected --scheduler sglang")),
    (("--scheduler", "sglang-jax"), ("--scheduler sglang-jax",)),
    (("--scheduler", "sglang", "--spec-tokens", "2", "--spec-accept", "0.7"), ("speculative decoding", "--spec-tokens 2")),
])
def test_decode_radix_cache_refused_where_the_stack_has_none(cli, extra, names):
    r = cli(*POOLS, "--decode-radix-cache", *extra, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--decode-radix-cache" in r.stderr, r.stderr
    for n in names:
        assert n in r.stderr, r.stderr


def test_a_prefix_hit_with_vllm_sends_only_the_uncached_tokens(cli, tmp_path):
    """vLLM's KV connectors (disagg.h): the decode instance matches its own prefix cache first and pulls only the blocks
    it lacks, so with vllm (serve's default) a transfer carries the 256 uncached tokens' KV, half SGLang's, and an
    idle fabric moves it sooner; the prefill pool skips the same head either way."""
    plain = json.loads(cli(*POOLS, "--format", "json").stdout)
    hit = json.loads(cli(*POOLS, "--prefix-hit", "0.5", "--format", "json").stdout)
    sglang = json.loads(cli(*POOLS, "--scheduler", "sglang", "--prefix-hit", "0.5", "--format", "json").stdout)
    per_token = hit["disaggregated"]["kv_bytes_per_token"]
    k0, k, ks = plain["kv_transfer"], hit["kv_transfer"], sglang["kv_transfer"]
    assert k["transfers"] == 8 and k["bytes_mean"] == 256 * per_token and k0["bytes_mean"] == 512 * per_token
    assert k["sent_tokens_mean"] == 256 and k["resident_tokens_mean"] == 256 and k0["sent_tokens_mean"] == 512
    assert k["prefix_tokens_mean"] == 256 and k["prefix_bytes_mean"] == 256 * per_token
    assert k["prefix_rule"] == "uncached blocks (vLLM KV connector: decode prefix cache)"
    assert k["bytes_mean"] * 2 == ks["bytes_mean"] and k["alone_s"] < ks["alone_s"] and k["alone_s"] < k0["alone_s"]
    assert hit["ttft_s"] < plain["ttft_s"]
    assert "(the 256 uncached prompt tokens' KV: a cached prefix of 256 tokens" in cli(*POOLS, "--prefix-hit", "0.5").stdout
    # A hit below one KV block caches nothing on either pool: the same run, number for number.
    tiny = json.loads(cli(*POOLS, "--prefix-hit", "0.01", "--format", "json").stdout)
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "e2e_p50_s", "makespan_s", "kv_transfer", "disaggregated"):
        assert tiny[key] == plain[key], key
    # The pools from a scenario file: the same run as the flags.
    f = tmp_path / "pools.yaml"
    f.write_text("pools:\n  prefill: {devices: 8}\n  decode: {devices: 8, tp: 4}\n")
    filed = json.loads(cli(*SHARED, "--scenario-file", str(f), "--prefix-hit", "0.5").stdout)
    for key in ("throughput_tok_s", "ttft_s", "kv_transfer", "disaggregated"):
        assert filed[key] == hit[key], key


@pytest.mark.parametrize("args,needle", [
    (("--prefill-devices", "8"), "give both pools"),
    (("--prefill-devices", "8", "--decode-devices", "6", "--tp", "4", "--system", "hgx-h100x8", "--nodes", "2"), "multiples of 4"),
    (("--prefill-devices", "8", "--decode-devices", "8", "--system", "hgx-h100x8"), "has 8"),
    (("--prefill-devices", "4", "--decode-devices", "4"), "need a system"),
    (("--prefill-devices", "4", "--decode-devices", "4", "--system", "hgx-h100x8", "--tp", "1", "--pp", "64"), "--pp 64"),
    (("--prefill-devices", "0", "--decode-devices", "4", "--system", "hgx-h100x8"), "positive"),
    (("--prefill-devices", "6", "--decode-devices", "6", "--system", "hgx-h100x8", "--nodes", "2", "--prefill-tp", "3"),
     "--prefill-tp 3"),
    (("--prefill-devices", "2", "--decode-devices", "4", "--system", "hgx-h100x8", "--tp", "4", "--prefill-tp", "2"), "aligned"),
])
def test_pools_that_do_not_fit_are_one_line(cli, args, needle):
    p = cli("serve", "--model", "llama-3.1-8b", "--requests", "4", *args, check=False)
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    assert line.count("\n") == 0 and needle in line, line


# The pool layout in a scenario file is the flags' counterpart: the same run, number for number.
SHARED = ("serve", "--system", "hgx-h100x8", "--nodes", "2", "--model", "llama-3.1-8b", "--concurrency", "4",
          "--requests", "8", "--input", "512", "--output", "16", "--format", "json")


def test_pools_from_a_scenario_file_equal_the_flags(cli, tmp_path):
    f = tmp_path / "pools.yaml"
    f.write_text("description: two pools of one node each\npools:\n  prefill: {devices: 8, tp: 2}\n"
                 "  decode: {devices: 8, tp: 4}\n")
    a = json.loads(cli(*SHARED, "--scenario-file", str(f)).stdout)
    b = json.loads(cli(*SHARED, "--tp", "4", "--prefill-devices", "8", "--decode-devices", "8", "--prefill-tp", "2").stdout)
    assert placed(a["disaggregated"]["prefill"]) == {"devices": 8, "instances": 4, "tp": 2, "ep": 1, "dp": 1, "first_rank": 0}
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "e2e_p50_s", "kv_transfer", "disaggregated", "layout", "devices"):
        assert a[key] == b[key], key
    m = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", nodes=2, concurrency=4, requests=8, input=512, output=16,
                     scenario_file=str(f))
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "kv_transfer", "disaggregated"):
        assert m[key] == a[key], key


@pytest.mark.parametrize("text,flags,needle", [
    ("pools:\n  prefil: {devices: 8}\n  decode: {devices: 8}\n", (), "pools.prefil.devices: unknown key (nearest valid key: pools.prefill.devices)"),
    ("pools:\n  prefill: {devices: 8}\n", (), "pools.decode.devices: expected a positive number of chips"),
    ("pools:\n  prefill: {devices: 0}\n  decode: {devices: 8}\n", (), "pools.prefill.devices: '0': expected a positive number of chips"),
    ("pools:\n  prefill: {devices: eight}\n  decode: {devices: 8}\n", (), "pools.prefill.devices"),
    ("pools:\n  prefill: {devices: 8}\n  decode: {devices: 8, tp: -2}\n", (), "pools.decode.tp: '-2'"),
    ("pools:\n  prefill: {devices: 8}\n  decode: {devices: 8}\n", ("--prefill-devices", "8"), "either this key or --prefill-devices"),
    ("pools:\n  prefill: {devices: 8}\n  decode: {devices: 8, tp: 4}\n", ("--tp", "2"), "either this key or --tp"),
    ("pools:\n  prefill: {devices: 8}\n  decode: {devices: 6, tp: 4}\n", (), "(pools, as flags): --prefill-devices 8 --decode-devices 6"),
    ("pools:\n  prefill: {devices: 16}\n  decode: {devices: 16}\n", (), "pools.yaml (pools, as flags)"),
])
def test_bad_pool_files_are_one_line(cli, tmp_path, text, flags, needle):
    f = tmp_path / "pools.yaml"
    f.write_text(text)
    p = cli(*SHARED, "--scenario-file", str(f), *flags, check=False)
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    assert line.count("\n") == 0 and needle in line and "pools.yaml" in line, line


# Pool layouts (issue 13): a tensor-parallel prefill pool beside a wide expert-parallel decode pool with
# data-parallel attention, as DeepSeek-V3 deployments split them, on an MLA + MoE model.
MOE_POOLS = ("serve", "--system", "hgx-h100x8", "--model", MLA_MOE, "--prefill-devices", "4", "--decode-devices", "4",
             "--concurrency", "4", "--requests", "8", "--input", "256", "--output", "8", "--format", "json")
# The compressed KV (MLA) per token and rank: layers x (kv_lora_rank + qk_rope_head_dim) x 1 byte (fp8 KV cache).
MLA_BYTES = 27 * (512 + 64) * 1


def test_each_pool_takes_its_own_layout(cli):
    j = json.loads(cli(*MOE_POOLS, "--prefill-tp", "4", "--tp", "1", "--ep", "4", "--dp", "4").stdout)
    d = j["disaggregated"]
    assert placed(d["prefill"]) == {"devices": 4, "instances": 1, "tp": 4, "ep": 1, "dp": 1, "first_rank": 0}
    # Data-parallel replicas are the instances the router feeds: four of one rank each.
    assert placed(d["decode"]) == {"devices": 4, "instances": 4, "tp": 1, "ep": 4, "dp": 4, "first_rank": 4}
    assert j["layout"]["name"] == "prefill tp4 + decode dp4 x ep4"
    # The layout block gives each pool's own degrees (the top level keeps the decode pool's).
    pools = j["layout"]["pools"]
    assert {k: pools["prefill"][k] for k in ("name", "tp", "ep", "dp", "devices", "instances")} == \
        {"name": "tp4", "tp": 4, "ep": 1, "dp": 1, "devices": 4, "instances": 1}
    assert {k: pools["decode"][k] for k in ("tp", "ep", "dp", "devices", "instances")} == \
        {"tp": 1, "ep": 4, "dp": 4, "devices": 4, "instances": 4}
    assert (j["layout"]["tp"], j["layout"]["ep"]) == (pools["decode"]["tp"], pools["decode"]["ep"])
    # Each decode rank receives the whole latent once: one rank per instance.
    assert d["kv_bytes_per_token"] == MLA_BYTES
    assert j["kv_transfer"]["bytes_mean"] == 256 * MLA_BYTES and j["kv_transfer"]["transfers"] == 8
    # The experts spread over 4 decode ranks, the attention replicated: more weights per chip than TP4's split.
    assert d["decode"]["weight_bytes"] > d["prefill"]["weight_bytes"]
    # A decode pool of tp2 replicas: each of the two ranks receives the latent (MLA's KV is whole on every rank).
    k = json.loads(cli(*MOE_POOLS, "--prefill-tp", "4", "--tp", "2", "--ep", "4", "--dp", "2").stdout)
    assert k["disaggregated"]["kv_bytes_per_token"] == 2 * MLA_BYTES
    assert placed(k["disaggregated"]["decode"])["instances"] == 2


def test_pool_layouts_from_a_scenario_file_equal_the_flags(cli, tmp_path):
    a = json.loads(cli(*MOE_POOLS, "--prefill-ep", "4", "--prefill-dp", "4", "--tp", "1", "--ep", "4", "--dp", "4").stdout)
    b = xpusim.serve(model=MLA_MOE, system="hgx-h100x8", prefill_devices=4, decode_devices=4, prefill_ep=4, prefill_dp=4,
                     tp=1, ep=4, dp=4, concurrency=4, requests=8, input=256, output=8)
    f = tmp_path / "pools.yaml"
    f.write_text("pools:\n  prefill: {devices: 4, ep: 4, dp: 4}\n  decode: {devices: 4, tp: 1, ep: 4, dp: 4}\n")
    c = json.loads(cli(*_without_pools(MOE_POOLS), "--scenario-file", str(f)).stdout)
    assert placed(a["disaggregated"]["prefill"]) == {"devices": 4, "instances": 4, "tp": 1, "ep": 4, "dp": 4, "first_rank": 0}
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "kv_transfer", "disaggregated", "layout"):
        assert a[key] == b[key] == c[key], key


def _without_pools(args):
    out, skip = [], False
    for x in args:
        if skip:
            skip = False
            continue
        if x in ("--prefill-devices", "--decode-devices"):
            skip = True
            continue
        out.append(x)
    return out


@pytest.mark.parametrize("args,needle", [
    (("--prefill-ep", "3"), "--prefill-tp 1 --prefill-ep 3: --ep 3"),
    (("--prefill-dp", "3"), "not a whole number of --prefill-tp 1 --prefill-dp 3 instances (expected multiples of 3)"),
    (("--tp", "1", "--ep", "8", "--dp", "8"), "not a whole number of --tp 1 --ep 8 --dp 8 instances (expected multiples of 8)"),
    (("--prefill-tp", "4", "--prefill-ep", "128"), "--prefill-ep 128"),
])
def test_bad_pool_layouts_are_one_line(cli, args, needle):
    p = cli(*MOE_POOLS[:-2], *args, check=False)
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    assert line.count("\n") == 0 and needle in line, line


def test_a_pool_that_leaves_no_room_names_itself(cli):
    # DeepSeek-V3 (671B, fp8) over 8 H100s: 85 GB of weights per chip at TP8, more with experts over 8 and the
    # attention replicated; each pool is checked at its own layout and the first that does not fit is named.
    for prefill, name in ((("--prefill-tp", "8"), "prefill pool (tp8)"),
                          (("--prefill-tp", "1", "--prefill-ep", "8", "--prefill-dp", "8"), "prefill pool (dp8 x ep8)")):
        p = cli("serve", "--system", "hgx-h100x8", "--nodes", "2", "--model", "deepseek-v3", "--prefill-devices", "8",
                "--decode-devices", "8", *prefill, "--tp", "8", "--requests", "4", check=False)
        assert p.returncode == 2, p.stderr
        line = p.stderr.strip()
        assert line.count("\n") == 0 and name + ": deepseek-v3 leaves no room" in line and "per h100-sxm" in line, line


def test_a_pool_that_leaves_no_room_names_a_tp_that_holds_it(cli):
    """QA session 43: the advice named flags without a value ("--prefill-tp/--prefill-ep"); it names the smallest
    TP group of the pool that holds a request, and that layout gets past the pool's check."""
    base = ("serve", "--system", "hgx-h100x8", "--prefill-devices", "4", "--decode-devices", "4", "--model", "llama-3.1-70b",
            "--dtype", "bf16", "--concurrency", "2", "--requests", "4", "--input", "256", "--output", "8")
    p = cli(*base, check=False)
    assert p.returncode == 2 and "prefill pool (tp1)" in p.stderr and "e.g. --prefill-tp 2 (" in p.stderr, p.stderr
    p = cli(*base, "--prefill-tp", "2", check=False)  # the prefill pool now holds it; the decode pool says the same
    assert p.returncode == 2 and "decode pool (tp1)" in p.stderr and "e.g. --tp 2 (" in p.stderr, p.stderr
    assert json.loads(cli(*base, "--tp", "2", "--format", "json").stdout)["layout"]["pools"]["decode"]["tp"] == 2


@pytest.mark.parametrize("system,nic_gb_s", [("trn2-48xl", 25.0), ("trn1-32xl", 6.25)])
def test_trainium_pools_on_two_instances_cross_efa(cli, system, nic_gb_s):
    """trn2.48xlarge has its EFAv3 scale-out (3,200 Gb/s over 16 chips: 25 GB/s each), trn1.32xlarge its EFAv2
    (800 Gb/s: 6.25 GB/s), so pools on two instances are expressible: each of 4 ranks sends a quarter of the
    prompt's KV over its own interface, at least at its line rate."""
    j = json.loads(cli("serve", "--system", system, "--nodes", "2", "--model", "llama-3.1-8b", "--tp", "4",
                       "--prefill-devices", "16", "--decode-devices", "16", "--concurrency", "4", "--requests", "8",
                       "--input", "512", "--output", "8", "--format", "json").stdout)
    assert placed(j["disaggregated"]["decode"])["first_rank"] == 16  # the second instance
    k = j["kv_transfer"]
    assert k["transfers"] == 8 and k["bytes_mean"] == 512 * 32 * 8 * 128 * 2
    line_rate = k["bytes_mean"] / 4 / (nic_gb_s * 1e9)
    assert line_rate < k["alone_s"] < 1.3 * line_rate


def test_pipeline_pools_take_their_stages(cli):
    """A decode pool of two stages of tp4 (one instance on 8 chips): each decode stage receives its half of
    the layers from the prefill rank that holds them; the bytes per request are the same, the instance fewer."""
    j = json.loads(cli(*POOLS, "--pp", "2", "--prefill-tp", "2", "--format", "json").stdout)
    d = j["disaggregated"]
    assert (d["decode"]["pp"], d["decode"]["tp"], d["decode"]["instances"]) == (2, 4, 1)
    assert (d["prefill"]["pp"], d["prefill"]["tp"], d["prefill"]["instances"]) == (1, 2, 4)
    assert j["layout"]["name"] == "prefill tp2 + decode tp4 x pp2"
    assert (j["layout"]["pools"]["decode"]["pp"], j["layout"]["pools"]["prefill"]["pp"]) == (2, 1)
    assert j["kv_transfer"]["bytes_mean"] == 512 * 32 * 8 * 128 * 2 and j["kv_transfer"]["transfers"] == 8
    # A stage holds half the layers: each of the 8 decode ranks receives an eighth, two of them from each prefill rank.
    assert j["kv_transfer"]["alone_s"] > 512 * 32 * 8 * 128 * 2 / 8 / 50e9
    assert "decode pool 8 chips (1 x tp4 x pp2, ranks 8-15;" in cli(*POOLS, "--pp", "2", "--prefill-tp", "2").stdout


def test_pipeline_pools_from_a_scenario_file_equal_the_flags(cli, tmp_path):
    f = tmp_path / "pools.yaml"
    f.write_text("pools:\n  prefill: {devices: 8, tp: 2}\n  decode: {devices: 8, tp: 4, pp: 2}\n")
    a = json.loads(cli(*SHARED, "--scenario-file", str(f)).stdout)
    b = json.loads(cli(*SHARED, "--tp", "4", "--pp", "2", "--prefill-devices", "8", "--decode-devices", "8",
                       "--prefill-tp", "2").stdout)
    assert a["disaggregated"]["decode"]["pp"] == 2
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "kv_transfer", "disaggregated", "layout"):
        assert a[key] == b[key], key
    p = cli(*SHARED, "--scenario-file", str(f), "--pp", "2", check=False)
    assert p.returncode == 2 and "pools.decode.pp" in p.stderr and "either this key or --pp" in p.stderr, p.stderr


def test_microbatches_with_pipeline_pools_from_a_scenario_file(cli, tmp_path):
    """--microbatches is checked against the layout the run takes: a scenario file whose decode pool has
    two stages takes it as --pp 2 does (it was refused as 'needs --pp > 1', the flags read before the file)."""
    f = tmp_path / "pools.yaml"
    f.write_text("pools:\n  prefill: {devices: 8, tp: 2}\n  decode: {devices: 8, tp: 4, pp: 2}\n")
    a = json.loads(cli(*SHARED, "--scenario-file", str(f), "--microbatches", "1").stdout)
    b = json.loads(cli(*SHARED, "--tp", "4", "--pp", "2", "--microbatches", "1", "--prefill-devices", "8", "--decode-devices", "8",
                       "--prefill-tp", "2").stdout)
    for key in ("throughput_tok_s", "ttft_s", "tpot_s", "kv_transfer", "disaggregated", "layout"):
        assert a[key] == b[key], key
    m = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", nodes=2, concurrency=4, requests=8, input=512, output=16,
                     microbatches=1, scenario_file=str(f))
    assert m["throughput_tok_s"] == a["throughput_tok_s"]


@pytest.mark.parametrize("flags", [("--prefill-pp", "2"), ("--prefill-tp", "4", "--prefill-ep", "8"),
                                   ("--prefill-redundant-experts", "4")])
def test_prefill_layout_without_pools_is_refused(cli, flags):
    """The prefill pool's layout flags without the pools were silently ignored (one pool at --tp ran)."""
    p = cli("serve", "--system", "hgx-h100x8", "--tp", "8", "--model", "llama-3.1-8b", "--concurrency", "4", "--requests", "8",
            *flags, check=False)
    assert p.returncode == 2 and " ".join(flags) + ": the prefill pool's layout needs disaggregated pools" in p.stderr, p.stderr
    with pytest.raises(Exception, match="needs disaggregated pools"):
        xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", tp=8, concurrency=4, requests=8, prefill_pp=2)


def test_prefill_pool_has_its_own_redundant_experts(cli, tmp_path):
    """--prefill-redundant-experts (pools.prefill.redundant_experts) sets the prefill pool's replicas
    alone, as DeepSeek-V3 deploys 32 for prefill and more for decode (arXiv 2412.19437, section 3.4):
    4 replicas of the 64 experts over 4 ranks give each prefill rank one expert more, not the decode pool."""
    moe = (*MOE_POOLS, "--tp", "1", "--dp", "4", "--ep", "4", "--prefill-tp", "1", "--prefill-dp", "4", "--prefill-ep", "4")
    plain = json.loads(cli(*moe).stdout)["disaggregated"]
    flag = json.loads(cli(*moe, "--prefill-redundant-experts", "4").stdout)
    assert flag["disaggregated"]["prefill"]["weight_bytes"] > plain["prefill"]["weight_bytes"]
    assert flag["disaggregated"]["decode"]["weight_bytes"] == plain["decode"]["weight_bytes"]
    # The decode pool's replicas (--redundant-experts) with none in prefill.
    both = json.loads(cli(*moe, "--redundant-experts", "4", "--prefill-redundant-experts", "0").stdout)["disaggregated"]
    assert both["prefill"]["weight_bytes"] == plain["prefill"]["weight_bytes"]
    assert both["decode"]["weight_bytes"] > plain["decode"]["weight_bytes"]
    f = tmp_path / "pools.yaml"
    f.write_text("pools:\n  prefill: {devices: 4, tp: 1, dp: 4, ep: 4, redundant_experts: 4}\n  decode: {devices: 4, tp: 1, dp: 4, ep: 4}\n")
    bare = MOE_POOLS[:5] + MOE_POOLS[9:]  # the pools come from the file
    filed = json.loads(cli(*bare, "--scenario-file", str(f)).stdout)
    for key in ("ttft_s", "tpot_s", "disaggregated"):
        assert filed[key] == flag[key], key
    twice = cli(*bare, "--scenario-file", str(f), "--prefill-redundant-experts", "4", check=False)
    assert twice.returncode == 2 and "either this key or --prefill-redundant-experts" in twice.stderr, twice.stderr
    mod = xpusim.serve(model=MLA_MOE, system="hgx-h100x8", prefill_devices=4, decode_devices=4, tp=1, dp=4, ep=4,
                       prefill_tp=1, prefill_dp=4, prefill_ep=4, prefill_redundant_experts=4, concurrency=4, requests=8,
                       input=256, output=8)
    assert mod["disaggregated"] == flag["disaggregated"] and mod["ttft_s"] == flag["ttft_s"]
    neg = cli(*moe, "--prefill-redundant-experts", "-3", check=False)
    assert neg.returncode == 2 and "--prefill-redundant-experts -3 must not be negative" in neg.stderr, neg.stderr
