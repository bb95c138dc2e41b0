"""DeepEP's normal (prefill) dispatch and combine alone, against its published bottleneck bandwidths
(workloads/validation/deepep_measured.csv, DEEPEP-N-*): `xpusim kernel alltoall --tokens` at EP8 (one
node, NVLink) and EP16-64 (forwarded over one 400 Gb/s rail per GPU, then NVLink) on hgx-h100x8 nodes
with H800's NVLink (400 GB/s bidirectional, 200 GB/s per direction: NVIDIA H800 SXM5 datasheet), 4096
tokens per rank, each within 25% of the time. The published bandwidth becomes a time with DeepEP's own
byte count, which the report gives with the same sizes the simulation sends: in one node the bytes a
rank receives (each token once per rank it reaches), across nodes the bytes it sends over RDMA (each
token once per node it reaches, its own node included), FP8 tokens with their scales."""
import csv
import json
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = [r for r in csv.DictReader(open(os.path.join(ROOT, "workloads", "validation", "deepep_measured.csv")))
        if r["id"].startswith("DEEPEP-N-")]
H800_NVLINK = "scale_up.link.bandwidth=200 GB/s"
SHAPE = re.compile(r"EP(\d+), (\d+) tokens per rank, hidden (\d+), (\d+) experts, top-(\d+)"
                   r"(?:, (\d+) expert groups \(one per node\) top-(\d+))?")


