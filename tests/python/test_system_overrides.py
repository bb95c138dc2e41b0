"""--set on a system: run and serve (and xpusim.run/serve) take the system preset's fields (scale_up.*, scale_out.*,
library.*) beside the chip's, as `kernel allreduce --set` does; before, only the chip's fields could be set there."""
import json

import xpusim

TP8 = ["--model", "llama-3.1-70b", "--system", "hgx-h100x8", "--tp", "8", "--dtype", "fp8", "--format", "json"]
HALF = "scale_up.link.bandwidth=225GB/s"  # hgx-h100x8: 450 GB/s per direction (18 NVLink 4 links)


def _allreduce_s(j):
    return sum(k["time_s"] for s in j["steps"] for k in s["kernels"] if k["label"].startswith("layer.") and k["label"].endswith("allreduce"))


def test_halved_link_bandwidth_slows_a_tp8_steps_all_reduces_and_the_module_agrees(cli):
    run = ["run", *TP8, "--batch", "8", "--input", "1024"]
    base = json.loads(cli(*run).stdout)
    half = json.loads(cli(*run, "--set", HALF).stdout)
    assert _allreduce_s(half) > 1.05 * _allreduce_s(base)
    assert half["tpot_s"] > base["tpot_s"]
    py = xpusim.run(model="llama-3.1-70b", system="hgx-h100x8", tp=8, dtype="fp8", batch=8, input=1024,
                    set={"scale_up.link.bandwidth": "225GB/s"})
    assert py["tpot_s"] == half["tpot_s"] and _allreduce_s(py) == _allreduce_s(half)
    # A chip's default system (--chip C --devices N) takes them too.
    dev = ["run", "--model", "llama-3.1-8b", "--chip", "h100-sxm", "--devices", "4", "--tp", "4", "--format", "json"]
    assert _allreduce_s(json.loads(cli(*dev, "--set", HALF).stdout)) > _allreduce_s(json.loads(cli(*dev).stdout))


def test_serve_takes_system_overrides_and_the_module_agrees(cli):
    serve = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100x8", "--tp", "8", "--input", "256", "--output", "16",
             "--requests", "8", "--concurrency", "4", "--format", "json"]
    base = json.loads(cli(*serve).stdout)
    half = json.loads(cli(*serve, "--set", HALF).stdout)
    assert half["ttft_s"] > base["ttft_s"] and half["tpot_s"] > base["tpot_s"]
    py = xpusim.serve(model="llama-3.1-8b", system="hgx-h100x8", tp=8, input=256, output=16, requests=8, concurrency=[4],
                      set={"scale_up.link.bandwidth": "225GB/s"})
    assert py["ttft_s"] == half["ttft_s"] and py["tpot_s"] == half["tpot_s"]


def test_python_refuses_a_system_field_on_one_chip():
    import pytest
    with pytest.raises(xpusim.InputError, match="^set scale_up.link.bandwidth: a field of a system preset"):
        xpusim.run(model="llama-3.1-8b", set={"scale_up.link.bandwidth": "225GB/s"})


def test_compare_gives_a_system_units_fields_to_its_fabric(cli, tmp_path):
    """compare --set NAME:key=value reaches a system unit's fabric (the unit named by its system or chip) and gives what
    serve gives with that override; a system field for a one-chip unit is refused before anything runs."""
    load = ["--model", "llama-3.1-8b", "--concurrency", "4", "--requests", "8", "--input", "256", "--output", "16"]
    serve = json.loads(cli("serve", "--system", "hgx-h100x8", "--tp", "8", *load, "--set", HALF, "--format", "json").stdout)
    for name in ("hgx-h100x8", "h100-sxm"):
        j = json.loads(cli("compare", "--chips", "hgx-h100x8:tp8", *load, "--no-report", "--jobs", "1", "--format", "json",
                           "--out", str(tmp_path / name), "--set", name + ":" + HALF).stdout)
        assert j["rows"][0]["ttft_s"] == serve["ttft_s"] and j["rows"][0]["tpot_s"] == serve["tpot_s"], name
    out = tmp_path / "refused"
    p = cli("compare", "--chips", "hgx-h100x8:tp8,h100-sxm", *load, "--no-report", "--out", str(out), "--set", HALF, check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "--set scale_up.link.bandwidth: a field of a system preset (xpusim params system), but the unit h100-sxm is one chip" in p.stderr
    assert not out.exists()


def test_a_shares_bad_value_is_told_the_shares_range(cli):
    # -0.1 was told "expected a non-negative number" (the bounds of every number), 0 "a positive number": an
    # efficiency is a share in (0, 1], as the preset's own check says.
    for value in ("-0.1", "0", "1.5"):
        p = cli("kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB",
                "--set", "scale_up.link.efficiency=" + value, check=False)
        assert p.returncode == 2 and p.stderr.strip().endswith(
            "--set scale_up.link.efficiency: '%s': expected a share in (0, 1]" % value), p.stderr
