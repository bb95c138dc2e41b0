"""QA (session 54): an InputError carries what it is about as data, set where it is raised (the flag and the value
given to it; a config file and its key), and a Python call's message names the caller's keyword from that data. One
bad input at each of many raise sites (the layout checks, serve's, compare's, the collectives', a kernel's, a scenario
or study file's): the error's data and the keyword its message starts with."""
import os

import pytest

import xpusim

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# (call, keywords, data (flag, value) the error carries, the start of its message)
FLAG_SITES = [
    # run's layout checks (workloads/scenario.cpp, sim/run/model_run.cpp)
    ("run", dict(model="llama-3.1-8b", tp=3, system="hgx-h100x8", dp=1), ("--tp", "3"), "tp=3 does not divide llama-3.1-8b's 32"),
    ("run", dict(model="llama-3.1-8b", ep=2, tp=2, system="hgx-h100x8"), ("--ep", "2"), "ep=2: llama-3.1-8b has no experts"),
    ("run", dict(model="llama-3.1-8b", pp=64, system="hgx-h100x8"), ("--pp", "64"), "pp=64 is larger than llama-3.1-8b's 32 layers"),
    ("run", dict(model="llama-3.1-8b", batch=3, dp=2, system="hgx-h100x8"), ("--batch", "3"), "batch=3 does not split over dp=2"),
    ("run", dict(model="llama-3.1-8b", input=10 ** 6), ("--input", "1000000"), "input=1000000 exceeds"),
    ("run", dict(model="llama-3.1-8b", tp=2), ("--tp", "2"), "tp=2 x pp=1 x dp=1 = 2 devices needs a system of 2 chips"),
    ("run", dict(model="llama-3.1-8b", routing="hot:0.5"), ("--routing", "hot:0.5"), "routing='hot:0.5': llama-3.1-8b has no experts"),
    ("run", dict(model="llama-3.1-8b", redundant_experts=-1), ("--redundant-experts", "-1"), "redundant_experts=-1 must not be negative"),
    ("run", dict(model="llama-3.1-70b", batch=64, input=8192), ("--batch", "9"), "llama-3.1-70b with batch 64 x (8192 + 1) tokens does not fit"),
    # serve's checks (sim/serve/serve.cpp, scheduler.cpp, requests.cpp, disagg.cpp)
    ("serve", dict(spec_tokens=3), ("--spec-tokens", "3"), "spec_tokens=3: give spec_accept=A too"),
    ("serve", dict(rate=1.0, concurrency=4), ("--rate", ""), "rate and concurrency: give one"),
    ("serve", dict(scheduler="bogus"), ("--scheduler", "bogus"), "scheduler='bogus': expected"),
    ("serve", dict(prefix_hit=1.5), ("--prefix-hit", "1.5"), "prefix_hit=1.5: expected the cached share"),
    ("serve", dict(input="uniform:9:3"), ("--input", "uniform:9:3"), "input='uniform:9:3': uniform:LO:HI needs LO <= HI"),
    ("serve", dict(prefill_devices=4, decode_devices=4), ("--prefill-devices", "4"), "prefill_devices=4 decode_devices=4: disaggregated pools need a system"),
    ("serve", dict(prefill_tp=2), ("--prefill-tp", "2"), "prefill_tp=2: the prefill pool's layout needs disaggregated pools"),
    ("serve", dict(lengths_csv="/nonexistent/lengths.csv"), ("--lengths-csv", "/nonexistent/lengths.csv"), "/nonexistent/lengths.csv: lengths_csv: file not found"),
    # compare's units and flags (sim/serve/compare.cpp)
    ("compare", dict(chips=["h100-sxm:tp8"], model="llama-3.1-8b"), ("--chips", "h100-sxm:tp8"), "chips=['h100-sxm:tp8']: a layout (':tpN') follows a system preset"),
    ("compare", dict(chips=["hgx-h100x8:tq8"], model="llama-3.1-8b"), ("--chips", "hgx-h100x8:tq8"), "chips=['hgx-h100x8:tq8']: expected SYSTEM:LAYOUT"),
    ("compare", dict(scenario="bogus"), ("--scenario", "bogus"), "scenario='bogus': expected chat or long"),
    ("compare", dict(tiers="0"), ("--tiers", "0"), "tiers='0': '0' is not a positive number of tok/s per user"),
    # from a worker process (jobs=2): the data cross the pipe with the message
    ("compare", dict(chips=["h100-sxm", "trn2"], model="llama-3.1-8b", jobs=2, scheduler="bogus"), ("--scheduler", "bogus"), "scheduler='bogus': expected"),
    ("compare", dict(name="a/b"), ("--name", "a/b"), "name='a/b': expected a plain name"),
    # a collective's and a kernel's flags (sim/system/collective_run.cpp, sim/run/system_run.cpp, sim/run/kernel_run.cpp)
    ("collective", dict(bytes="abc"), ("--bytes", "abc"), "bytes='abc': expected a size such as 256MiB"),
    ("expert_exchange", dict(stage="middle"), ("--stage", "middle"), "stage='middle': expected dispatch or combine"),
    ("kernel", dict(op="gemm", m=64, n=64, k=64, fast_accum=True), ("--fast-accum", ""), "gemm: fast_accum applies to fp8 GEMMs"),
    # an unknown name, raised where it is looked up (sim/run/registry.cpp, sim/interconnect/system_spec.cpp,
    # workloads/model.cpp) and given its flag where the flag's value is resolved (qa55)
    ("kernel", dict(op="gemm", m=64, n=64, k=64, chip="h100x"), ("--chip", "h100x"), "chip='h100x': unknown chip; valid chips: "),
    ("run", dict(chip="h100x"), ("--chip", "h100x"), "chip='h100x': unknown chip; valid chips: "),
    ("run", dict(system="hgx-h100x9"), ("--system", "hgx-h100x9"), "system='hgx-h100x9': unknown system; valid systems: "),
    ("collective", dict(system="hgx-h100x9"), ("--system", "hgx-h100x9"), "system='hgx-h100x9': unknown system; valid systems: "),
    ("run", dict(model="llama-3.1-8x"), ("--model", "llama-3.1-8x"), "model='llama-3.1-8x': no such shipped model or file; shipped models: "),
    ("serve", dict(model="/nonexistent/config.json"), ("--model", "/nonexistent/config.json"), "model='/nonexistent/config.json': no such shipped model or file"),
    ("compare", dict(chips=["h100-sxm"], model="llama-3.1-8x"), ("--model", "llama-3.1-8x"), "model='llama-3.1-8x': no such shipped model or file"),
    ("serve", dict(spec_tokens=2, spec_accept=0.7, spec_method="draft", spec_draft="llama-9b"), ("--spec-draft", "llama-9b"), "spec_draft='llama-9b': model: no such shipped model or file"),
]


