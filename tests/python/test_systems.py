"""Systems of chips through the Python module: same figures as the CLI, errors as exceptions."""
import json

import pytest
import xpusim


def test_collective_matches_the_cli(cli):
    r = xpusim.collective("allreduce", system="hgx-h100x8", bytes="64MiB")
    j = json.loads(cli("kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "64MiB", "--format", "json").stdout)
    assert r["latency_s"] == j["latency_s"]
    assert r["algorithm"] == j["algorithm"] == "nvls"
    assert r["busbw_GBps"] == pytest.approx(r["algbw_GBps"] * 2 * 7 / 8)


def test_a_stacks_own_all_reduce_is_one_path_with_validate(cli):
    # vLLM PR #24111's 1-stage at 1 MB on 4 H100s: the validation row, the CLI and Python give one time.
    rows = json.loads(cli("validate", "--collectives", "--filter", "vllm-ca-h100x4-oneshot-64", "--format", "json").stdout)
    assert len(rows) == 1 and rows[0]["algorithm"] == "oneshot/vllm"
    args = ["kernel", "allreduce", "--system", "hgx-h100x8", "--set", "scale_up.chips=4", "--bytes", "1048576",
            "--stack", "vllm", "--algo", "oneshot", "--format", "json"]
    j = json.loads(cli(*args).stdout)
    r = xpusim.collective("allreduce", system="hgx-h100x8", set={"scale_up.chips": "4"}, bytes=1048576, stack="vllm",
                          algo="oneshot")
    assert j["stack"] == r["stack"] == "vllm" and j["algorithm"] == "oneshot"
    assert r["latency_s"] == j["latency_s"] == pytest.approx(rows[0]["predicted_time_us"] * 1e-6, rel=1e-9)
    # The library's own one-shot at the same size is another kernel, with the library's costs.
    lib = xpusim.collective("allreduce", system="hgx-h100x8", set={"scale_up.chips": "4"}, bytes=1048576, algo="oneshot")
    assert "stack" not in lib and lib["latency_s"] != r["latency_s"]
    # By TensorRT-LLM's rule: 64 tokens on 2 GPUs take its one-shot; past its 16,000,000-B workspace, NCCL.
    two = {"scale_up.chips": "2"}
    assert xpusim.collective("allreduce", set=two, bytes=64 * 16384, stack="trtllm", rows=64)["algorithm"] == "oneshot"
    big = xpusim.collective("allreduce", set=two, bytes="64MiB", stack="trtllm", rows=4096)
    assert "stack" not in big and big["algorithm"] != "oneshot"


def test_a_stack_kernel_refuses_what_it_cannot_run(cli):
    for args, needle in ((["kernel", "allgather", "--bytes", "1MiB", "--stack", "vllm", "--algo", "oneshot"],
                          "its own kernel runs an all-reduce"),
                         (["kernel", "allreduce", "--bytes", "1MiB", "--stack", "nccl", "--algo", "twoshot"],
                          "all-reduce stack 'nccl': no such stack"),
                         (["kernel", "allreduce", "--bytes", "1MiB", "--rows", "64"], "--rows 64: expected")):
        p = cli(*args, check=False)
        assert p.returncode != 0 and p.stderr.strip().count("\n") == 0 and needle in p.stderr, p.stderr


def test_nodes_and_overrides():
    one = xpusim.collective("allreduce", system="hgx-h100x8", bytes="256MiB", nodes=2)
    slow = xpusim.collective("allreduce", system="hgx-h100x8", bytes="256MiB", nodes=2,
                             set={"scale_out.nic.bandwidth": "12.5 GB/s"})
    assert one["ranks"] == 16 and one["nodes"] == 2
    assert slow["latency_s"] > 1.5 * one["latency_s"]  # the rails bound the slower network


def test_bad_requests_raise():
    with pytest.raises(xpusim.InputError, match="nvls needs"):
        xpusim.collective("allreduce", system="tpu-v6e-8", bytes="1MiB", algo="nvls")
    with pytest.raises(xpusim.InputError, match="unknown system"):
        xpusim.collective("allreduce", system="hgx-h100", bytes="1MiB")
    assert "tpu-v6e-256" in xpusim.list_systems()


def test_cli_errors_are_one_line_with_nonzero_exit(cli):
    p = cli("kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "0", check=False)
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0 and "--bytes 0" in p.stderr
    p = cli("validate", "--collectives", "--data", "/nonexistent/collectives.csv", check=False)
    assert p.returncode != 0 and "not found" in p.stderr


def test_a_collectives_only_system_refuses_model_runs(cli):
    """trn1-32xl-cores counts NeuronCores as ranks (nccom-test's ranks) while its chip model is a whole trn1: it runs
    collectives, and model runs, layout searches and advice never take it."""
    r = xpusim.collective("allreduce", system="trn1-32xl-cores", bytes="64MiB")
    assert r["ranks"] == 32
    p = cli("run", "--system", "trn1-32xl-cores", "--tp", "32", "--model", "llama-3.1-8b", "--phase", "decode", check=False)
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0 and "collective benchmarks only" in p.stderr and "trn1-32xl-cores" in p.stderr
    # --devices 32 of trn1 chips: two trn1.32xlarge instances, not the 32 NeuronCores of one.
    j = json.loads(cli("run", "--chip", "trn1", "--devices", "32", "--tp", "32", "--model", "llama-3.1-8b",
                       "--phase", "decode", "--format", "json").stdout)
    assert j["system"] == "trn1-32xl" and j["devices"] == 32
