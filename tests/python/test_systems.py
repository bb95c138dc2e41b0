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