@pytest.mark.parametrize("call,kwargs,data,start", FLAG_SITES, ids=["%s-%s" % (s[0], s[2][0][2:]) for s in FLAG_SITES])
def test_an_error_carries_its_flag_and_names_the_keyword(call, kwargs, data, start):
    kwargs = dict(kwargs)
    args = (kwargs.pop("op"),) if "op" in kwargs else ()
    e = pytest.raises(xpusim.InputError, getattr(xpusim, call), *args, **kwargs).value
    assert (e.flag, e.value or "") == data, str(e)
    assert str(e).startswith(start), str(e)
    assert data[0] not in str(e), str(e)  # the keyword, not the flag


def test_an_error_in_a_file_carries_the_file_and_key(tmp_path):
    """A scenario file's key (ConfigError) and a study file's tiers: file and key, no flag."""
    scenario = tmp_path / "pools.yaml"
    scenario.write_text("pools:\n  prefill: {devices: 4}\n  decode: {devices: 4}\n")
    e = pytest.raises(xpusim.InputError, xpusim.serve, scenario_file=str(scenario), prefill_devices=4).value
    assert (e.flag, e.key) == (None, "pools.prefill.devices") and e.file.startswith(str(scenario)), str(e)  # its line too
    assert "either this key or prefill_devices, not both" in str(e), str(e)
    study = tmp_path / "study.yaml"
    study.write_text("description: one chip\nmodels: [llama-3.1-8b]\nunits: [h100-sxm]\ntiers: 0,20\n")
    e = pytest.raises(xpusim.InputError, xpusim.compare, study=str(study)).value
    assert (e.flag, e.key) == (None, "tiers") and e.file.startswith(str(study)), str(e)


def test_an_error_in_a_model_file_carries_the_file_and_key():
    """A model config.json's key (workloads/model.cpp), as a preset's: file and key, no flag."""
    path = os.path.join(ROOT, "tests", "data", "bad", "zero_vocab.json")
    e = pytest.raises(xpusim.InputError, xpusim.run, model=path).value
    assert (e.flag, e.file, e.key) == (None, path, "vocab_size"), str(e)
    assert str(e).startswith(path + ": vocab_size: expected a positive integer"), str(e)


