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
