"""Disaggregated serving through the CLI and the module: prefill and decode pools on two nodes, the KV
transfers in the report, one path for both front ends, and pools that do not fit refused in one line."""
import json

import pytest
import xpusim

POOLS = ("serve", "--system", "hgx-h100x8", "--nodes", "2", "--tp", "4", "--prefill-devices", "8", "--decode-devices", "8",
         "--model", "llama-3.1-8b", "--concurrency", "4", "--requests", "8", "--input", "512", "--output", "16")


def test_pools_report_their_kv_transfers_and_every_chip(cli):
    j = json.loads(cli(*POOLS, "--format", "json").stdout)
    d = j["disaggregated"]
    assert d["prefill"] == {"devices": 8, "instances": 2, "tp": 4, "first_rank": 0}
    assert d["decode"] == {"devices": 8, "instances": 2, "tp": 4, "first_rank": 8}
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
    assert "prefill pool 8 chips (2 x tp4, ranks 0-7)" in table and "KV transfers: 8 of" in table


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


def test_prefill_instances_take_their_own_tp(cli):
    j = json.loads(cli(*POOLS, "--prefill-tp", "2", "--format", "json").stdout)
    d = j["disaggregated"]
    assert d["prefill"] == {"devices": 8, "instances": 4, "tp": 2, "first_rank": 0}
    assert d["decode"]["tp"] == 4 and d["decode"]["instances"] == 2
    k = j["kv_transfer"]
    # The same bytes cross (8 KV heads split either way), now from 2 prefill ranks to 4 decode ranks.
    assert k["transfers"] == 8 and k["bytes_mean"] == 512 * 32 * 8 * 128 * 2
    same = json.loads(cli(*POOLS, "--format", "json").stdout)
    # Each prefill rank now sends to two decode ranks; the fabric routes the second message over NVLink to
    # the GPU on the destination's rail (as NCCL's PXN does), so four NICs still carry a quarter each: about
    # the time of rank-to-rank transfers, never less.
    assert same["kv_transfer"]["alone_s"] * 0.999 <= k["alone_s"] < same["kv_transfer"]["alone_s"] * 1.2


@pytest.mark.parametrize("args,needle", [
    (("--prefill-devices", "8"), "give both pools"),
    (("--prefill-devices", "8", "--decode-devices", "6", "--tp", "4", "--system", "hgx-h100x8", "--nodes", "2"), "multiples of 4"),
    (("--prefill-devices", "8", "--decode-devices", "8", "--system", "hgx-h100x8"), "has 8"),
    (("--prefill-devices", "4", "--decode-devices", "4"), "need a system"),
    (("--prefill-devices", "4", "--decode-devices", "4", "--system", "hgx-h100x8", "--tp", "2", "--dp", "2"), "--pp/--ep/--dp"),
    (("--prefill-devices", "4", "--decode-devices", "4", "--system", "hgx-h100x8", "--spec-tokens", "2"), "--spec-tokens"),
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
    assert a["disaggregated"]["prefill"] == {"devices": 8, "instances": 4, "tp": 2, "first_rank": 0}
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