def exchange(cli, row):
    ep, tokens, hidden, experts, topk, groups, per_token = SHAPE.match(row["shape_or_config"]).groups()
    combine = row["workload"].startswith("moe_combine")
    args = ["kernel", "alltoall", "--system", "hgx-h100x8", "--nodes", str(int(ep) // 8), "--set", H800_NVLINK,
            "--algo", "deepep", "--tokens", tokens, "--hidden", hidden, "--experts", experts, "--topk", topk,
            "--expert-groups", groups or "1", "--groups-per-token", per_token or "1",
            "--dispatch-dtype", row["dtype"], "--stage", "combine" if combine else "dispatch", "--format", "json"]
    return int(ep), json.loads(cli(*args).stdout)


def test_deepep_normal_rows_within_25_percent(cli):
    assert len(ROWS) == 8
    errors = []
    for r in ROWS:
        ep, j = exchange(cli, r)
        x = j["expert"]
        assert j["algorithm"] == ("deepep" if ep > 8 else "direct")
        counted = x["forwarded_bytes"] if ep > 8 else x["receive_tokens"] * x["token_bytes"]
        measured = counted / (float(r["value"]) * 1e9)
        predicted = j["latency_s"]
        err = predicted / measured - 1
        print("%s EP%d: predicted %.3f ms (%.1f GB/s), measured %.3f ms (%s GB/s), %+.1f%%"
              % (r["id"], ep, predicted * 1e3, counted / predicted / 1e9, measured * 1e3, r["value"], 100 * err))
        errors.append(abs(err))
        assert abs(err) <= 0.25, (r["id"], predicted, measured)
    assert sum(errors) / len(errors) <= 0.15


def test_expert_exchange_sizes_follow_the_model(cli):
    """The lone exchange carries the sizes a model's step gives the same tokens: a prefill step of
    DeepSeek-V3 over two nodes (dp16 x ep16, 256 tokens per rank) dispatches the bytes that
    `kernel alltoall --tokens 256` with DeepSeek-V3's routing (8 groups, 4 per token) sends, under the same
    routing: the expected loads (`--routing even`) and the step's draw (`uniform`, the default of both),
    whose busiest rank receives more."""
    sizes = {}
    for routing in ("even", "uniform"):
        j = json.loads(cli("kernel", "alltoall", "--system", "hgx-h100x8", "--nodes", "2", "--tokens", "256", "--hidden", "7168",
                           "--experts", "256", "--topk", "8", "--expert-groups", "8", "--groups-per-token", "4",
                           "--dispatch-dtype", "fp8", "--routing", routing, "--format", "json").stdout)
        assert j["algorithm"] == "deepep" and j["expert"]["token_bytes"] == 7392
        run = json.loads(cli("run", "--system", "hgx-h100x8", "--nodes", "2", "--model", "deepseek-v3", "--tp", "1", "--dp", "16",
                             "--ep", "16", "--phase", "prefill", "--batch", "16", "--input", "256", "--dtype", "fp8",
                             "--routing", routing, "--format", "json").stdout)
        dispatch = [k for k in run["steps"][0]["kernels"] if k["label"].endswith("moe_dispatch")]
        assert dispatch and dispatch[0]["collective_bytes"] == j["bytes"], (routing, dispatch, j["bytes"])
        assert dispatch[0]["algorithm"].startswith("deepep")
        sizes[routing] = j["expert"]["receive_tokens"]
    assert sizes["uniform"] > sizes["even"], sizes


def test_expert_exchange_bad_values_are_one_line(cli):
    base = ("kernel", "alltoall", "--system", "hgx-h100x8", "--nodes", "2", "--hidden", "7168", "--topk", "8")
    cases = [
        (base + ("--tokens", "0", "--experts", "256"), "--tokens 0: expected a positive number of tokens per rank"),
        (base + ("--tokens", "64", "--experts", "250"), "--experts 250: the experts must split over the 16 ranks"),
        (base + ("--tokens", "64", "--experts", "256", "--expert-groups", "3"), "--expert-groups 3"),
        (base + ("--tokens", "64", "--experts", "256", "--expert-groups", "8", "--groups-per-token", "9"), "--groups-per-token 9"),
        (base + ("--tokens", "64", "--experts", "256", "--stage", "reduce"), "--stage 'reduce'"),
        (base + ("--tokens", "64", "--experts", "256", "--algo", "ring"), "--algo ring: --tokens runs DeepEP's kernels"),
        (base + ("--tokens", "64", "--experts", "256", "--bytes", "1MiB"), "--bytes and --tokens: give one"),
        (base + ("--tokens", "64", "--experts", "256", "--routing", "zipfy"), "--routing: 'zipfy' is not understood"),
        (("kernel", "alltoall", "--system", "hgx-h100x8", "--bytes", "1MiB", "--routing", "even"), "--dispatch-dtype, --routing do), which --tokens N gives"),
        (base + ("--tokens", "64",), "--experts 0: the experts must split over the 16 ranks"),
        (("kernel", "alltoall", "--system", "hgx-h100x8", "--hidden", "7168"), "give --bytes SIZE (alltoall: or an expert exchange"),
        (("kernel", "alltoall", "--system", "hgx-h100x8", "--bytes", "1MiB", "--topk", "8"), "--hidden, --topk, --experts: they size"),
        (("kernel", "allreduce", "--system", "hgx-h100x8", "--tokens", "64"), "--tokens: an expert exchange is an all-to-all"),
    ]
    for args, needle in cases:
        p = cli(*args, check=False)
        line = p.stderr.strip()
        assert p.returncode != 0 and line.count("\n") == 0 and needle in line, (args, line)


def test_python_expert_exchange_is_the_cli(cli):
    """xpusim.expert_exchange runs the CLI's path (`kernel alltoall --tokens`): the same report, number
    for number, for a DeepEP normal dispatch over two nodes and a low-latency combine in one."""
    import xpusim
    for nodes, algo, stage, dtype in ((2, "deepep", "dispatch", "fp8"), (1, "deepep-ll", "combine", "bf16")):
        py = xpusim.expert_exchange(system="hgx-h100x8", nodes=nodes, tokens=128, hidden=7168, topk=8, experts=256,
                                    expert_groups=8, groups_per_token=4, dispatch_dtype=dtype, stage=stage, algo=algo)
        j = json.loads(cli("kernel", "alltoall", "--system", "hgx-h100x8", "--nodes", str(nodes), "--tokens", "128",
                           "--hidden", "7168", "--topk", "8", "--experts", "256", "--expert-groups", "8",
                           "--groups-per-token", "4", "--dispatch-dtype", dtype, "--stage", stage, "--algo", algo,
                           "--format", "json").stdout)
        for key in ("latency_s", "bytes", "algorithm", "protocol", "expert"):
            assert py[key] == j[key], (key, py[key], j[key])
    with pytest.raises(xpusim.InputError, match="^topk=300: "):
        xpusim.expert_exchange(tokens=16, topk=300, experts=256)


def test_expert_exchange_names_the_systems_own_fabric_and_dispatch(cli):
    """The report names the system's scale-up fabric and what runs the exchange there (scale_up.name,
    library.expert_dispatch): NVLink and DeepEP only on GPU systems, never on Trainium, TPU or Maia."""
    expected = {"hgx-h100x8": ("NVLink", "DeepEP"), "trn2-48xl": ("NeuronLink", "Neuron all-to-all"),
                "tpu-v6e-8": ("ICI", "XLA all-to-all"), "maia200-quads": ("Ethernet", "Maia all-to-all")}
    for system, (fabric, dispatch) in expected.items():
        args = ["kernel", "alltoall", "--system", system, "--tokens", "64", "--hidden", "1024", "--experts", "64",
                "--topk", "4"]
        table = cli(*args).stdout
        assert f"GB/s {fabric} (received)" in table and f"{dispatch} normal dispatch:" in table, (system, table)
        if system != "hgx-h100x8":
            assert "NVLink" not in table and "DeepEP" not in table, (system, table)
        x = json.loads(cli(*args, "--format", "json").stdout)["expert"]
        assert x["fabric"] == fabric and x["dispatch"] == dispatch and x["kernels"].startswith(dispatch), (system, x)