# QA (qa56): the raise sites that carried no data. (call, keywords, (flag, value) or (key, value), the message's start,
# the mentions: the other flags it names with their values)
QA56_FLAG_SITES = [
    # an unknown name where a Python entry point resolves it: the keyword read as its flag
    ("kernel", dict(op="gemmx", m=64, n=64, k=64), ("--op", "gemmx"), "op='gemmx': unknown op; valid ops: ", []),
    ("Session", dict(kernel="gemmx", m=64, n=64, k=64), ("--kernel", "gemmx"), "kernel='gemmx': unknown op; valid ops: ", []),
    ("Session", dict(chip="h100x", kernel="gemm", m=64, n=64, k=64), ("--chip", "h100x"), "chip='h100x': unknown chip; valid chips: ", []),
    ("Session", dict(model="llama-9x"), ("--model", "llama-9x"), "model='llama-9x': no such shipped model or file", []),
    ("Session", dict(kernel="allreduce"), ("--kernel", "allreduce"), "Session(kernel='allreduce'): a collective runs on a system", []),
    ("chip_config", dict(chip="h100x"), ("--chip", "h100x"), "chip='h100x': unknown chip; valid chips: ", []),
    ("collective", dict(op="allreduse"), ("--op", "allreduse"), "op='allreduse': unknown collective; collectives: ", []),
    ("system_config", dict(system="hgx-h100x9"), ("--system", "hgx-h100x9"), "system='hgx-h100x9': unknown system; valid systems: ", []),
    # an op's shape (workloads/op.cpp): the flag at fault, and the other flag the message names as a mention
    ("kernel", dict(op="attention", heads=8, seq=128, seq_q=256), ("--seq-q", "256"),
     "attention: seq_q=256 is more queries than keys (seq=128)", [("--seq", "128")]),
    ("kernel", dict(op="attention", heads=6, kv_heads=4, seq=128), ("--heads", "6"),
     "attention: heads=6 must be a multiple of kv_heads=4", [("--kv-heads", "4")]),
    ("kernel", dict(op="topk", tokens=8, experts=4, topk=8), ("--topk", "8"),
     "topk: topk=8 must not exceed the number of experts (experts=4)", [("--experts", "4")]),
    ("kernel", dict(op="gemm", m=2 ** 24, n=64, k=65536), ("--m", "16777216"), "gemm: operand A would hold", []),
    # a lowering's refusal: the chip that refuses, as its value (a --chip's or a system's chip: no flag)
    ("kernel", dict(op="attention", chip="maia100", heads=8, seq=128, functional=True), (None, "maia100"),
     "maia100: cannot run attention", []),
    # an --out that is a file: the folder given (it carried the flag alone)
    ("run", dict(model=os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json"), input=128, out="/etc/passwd"), ("--out", "/etc/passwd"),
     "/etc/passwd: out: cannot create the output folder", []),
    # raised in Python itself (__init__.py, session.py)
    ("collective", dict(nodes=1.5), ("--nodes", "1.5"), "nodes=1.5: expected an integer", []),
    ("kernel", dict(op="gemm", m=64, n=64, k=64, chipp="b200"), ("--chipp", "b200"), "kernel gemm: unknown keyword chipp='b200'", []),
    ("Session", dict(model="llama-3.1-8b", batch=2.5), ("--batch", "2.5"), "batch=2.5: expected an integer", []),
    # Session's own usage checks (they were plain ValueErrors without data)
    ("Session", dict(kernel="gemm", model="llama-3.1-8b", m=64, n=64, k=64), ("--model", "llama-3.1-8b"),
     "Session(kernel='gemm', model='llama-3.1-8b'): kernel and model are exclusive", []),
    ("Session", dict(), ("--kernel", ""), "Session needs either kernel=<op>", []),
    ("Session", dict(kernel="gemm", m=64, n=64, k=64, input=128), ("--input", "128"),
     "input=128: a model session's prompt length, not an argument of kernel gemm", []),
    ("Session", dict(model="llama-3.1-8b", m=64), (None, None), "unexpected arguments for a model session: m", []),
]


@pytest.mark.parametrize("call,kwargs,data,start,mentions", QA56_FLAG_SITES,
                         ids=["%s-%s-%s" % (s[0], (s[2][0] or "--")[2:], s[2][1]) for s in QA56_FLAG_SITES])
def test_every_raise_site_carries_its_data(call, kwargs, data, start, mentions):
    kwargs = dict(kwargs)
    args = (kwargs.pop("op"),) if "op" in kwargs else ()
    e = pytest.raises(xpusim.InputError, getattr(xpusim, call), *args, **kwargs).value
    assert (e.flag, e.value) == data, str(e)
    assert [tuple(m) for m in e.mentions] == mentions, str(e)
    assert str(e).startswith(start), str(e)
    assert (data[0] or "--x") not in str(e) and all(m[0] not in str(e) for m in mentions), str(e)  # named as keywords


@pytest.mark.parametrize("chip,key,value", [("h100-sxm", "sm.smem_per_block", "1 KiB"), ("tpu-v6e", "vmem.capacity", "64 KiB")])
def test_a_tiling_that_does_not_fit_names_the_chips_key(chip, key, value):
    """No GEMM tile fits a what-if's memory: the key (and its value) that is too small, not only the chip."""
    e = pytest.raises(xpusim.InputError, xpusim.kernel, "gemm", chip=chip, m=4096, n=4096, k=4096,
                      set=["%s=%s" % (key, value.replace(" ", ""))]).value
    assert (e.key, e.value, e.flag) == (key, value, None), str(e)
    assert str(e).startswith("%s: %s: '%s': no GEMM" % (chip, key, value)), str(e)


def test_a_model_folder_without_a_config_is_named_as_one(tmp_path):
    e = pytest.raises(xpusim.InputError, xpusim.run, model=str(tmp_path)).value
    assert (e.flag, e.value) == ("--model", str(tmp_path)), str(e)
    assert str(e).startswith("model=%r: a folder without a config.json" % str(tmp_path)), str(e)


def test_a_layouts_other_flags_are_renamed_from_its_data():
    """first_of gives the later flags of the command line it is about as mentions; the message names each keyword."""
    e = pytest.raises(xpusim.InputError, xpusim.run, model="llama-3.1-8b", tp=2).value
    assert (e.flag, e.value, [tuple(m) for m in e.mentions]) == ("--tp", "2", [("--pp", "1"), ("--dp", "1")]), str(e)
    assert str(e).startswith("tp=2 x pp=1 x dp=1 = 2 devices"), str(e)


def test_keyword_message_takes_the_other_flags_from_data():
    """A mention's value is whatever the data say (spaces and all), where reading the text stops at the first space."""
    message = "--input 'uniform:1:9' with --lengths-csv /tmp/my lengths.csv: the CSV gives every request's lengths"
    values = {"input": "uniform:1:9", "lengths_csv": "/tmp/my lengths.csv"}
    by_data = xpusim._keyword_message(message, values, flag="--input", value="uniform:1:9",
                                      mentions=[("--lengths-csv", "/tmp/my lengths.csv")])
    assert by_data == "input='uniform:1:9' with lengths_csv='/tmp/my lengths.csv': the CSV gives every request's lengths"
    by_text = xpusim._keyword_message(message, values, flag="--input", value="uniform:1:9")
    assert by_text != by_data  # the text alone takes "/tmp/my" for the value
    # a mention without a value renames the flag alone; a flag the data do not give is still found in the text
    assert xpusim._keyword_message("--rate and --concurrency: give one", {}, flag="--rate", mentions=[("--concurrency", "")]) == \
        "rate and concurrency: give one"


def test_a_sessions_stepping_checks_carry_their_keyword():
    with xpusim.Session(kernel="gemm", m=64, n=64, k=64) as s:
        check_stepping_errors(s)


def check_stepping_errors(s):
    for call, kwargs, data, start in [(s.run_until, dict(t=-1), ("--t", "-1"), "run_until(t=-1): expected a finite time"),
                                      (s.break_on, dict(), ("--unit", ""), "break_on needs unit= or kernel="),
                                      (s.break_on, dict(unit="nosuchunit"), ("--unit", "nosuchunit"), "unit='nosuchunit' matches no unit"),
                                      (s.run_until_kernel, dict(name=""), ("--kernel", ""), "kernel='': expected a non-empty string")]:
        e = pytest.raises(xpusim.InputError, call, **kwargs).value
        assert (e.flag, e.value) == data, str(e)
        assert str(e).startswith(start), str(e)


# QA (qa57): raise sites that named a second flag only in their text now carry it as a mention: (call, keywords,
# the mentions it carries, the start of its message).
MENTION_SITES = [
    ("run", dict(model="llama-3.1-8b", batch=3, dp=2, system="hgx-h100x8"), [("--dp", "2")], "batch=3 does not split over dp=2"),
    ("run", dict(model="llama-3.1-8b", input=131000, output=1000, phase="decode"), [("--output", "1000")],
     "input=131000 + output=1000 = 132000 tokens exceeds"),
    ("serve", dict(rate=1.0, concurrency=4), [("--concurrency", "")], "rate and concurrency: give one"),
    ("serve", dict(concurrency=64, requests=16), [("--concurrency", "64")], "requests=16 is fewer than concurrency=64"),
    ("serve", dict(cache_length=512), [("--scheduler", "jetstream")], "cache_length=512: KV tokens per decode slot of scheduler=jetstream"),
    ("serve", dict(max_seqs=8, max_batch=16), [("--max-batch", "16")], "max_seqs=8 and max_batch=16"),
]


@pytest.mark.parametrize("call,kwargs,mentions,start", MENTION_SITES, ids=["%s-%s" % (s[0], s[2][0][0][2:]) for s in MENTION_SITES])
def test_an_error_carries_the_other_flags_it_names(call, kwargs, mentions, start):
    e = pytest.raises(xpusim.InputError, getattr(xpusim, call), **kwargs).value
    assert [tuple(m) for m in e.mentions] == mentions, str(e)
    assert str(e).startswith(start), str(e)
