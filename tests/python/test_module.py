"""The Python module: same figures as the CLI, many runs in one process, errors as exceptions."""
import json
import re

import pytest
import xpusim


def test_kernel_returns_the_report_fields():
    r = xpusim.kernel("gemm", chip="h100-sxm", m=1024, n=1024, k=1024, dtype="bf16")
    for key in ("latency_s", "tflops", "share_of_peak", "transactions", "bytes", "bandwidth_Bps",
                "utilization", "kernels", "sim_cycles", "wall_s"):
        assert key in r
    assert 0 < r["share_of_peak"] <= 1
    assert r["transactions"] > 0


def test_many_runs_in_one_process_are_identical():
    a = [xpusim.kernel("gemm", m=256, n=512, k=384)["latency_s"] for _ in range(5)]
    assert len(set(a)) == 1


def test_module_matches_the_cli(cli):
    r = xpusim.kernel("gemm", chip="h100-sxm", m=512, n=2048, k=1024, dtype="bf16")
    j = json.loads(cli("kernel", "gemm", "--chip", "h100-sxm", "--m", "512", "--n", "2048", "--k", "1024",
                       "--format", "json").stdout)
    assert j["latency_s"] == r["latency_s"]
    assert j["transactions"] == r["transactions"]


def test_overrides_change_the_result():
    # A skinny GEMM is bound by streaming its weights while HBM is the bottleneck: halving the
    # bandwidth from 2 TB/s to 1 TB/s nearly doubles its time.
    slow = xpusim.kernel("gemm", m=8, n=4096, k=4096, set={"hbm.bandwidth": "1 TB/s"})["latency_s"]
    base = xpusim.kernel("gemm", m=8, n=4096, k=4096, set={"hbm.bandwidth": "2 TB/s"})["latency_s"]
    assert 1.7 * base < slow < 2.1 * base


def test_nested_override_dicts_are_the_dotted_keys():
    # QA: set={"hbm": {"bandwidth": ...}} (a preset file's nesting) was refused as "hbm: expected a section of
    # keys, not a value"; it is hbm.bandwidth, and a system key's list the comma text a preset takes.
    dims = dict(m=8, n=4096, k=4096)
    nested = xpusim.kernel("gemm", set={"hbm": {"bandwidth": "1 TB/s"}}, **dims)["latency_s"]
    assert nested == xpusim.kernel("gemm", set={"hbm.bandwidth": "1 TB/s"}, **dims)["latency_s"]
    assert nested != xpusim.kernel("gemm", **dims)["latency_s"]
    assert xpusim._sets({"scale_up": {"dims": [2, 4, 4], "link": {"bandwidth": "50GB/s"}}}) == [
        "scale_up.dims=2, 4, 4", "scale_up.link.bandwidth=50GB/s"]
    with pytest.raises(ValueError, match="hbm: an empty dict sets nothing"):
        xpusim._sets({"hbm": {}})


def test_functional_gemm():
    r = xpusim.kernel("gemm", m=64, n=96, k=80, functional=True)
    assert r["functional"]["passed"]


def test_bad_input_raises():
    with pytest.raises(ValueError, match="valid chips"):
        xpusim.kernel("gemm", chip="nope", m=1, n=1, k=1)
    with pytest.raises(ValueError, match="positive"):
        xpusim.kernel("gemm", m=0, n=1, k=1)


# QA (qa60): a keyword of the wrong type is refused by its name, as the CLI refuses its flag. An on/off keyword
# took any value by its truth (sustained="no" ran sustained, fold="no" folded), after_runs=-1 was the module's
# "not given" (the CLI and run() refuse it) and True ran as 1, and a chip, op or preset that is not a str reached
# pybind11, whose TypeError named its internal kernel_json over several lines.
@pytest.mark.parametrize("call, kwargs, start", [
    ("kernel", dict(sustained="no"), "sustained='no': expected True or False"),
    ("kernel", dict(functional="yes"), "functional='yes': expected True or False"),
    ("kernel", dict(after_runs=-1), "after_runs=-1: expected a number of warm-up runs from 0 to 1e9"),
    ("kernel", dict(after_runs=True), "after_runs=True: expected a number of warm-up runs"),
    ("kernel", dict(after_runs="abc"), "after_runs='abc': expected a number of warm-up runs"),
    ("kernel", dict(chip=3), "chip=3: expected a str"),
    ("Session", dict(chip=3, kernel="gemm"), "chip=3: expected a str"),
    ("Session", dict(kernel=7), "kernel=7: expected a str"),
    ("run", dict(sustained="no"), "sustained='no': expected True or False"),
    ("run", dict(fold="no"), "fold='no': expected True or False"),
    ("serve", dict(overlap="yes"), "overlap='yes': expected True or False"),
    ("chip_config", dict(chip=5), "chip=5: expected a str"),
])
def test_a_keyword_of_the_wrong_type_is_refused_by_name(call, kwargs, start):
    f = getattr(xpusim, call)
    args = dict(op="gemm", m=64, n=64, k=64) if call == "kernel" else dict(m=64, n=64, k=64) if call == "Session" else {}
    with pytest.raises(xpusim.InputError) as e:
        f(**dict(args, **kwargs))
    assert str(e.value).startswith(start) and "\n" not in str(e.value)
    assert e.value.flag == "--" + next(iter(kwargs)).replace("_", "-")
    with pytest.raises(xpusim.InputError, match=r"^op=None: expected a str"):
        xpusim.kernel(None, m=64, n=64, k=64)


def test_on_off_keywords_take_bools_and_none():
    gemm = dict(m=64, n=64, k=64)
    assert xpusim.kernel("gemm", sustained=None, **gemm)["latency_s"] == xpusim.kernel("gemm", **gemm)["latency_s"]
    assert xpusim.kernel("gemm", sustained=1, **gemm)["latency_s"] == xpusim.kernel("gemm", sustained=True, **gemm)["latency_s"]


def test_run_serve_and_chip_config_from_python():
    r = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", phase="decode", batch=2, input=256)
    assert r["tpot_s"] > 0 and r["tokens_per_s"] > 0 and r["power"]["modeled"]
    faster = xpusim.run(model="llama-3.1-8b", chip="h100-sxm", phase="decode", batch=2, input=256,
                        set={"hbm.bandwidth": "6.7 TB/s"})
    assert faster["tpot_s"] < r["tpot_s"]
    assert "bandwidth: 6.7 TB/s" in xpusim.chip_config("h100-sxm", set={"hbm.bandwidth": "6.7 TB/s"})


def test_perfetto_from_the_cli(cli, tmp_path):
    out = tmp_path / "pf"
    cli("kernel", "gemm", "--m", "256", "--n", "256", "--k", "512", "--out", str(out), "--trace",
        "--trace-format", "perfetto")
    d = json.loads((out / "trace.json").read_text())
    slices = [e for e in d["traceEvents"] if e["ph"] == "X" and "task" in e["args"]]  # the records, not the kernels track
    stats = json.loads((out / "stats.json").read_text())
    assert len(slices) == stats["transactions"]
    names = {e["args"]["name"] for e in d["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert any(n.endswith(".tensor") for n in names)
    # Slices on one track never overlap (Perfetto requires nesting).
    by_tid = {}
    for e in sorted(slices, key=lambda e: e["ts"]):
        assert e["ts"] >= by_tid.get(e["tid"], -1) - 1e-6
        by_tid[e["tid"]] = e["ts"] + e["dur"]


def test_one_override_as_a_string(cli):
    """set="hbm.bandwidth=4TB/s" was split into characters and refused as "--set: 'h'"; one string is one override,
    the same as a one-item list or dict, in kernel() and in the functions that pass flags to the CLI's code."""
    dims = dict(m=256, n=4096, k=4096)
    one = xpusim.kernel("gemm", set="hbm.bandwidth=1TB/s", **dims)["latency_s"]
    assert one == xpusim.kernel("gemm", set=["hbm.bandwidth=1TB/s"], **dims)["latency_s"]
    assert one == xpusim.kernel("gemm", set={"hbm.bandwidth": "1TB/s"}, **dims)["latency_s"]
    assert one != xpusim.kernel("gemm", **dims)["latency_s"]
    assert "bandwidth: 1 TB/s" in xpusim.chip_config("h100-sxm", set="hbm.bandwidth=1TB/s")
    with pytest.raises(TypeError, match="set: expected a dict"):
        xpusim.kernel("gemm", set=5, **dims)
    with xpusim.Session(kernel="gemm", set="hbm.bandwidth=1TB/s", **dims) as s:
        s.run()
        assert s.result()["latency_s"] == one


def test_list_models_as_the_cli(cli):
    """The CLI lists the shipped models (`xpusim list models`); the module had list_chips/list_systems/list_ops only."""
    out = cli("list", "models").stdout
    rows = [line.split() for line in out.split("\n\n")[0].splitlines()[1:]]
    assert xpusim.list_models() == [r[0] for r in rows]
    assert "llama-3.1-8b" in xpusim.list_models()
    # QA (session 44): it printed bare names; each line now says what the model is.
    assert out.splitlines()[0].split()[:4] == ["model", "params", "active", "layers"]
    assert re.search(r"^mixtral-8x7b +47B +13B +32 +4096 +32 \(8\) +8, top-2 +32768$", out, re.M), out
    assert re.search(r"^llama-3.1-8b +8B +- +32 ", out, re.M), out


def test_list_ops_as_the_cli(cli):
    """xpusim.list_ops() says it is `xpusim list ops` but left out broadcast and sendrecv, which the CLI lists."""
    assert xpusim.list_ops() == cli("list", "ops").stdout.split()
