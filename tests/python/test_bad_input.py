"""Bad input never crashes, hangs, prints a traceback or leaves files behind (issue 18).

Every case is one command line with one bad input: a CLI flag, a `--set` overlay, a chip preset given as
a file, a config.json, a measurement CSV or a special file (FIFO, device, folder, oversized file). Each
asserts: exit status 2, exactly one line on stderr that starts with "xpusim: error:" and names the
offending key or value, no "internal error", no traceback, and (where --out is given) no output folder.
Cases are generated (every numeric preset key of each family x {nan, inf, -1, 0 where 0 is invalid,
1e30}, every kernel dimension x {0, -1, 1e7, 2^24+1, 2^32, abc, 1.5, ""}, every config.json field x bad
values, ...). They all fail before simulating, so they cost milliseconds each; they run concurrently in
one session fixture and each parametrized test checks its own result.
"""
import atexit
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build"))
XPUSIM = os.path.join(BUILD, "xpusim")
DATA = os.path.join(ROOT, "tests", "data")
BAD = os.path.join(DATA, "bad")
TINY_MODEL = os.path.join(DATA, "models", "tiny-llama.json")
TINY_GPU = os.path.join(DATA, "presets", "tiny_gpu.yaml")
WORK = tempfile.mkdtemp(prefix="xpusim-bad-")  # generated inputs and --out targets (removed at exit)
atexit.register(shutil.rmtree, WORK, True)

FAMILY_PRESET = {"gpu": "h100-sxm", "tpu": "tpu-v6e", "trainium": "trn2", "maia": "maia200"}
UNIT_OF_KIND = {"time": "ns", "frequency": "GHz", "bandwidth": "GB/s", "size": "KiB", "power": "W", "energy": "pJ"}
NUMERIC_KINDS = set(UNIT_OF_KIND) | {"number", "integer"}

CASES = {}  # id -> dict(argv, names, out)


def case(cid, argv, names=(), out=False):
    """One bad input. `names`: texts the error line must contain (the key, flag or value at fault)."""
    assert cid not in CASES, cid
    argv = list(argv)
    out_dir = None
    if out or argv[0] == "serve":  # serve --out, as run's: a refused study writes nothing
        out_dir = os.path.join(WORK, "out", re.sub(r"[^A-Za-z0-9_.-]", "_", cid))
        argv += ["--out", out_dir]
    CASES[cid] = {"argv": argv, "names": list(names), "out": out_dir}


def write(name, text, binary=False):
    path = os.path.join(WORK, name)
    with open(path, "wb" if binary else "w") as f:
        f.write(text)
    return path


# --- every numeric preset key of every family ---------------------------------------------------------

def schema(family):
    """(key, kind, default, description) of each field, from `xpusim params <family>`."""
    try:
        out = subprocess.run([XPUSIM, "params", family], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return []
    rows = []
    for line in out.splitlines()[3:]:
        tok = line.split()
        if len(tok) < 2 or tok[1] not in NUMERIC_KINDS:
            continue
        key, kind, rest = tok[0], tok[1], tok[2:]
        if rest and rest[0] == "(required)":
            default, desc = None, rest[1:]
        elif kind in UNIT_OF_KIND:
            default, desc = " ".join(rest[:2]), rest[2:]
        else:
            default, desc = rest[0] if rest else None, rest[1:]
        rows.append((key, kind, default, " ".join(desc)))
    return rows


def zero_is_invalid(key, kind, default, desc):
    # The documented rule (README, error catalogue): 0 is refused unless the field is a time or a
    # cycle count, its default is 0, or its description says what 0 means.
    if kind == "time" or key.endswith("cycles"):
        return False
    if "(0" in desc or "0 =" in desc or "0:" in desc:
        return False
    if default is not None and float(default.split()[0]) == 0:
        return False
    return True


for fam, preset in FAMILY_PRESET.items():
    for key, kind, default, desc in schema(fam):
        unit = (" " + UNIT_OF_KIND[kind]) if kind in UNIT_OF_KIND else ""
        values = {"nan": "nan" + unit, "inf": "inf" + unit, "neg": "-1" + unit, "huge": "1e30" + unit}
        if zero_is_invalid(key, kind, default, desc):
            values["zero"] = "0" + unit
        for tag, v in values.items():
            case("set-%s-%s-%s" % (fam, key, tag),
                 ["kernel", "gemm", "--chip", preset, "--m", "64", "--n", "64", "--k", "64", "--set", "%s=%s" % (key, v)],
                 names=[key], out=True)

# The family, inheritance and malformed overlays.
for fam, preset in FAMILY_PRESET.items():
    case("set-%s-family" % fam, ["kernel", "gemm", "--chip", preset, "--m", "64", "--n", "64", "--k", "64",
                                 "--set", "family=" + ("tpu" if fam != "tpu" else "gpu")], names=["family"], out=True)
    case("set-%s-inherits" % fam, ["kernel", "gemm", "--chip", preset, "--m", "64", "--n", "64", "--k", "64",
                                   "--set", "inherits=h100_sxm.yaml"], names=["inherits"], out=True)
for i, bad in enumerate(["=4", "noequals", "hbm..bandwidth=4TB/s", ".hbm=1", "hbm.=1", "hbm bandwidth=1TB/s",
                         "hbm.bandwidth=4 TB/s\nsm.count=1", "no.such.key=1", "hbm.bandwidth=4 furlongs",
                         "hbm.bandwidth=", "sm.count=4.5", "sm.count=0x10", "sm.count=4e40", "sm.count=100000",
                         "sm.max_blocks=100000", "hbm.stacks=1000", "l2.slices=100000", "sm.cluster_multicast=maybe"]):
    case("set-malformed-%d" % i, ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--set", bad],
         names=[bad.split("=")[0]] if "=" in bad and bad.split("=")[0] else [], out=True)
# A key given twice: refused (the last one silently won), in kernel, run and serve, and for a system's fields.
case("set-twice-kernel", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--set", "hbm.bandwidth=4TB/s",
                          "--set", "hbm.bandwidth=5TB/s"], names=["--set hbm.bandwidth: given twice (4TB/s, then 5TB/s)"], out=True)
case("set-twice-system", ["run", "--system", "hgx-h100x8", "--tp", "2", "--dp", "4", "--batch", "4", "--model",
                          os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json"), "--set",
                          "scale_up.link.bandwidth=100GB/s", "--set", "scale_up.link.bandwidth=200GB/s"],
     names=["scale_up.link.bandwidth: given twice"], out=True)
for fam, key in [("tpu", "tensorcores=1000"), ("trainium", "cores=1000"), ("maia", "cluster.count=100000"),
                 ("tpu", "mxu.rows=100000"), ("trainium", "psum.banks=1000"), ("maia", "ttu.cols=100000")]:
    case("set-%s-too-many-%s" % (fam, key.split("=")[0]),
         ["kernel", "gemm", "--chip", FAMILY_PRESET[fam], "--m", "64", "--n", "64", "--k", "64", "--set", key],
         names=[key.split("=")[0]], out=True)

# --- attention kernel implementation (--impl): an unknown name, and a GPU kernel on other families ----
case("attention-impl-unknown", ["kernel", "attention", "--batch", "1", "--heads", "4", "--seq", "128", "--impl", "fa4"],
     names=["--impl", "fa4"])
for fam in ("tpu", "trainium", "maia"):
    case("attention-impl-%s" % fam, ["kernel", "attention", "--chip", FAMILY_PRESET[fam], "--batch", "1", "--heads", "4",
                                     "--seq", "128", "--impl", "fa2"], names=["--impl fa2"])
for fam in ("gpu", "tpu", "maia"):  # AWS Neuron's attention on families that are not Trainium/Inferentia
    case("attention-impl-tnx-%s" % fam, ["kernel", "attention", "--chip", FAMILY_PRESET[fam], "--batch", "1", "--heads", "4",
                                         "--seq", "128", "--impl", "transformers-neuronx"], names=["--impl transformers-neuronx"])

# A grouped GEMM names DeepGEMM's kernel or CUTLASS's ptr-array kernel (TensorRT-LLM's MoE runner), nothing else.
case("grouped-gemm-impl-unknown", ["kernel", "grouped_gemm", "--tokens", "256", "--groups", "8", "--n", "256", "--k", "256",
                                   "--impl", "fa2"], names=["--impl", "fa2", "cutlass-ptr-array"])

case("attention-impl-fa3-b200", ["kernel", "attention", "--chip", "b200", "--batch", "1", "--heads", "4", "--seq", "128",
                                  "--impl", "fa3"], names=["--impl fa3", "sm_90a", "--impl fa2"])
# fp4/fp6 in row-wise compute: refused alike on every family (vector units do not compute in them), naming the flag.
for fam, preset in FAMILY_PRESET.items():
    for op, flag, v in (("rmsnorm", "--dtype", "fp4"), ("swiglu", "--odtype", "fp6"), ("rope", "--dtype", "fp6")):
        case("rowwise-%s-%s-%s" % (fam, op, v), ["kernel", op, "--chip", preset, "--rows", "64", "--cols", "4096", flag, v],
             names=["%s: %s %s" % (op, flag, v), "fp32, bf16, fp16, fp8 or int8"])

# Attention's output is normalized (O / l) on the vector units: fp4/fp6 output refused alike (it ran on the GPU).
for fam, preset in FAMILY_PRESET.items():
    case("attention-odtype-fp4-%s" % fam, ["kernel", "attention", "--chip", preset, "--heads", "4", "--seq", "128",
                                           "--odtype", "fp4"], names=["attention: --odtype fp4: its output is normalized"])

# --- every kernel dimension -------------------------------------------------------------------------
OPS = {
    "gemm": {"m": "64", "n": "64", "k": "64", "batch": "1"},
    "grouped_gemm": {"tokens": "64", "groups": "4", "n": "64", "k": "64"},
    "attention": {"batch": "1", "heads": "4", "kv-heads": "2", "seq": "128", "seq-q": "128", "head-dim": "64",
                  "head-dim-v": "64", "window": "64", "page-size": "16"},
    "topk": {"tokens": "64", "experts": "8", "topk": "2"},
    "embedding": {"tokens": "64", "cols": "64", "n": "1000"},
    "allreduce": {"bytes": "65536", "devices": "8"},
}
for op in ["rmsnorm", "layernorm", "softmax", "swiglu", "gelu", "rope", "residual_add"]:
    OPS[op] = {"rows": "64", "cols": "128"}
BAD_DIMS = {"zero": "0", "neg": "-1", "sci": "1e7", "u32": str(2 ** 32), "abc": "abc"}
MORE_BAD_DIMS = {"over": str(2 ** 24 + 1), "frac": "1.5", "empty": "", "huge": "9" * 30}
for op, dims in OPS.items():
    for dim in dims:
        for tag, v in dict(BAD_DIMS, **(MORE_BAD_DIMS if op in ("gemm", "attention") else {})).items():
            if dim == "bytes" and tag == "u32":
                continue  # --bytes takes up to 1 TiB
            args = dict(dims, **{dim: v})
            argv = ["kernel", op]
            for k, x in args.items():
                argv += ["--%s=%s" % (k, x)]
            case("kernel-%s-%s-%s" % (op, dim, tag), argv, names=["--" + dim], out=True)
# rope's head width: odd, or not dividing the row (heads x head width), ran as if it were fine.
for tag, hd in (("odd", "3"), ("over-cols", "5000"), ("not-dividing", "96")):
    case("kernel-rope-head-dim-%s" % tag, ["kernel", "rope", "--rows", "8", "--cols", "4096", "--head-dim", hd],
         names=["--head-dim " + hd, "even head width", "divides --cols (4096)"], out=True)
# Shapes whose every dimension is fine but whose operands or transaction count are not.
case("kernel-gemm-operand-2TiB", ["kernel", "gemm", "--m", "16777216", "--n", "16777216", "--k", "64"], names=["operand"])
case("kernel-gemm-1e7-transactions", ["kernel", "gemm", "--m", "10000000", "--n", "10000", "--k", "10000"],
     names=["transactions", "--max-transactions"], out=True)
case("kernel-rmsnorm-1e7-square", ["kernel", "rmsnorm", "--rows", "10000000", "--cols", "10000000"], names=["operand"])
case("kernel-attention-long", ["kernel", "attention", "--batch", "4096", "--heads", "128", "--seq", "1000000"],
     names=["operand"])
case("kernel-gemm-low-limit", ["--max-transactions", "100", "kernel", "gemm", "--m", "4096", "--n", "4096", "--k", "4096"],
     names=["transactions", "the limit is 100"], out=True)
# --trace-format without --trace was accepted and wrote no trace at all.
case("kernel-gemm-trace-format-alone", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--trace-format", "perfetto"],
     names=["--trace-format perfetto", "--trace too"], out=True)
case("kernel-gemm-trace-memory", ["--max-memory", "1MiB", "kernel", "gemm", "--m", "8192", "--n", "8192", "--k", "8192",
                                  "--trace"], names=["memory", "--max-memory"], out=True)
for fam, preset in FAMILY_PRESET.items():
    case("kernel-%s-k-2^32" % fam, ["kernel", "gemm", "--chip", preset, "--m", "64", "--n", "64", "--k", "4294967296"],
         names=["--k"], out=True)
    case("kernel-%s-estimate" % fam, ["kernel", "gemm", "--chip", preset, "--m", "16777216", "--n", "32768", "--k", "32768"],
         names=["transactions"], out=True)
case("kernel-attention-gqa", ["kernel", "attention", "--heads", "6", "--kv-heads", "4", "--seq", "64"], names=["--heads"])
case("kernel-attention-phase", ["kernel", "attention", "--phase", "middle", "--heads", "4", "--seq", "64"], names=["--phase"])
case("kernel-attention-seqq", ["kernel", "attention", "--heads", "4", "--seq", "64", "--seq-q", "128"], names=["--seq-q 128", "--seq 64"])
case("kernel-attention-causal", ["kernel", "attention", "--heads", "4", "--seq", "64", "--causal=perhaps"], names=["--causal"])
case("kernel-topk-k", ["kernel", "topk", "--tokens", "8", "--experts", "4", "--topk", "5"], names=["topk"])
case("kernel-rope-headdim", ["kernel", "rope", "--rows", "8", "--cols", "100", "--head-dim", "64", "--functional"],
     names=["--head-dim"])
case("kernel-functional-large", ["kernel", "gemm", "--m", "4096", "--n", "4096", "--k", "4096", "--functional"],
     names=["--functional"])
for d in ["dtype", "wdtype", "odtype"]:
    for tag, v in {"bogus": "bf17", "empty": "", "upper": "BF16x"}.items():
        case("kernel-gemm-%s-%s" % (d, tag), ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--%s=%s" % (d, v)],
             names=[v] if v else ["dtype"], out=True)
for tag, argv, names in [
        ("unknown-op", ["kernel", "gemv", "--m", "4"], ["gemv"]),
        ("two-ops", ["kernel", "gemm", "softmax", "--m", "4"], ["one op"]),
        ("unknown-flag", ["kernel", "gemm", "--mm", "4"], ["--mm"]),
        ("format", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--format", "xml"], ["--format"]),
        ("trace-no-out", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--trace"], ["--trace"]),
        ("trace-format", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--trace-format", "svg"], ["--trace-format"]),
        ("chip", ["kernel", "gemm", "--chip", "h100-pcie", "--m", "64", "--n", "64", "--k", "64"], ["h100-pcie"]),
        ("chip-empty", ["kernel", "gemm", "--chip", "", "--m", "64", "--n", "64", "--k", "64"], ["chip"]),
        ("tpu-fp16", ["kernel", "gemm", "--chip", "tpu-v6e", "--m", "64", "--n", "64", "--k", "64", "--dtype", "fp16"], ["fp16"])]:
    case("kernel-" + tag, argv, names)
case("kernel-out-is-file", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--out", __file__], names=["--out"])
case("kernel-out-under-file", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--out", __file__ + "/x"],
     names=["--out"])

# --- chip presets given as files --------------------------------------------------------------------
for f in sorted(os.listdir(BAD)):
    if f.endswith(".yaml"):
        names = {"duplicate_key.yaml": ["duplicate_key.yaml", "sm.count", "duplicate"],
                 "duplicate_section.yaml": ["duplicate_section.yaml", "hbm", "duplicate"],
                 "nan_clock.yaml": ["sm.clock"], "negative_latency.yaml": ["hbm.latency"],
                 "zero_bandwidth.yaml": ["hbm.bandwidth"], "inherits_cycle_a.yaml": ["inherits"],
                 "inherits_missing.yaml": ["no_such_parent.yaml"], "no_family.yaml": ["family"],
                 "unknown_family.yaml": ["fpga"], "top_level_list.yaml": ["mapping"], "deep_brackets.yaml": ["nested"],
                 "malformed.yaml": ["malformed.yaml"], "huge_sm_count.yaml": ["sm.count"]}.get(f, [f])
        if f == "inherits_cycle_b.yaml":
            continue
        case("preset-file-" + f, ["kernel", "gemm", "--chip", os.path.join(BAD, f), "--m", "64", "--n", "64", "--k", "64"],
             names=names, out=True)
GENERATED_PRESETS = {
    "empty": "",
    "binary": b"\x00\x01\x02family: gpu\n",
    "scalar-root": "just text\n",
    "tab-indent": "family: gpu\nsm:\n\tcount: 4\n",
    "list-of-maps": "family: gpu\nsm:\n  count: [ {a: 1} ]\n",
    "map-key": "family: gpu\n? [a, b]\n: 1\n",
    # Each level refers to the previous one ten times: 10^7 leaves if expanded.
    "alias-bomb": "family: gpu\nl0: &l0 {%s}\n" % ", ".join("k%d: 1" % j for j in range(10)) + "".join(
        "l%d: &l%d {%s}\n" % (i, i, ", ".join("k%d: *l%d" % (j, i - 1) for j in range(10))) for i in range(1, 8)),
    "deep-block": "family: gpu\n" + "".join("  " * i + "k%d:\n" % i for i in range(40)) + "  " * 40 + "v: 1\n",
    "unknown-key": "inherits: %s\nsm:\n  cont: 4\n" % os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml"),
    "nan-efficiency": "inherits: %s\nhbm:\n  efficiency: .nan\n" % os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml"),
    "inf-count": "inherits: %s\nsm:\n  count: .inf\n" % os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml"),
    "neg-overhead": "inherits: %s\nlaunch_overhead: -2 us\n" % os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml"),
    "inherits-empty": "inherits:\nfamily: gpu\n",
    "inherits-self": "inherits: self.yaml\nfamily: gpu\n",
    "inherits-dev-zero": "inherits: /dev/zero\nfamily: gpu\n",
}
for tag, text in GENERATED_PRESETS.items():
    fname = "self.yaml" if tag == "inherits-self" else "preset-%s.yaml" % tag
    path = write(fname, text, binary=isinstance(text, bytes))
    case("preset-gen-" + tag, ["kernel", "gemm", "--chip", path, "--m", "64", "--n", "64", "--k", "64"],
         names=["/dev/zero" if tag == "inherits-dev-zero" else fname], out=True)

# A TDP set below the inherited static power: the error is on the inherited power.static line, so it also gives the TDP.
case("preset-tdp-below-static", ["kernel", "gemm", "--chip", write("preset-low-tdp.yaml", "inherits: %s\npower:\n  tdp: 50 W\n"
                                                                  % os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml")),
                                 "--m", "64", "--n", "64", "--k", "64"], names=["power.static", "less than the TDP (power.tdp 50 W)"], out=True)

# QA qa60/session 49: the same TDP given with --set blamed the preset's power.static line; the override is named.
case("set-tdp-below-static", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--set", "power.tdp=1W"],
     names=["--set power.tdp: '1 W': expected a power above the static power (power.static: '91 W' at "])

# QA session 39, a copied chip YAML: a misspelt required key (`cuont` for sm.count) was "sm.count: missing required
# field (expected a integer)", the key at fault unnamed; an unknown family named no file nor key; a chip path that is
# not there was "unknown chip './x.yaml' ... (did you mean a100-sxm?)".
with open(os.path.join(ROOT, "chips", "gpu", "presets", "h100_sxm.yaml")) as _f:
    _H100 = _f.read()
assert "\n  count: 132 " in _H100
case("preset-misspelt-required-key", ["kernel", "gemm", "--chip", write("my-h100.yaml", _H100.replace("\n  count: 132 ", "\n  cuont: 132 ")),
                                      "--m", "64", "--n", "64", "--k", "64"],
     names=["my-h100.yaml:8: sm.cuont: unknown key (nearest valid key: sm.count)"], out=True)
case("preset-unknown-family-by-file", ["kernel", "gemm", "--chip", write("my-gpux.yaml", _H100.replace("family: gpu\n", "family: gpux\n")),
                                       "--m", "64", "--n", "64", "--k", "64"],
     names=["my-gpux.yaml:5: family: 'gpux': unknown chip family (expected gpu, tpu"], out=True)
# QA session 43: a topic or family one letter off named no candidate ("list chip", "params tpuu").
case("list-topic-misspelt", ["list", "chip"], names=["list: unknown topic 'chip' (did you mean chips?)"])
case("params-family-misspelt", ["params", "tpuu"], names=["unknown chip family 'tpuu' (did you mean tpu?)"])
# QA session 43: an integer flag past its type's range said "expected an integer" of a number that is one.
case("flag-int-out-of-range", ["run", "--chip", "h100-sxm", "--tp", "99999999999"],
     names=["--tp '99999999999': expected an integer of at most 2147483647"])
case("flag-int64-out-of-range", ["run", "--chip", "h100-sxm", "--batch", "99999999999999999999"],
     names=["--batch '99999999999999999999': expected an integer of at most 2^63 - 1"])
# QA session 49: --seed (0 or more) past 2^63 - 1 was told "between -2^63 and 2^63 - 1", as if a negative seed would do.
case("flag-seed-out-of-range", ["serve", "--seed", "99999999999999999999"],
     names=["--seed '99999999999999999999': expected an integer of at most 2^63 - 1"])
case("flag-int64-below-range", ["run", "--chip", "h100-sxm", "--batch", "-99999999999999999999"],
     names=["--batch '-99999999999999999999': expected an integer of at least -2^63"])
# QA qa60: compare --model '' was read as not given and ran the study of the default model (run and serve refuse it).
case("compare-model-empty", ["compare", "--chips", "h100-sxm", "--model", "", "--concurrency", "1", "--requests", "4"],
     names=["--model: expected a shipped model name or the path of a config.json"])
# QA session 50: a prefill attention without --seq asked for --seq-q, which defaults to --seq.
case("attention-no-seq", ["kernel", "attention", "--heads", "4"], names=["attention: --seq is required (a positive integer)"])
# QA session 49: an empty --system ran as no system (one chip, the default); an empty --chip named no flag.
case("run-system-empty", ["run", "--system", "", "--model", "llama-3.1-8b"],
     names=["--system: expected a system preset (xpusim list systems) or the path of a system .yaml, got an empty name"])
case("serve-chip-empty", ["serve", "--chip", "", "--requests", "4"],
     names=["--chip: expected a chip preset (xpusim list chips) or the path of a chip .yaml, got an empty name"])
# QA qa60: kernel's typed flags kept Boost's "the argument ('abc') for option '--after-runs' is invalid", naming no
# expected value, and a collective's --nodes past an int's range was told "expected an integer".
case("kernel-after-runs-text", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--after-runs", "abc"],
     names=["--after-runs 'abc': expected a number (see xpusim kernel --help)"], out=True)
case("kernel-flush-gb-text", ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--flush-gb", "x1"],
     names=["--flush-gb 'x1': expected a number"], out=True)
case("collective-nodes-out-of-range", ["kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB", "--nodes", "99999999999"],
     names=["--nodes '99999999999': expected an integer of at most 2147483647 (see xpusim kernel allreduce --help)"], out=True)
case("preset-file-missing", ["kernel", "gemm", "--chip", os.path.join(WORK, "no-such-chip.yaml"), "--m", "64", "--n", "64", "--k", "64"],
     names=["no-such-chip.yaml: no such chip file"], out=True)
case("preset-missing-required-an-integer", ["kernel", "gemm", "--chip", write("my-nocount.yaml", _H100.replace("\n  count: 132 ", "\n  # ")),
                                            "--m", "64", "--n", "64", "--k", "64"],
     names=["sm.count: missing required field (expected an integer)"], out=True)

# compare's --out under a file: refused before the study runs (it failed after simulating it, minutes for a real study).
case("compare-out-under-a-file", ["compare", "--chips", "h100-sxm", "--model", "llama-3.1-8b", "--concurrency", "1",
                                  "--requests", "4", "--out", os.path.join(write("plain-file", "x"), "sub")],
     names=["--out", "plain-file is not a folder"])

# --- config.json given with --model ---------------------------------------------------------------
with open(TINY_MODEL) as f:
    TINY = json.load(f)
BAD_JSON_VALUES = {"zero": 0, "neg": -1, "huge": 10 ** 30, "big": 2 ** 40, "text": "abc", "frac": 1.5, "bool": True,
                   "list": [1], "object": {"a": 1}}
for field in ["hidden_size", "intermediate_size", "max_position_embeddings", "num_attention_heads",
              "num_hidden_layers", "num_key_value_heads", "vocab_size"]:
    for tag, v in BAD_JSON_VALUES.items():
        if field == "max_position_embeddings" and tag == "big":
            continue  # a long context limit is fine
        cfg = dict(TINY, **{field: v})
        path = write("model-%s-%s.json" % (field, tag), json.dumps(cfg))
        case("model-%s-%s" % (field, tag), ["run", "--chip", TINY_GPU, "--model", path, "--input", "16"],
             names=[field], out=True)
    cfg = dict(TINY)
    del cfg[field]
    if field != "num_key_value_heads":
        path = write("model-%s-missing.json" % field, json.dumps(cfg))
        case("model-%s-missing" % field, ["run", "--chip", TINY_GPU, "--model", path, "--input", "16"], names=[field])
for field, values in {"rope_theta": [0, -1, "x", 1e400], "partial_rotary_factor": [0, 2, -1, "x"],
                      "head_dim": [0, -1, 10 ** 9, "x"], "hidden_act": ["relu", 3], "tie_word_embeddings": ["yes", 1],
                      "rope_scaling": ["linear", {"rope_type": "linear", "factor": -2}, {"rope_type": "linear", "factor": 0}],
                      "text_config": ["x", 3], "layer_types": [["full_attention"], "full", ["sliding_attention"] * 2],
                      "model_type": [3, "bert", ["llama"]], "sliding_window": [-5, "x"],
                      "attention_bias": ["no"], "mlp_bias": [2]}.items():
    for i, v in enumerate(values):
        cfg = dict(TINY, **{field: v})
        if field == "sliding_window":
            cfg["model_type"], cfg["architectures"] = "mistral", ["MistralForCausalLM"]
        if field == "model_type":
            cfg.pop("architectures")
        text = json.dumps(cfg).replace("Infinity", "1e400")
        path = write("model-%s-%d.json" % (field, i), text)
        case("model-%s-%d" % (field, i), ["run", "--chip", TINY_GPU, "--model", path, "--input", "16"],
             names=[field.split(".")[0]] if field not in ("rope_scaling",) else ["rope_scaling"], out=True)
# A Mixtral file without num_experts_per_tok: the missing field named as the file names it (it was told as
# "experts_per_token", GptOss's spelling, a key no Mixtral config has).
MOE = dict(TINY, model_type="mixtral", architectures=["MixtralForCausalLM"], num_local_experts=4)
case("model-mixtral-no-experts-per-tok", ["run", "--chip", TINY_GPU, "--input", "16", "--model",
                                          write("model-mixtral-no-topk.json", json.dumps(MOE))],
     names=["model-mixtral-no-topk.json: num_experts_per_tok: required field is missing"], out=True)
for f in ["absurd_layers.json", "model_type_number.json", "zero_vocab.json"]:
    case("model-file-" + f, ["run", "--chip", TINY_GPU, "--model", os.path.join(BAD, f), "--input", "16"],
         names={"absurd_layers.json": ["num_hidden_layers"], "model_type_number.json": ["model_type"],
                "zero_vocab.json": ["vocab_size"]}[f], out=True)
for tag, text in {"truncated": '{"model_type": "llama", "hidden_size": 6', "array": "[1, 2]", "empty": "",
                  "nul": '{"model_type": "llama"\x00}', "nan-literal": '{"model_type": "llama", "hidden_size": NaN}',
                  "deep": "[" * 100000 + "]" * 100000, "utf8": b'{"model_type": "\xff\xfe"}'}.items():
    path = write("model-gen-%s.json" % tag, text, binary=isinstance(text, bytes))
    case("model-gen-" + tag, ["run", "--chip", TINY_GPU, "--model", path, "--input", "16"],
         names=["model-gen-%s.json" % tag], out=True)

# --- special files as model, chip and CSV paths -----------------------------------------------------
FIFO = os.path.join(WORK, "fifo.json")
os.mkfifo(FIFO)
FIFO_YAML = os.path.join(WORK, "fifo.yaml")
os.mkfifo(FIFO_YAML)
FIFO_CSV = os.path.join(WORK, "fifo.csv")
os.mkfifo(FIFO_CSV)
SPARSE = os.path.join(WORK, "sparse.json")
with open(SPARSE, "wb") as f:
    f.truncate(200 << 20)  # 200 MiB of holes: refused by its size, never read
SPARSE_CSV = os.path.join(WORK, "sparse.csv")
with open(SPARSE_CSV, "wb") as f:
    f.truncate(200 << 20)
EMPTY_DIR = os.path.join(WORK, "empty-dir")
os.mkdir(EMPTY_DIR)
for tag, path, names in [("fifo", FIFO, ["fifo.json", "regular"]), ("dev-zero", "/dev/zero", ["/dev/zero", "regular"]),
                         ("sparse", SPARSE, ["sparse.json", "MiB"]), ("empty-dir", EMPTY_DIR, ["empty-dir"]),
                         ("missing", os.path.join(WORK, "nope.json"), ["nope.json"]), ("name", "llama-3.1-8c", ["llama-3.1-8c"]),
                         ("empty", "", ["model"]), ("long", "x/" * 3000 + "c.json", ["model"])]:
    for cmd in (["run", "--chip", TINY_GPU, "--input", "16"], ["serve", "--chip", TINY_GPU, "--input", "16", "--output", "4"]):
        case("%s-model-%s" % (cmd[0], tag), cmd + ["--model", path], names=names, out=True)
for tag, path, names in [("fifo", FIFO_YAML, ["fifo.yaml", "regular"]), ("sparse", SPARSE_CSV, ["sparse.csv"]),
                         ("dir", EMPTY_DIR, ["empty-dir"])]:
    case("kernel-chip-" + tag, ["kernel", "gemm", "--chip", path, "--m", "64", "--n", "64", "--k", "64"], names=names[:1])
for tag, path, names in [("fifo", FIFO_CSV, ["fifo.csv", "regular"]), ("dev-zero", "/dev/zero", ["/dev/zero", "regular"]),
                         ("sparse", SPARSE_CSV, ["sparse.csv", "MiB"]), ("dir", EMPTY_DIR, ["empty-dir"]),
                         ("missing", os.path.join(WORK, "nope.csv"), ["nope.csv"])]:
    case("validate-data-" + tag, ["validate", "--data", path], names=names)

# --- measurement CSVs ---------------------------------------------------------------------------------
HEADER = "id,hardware,level,workload,dtype,shape_or_config,metric,value,unit,source\n"
ROW = "X01,H100 SXM,kernel,GEMM,bf16,M256 N256 K4096,throughput,{v},TFLOP/s,test\n"
for tag, v in {"nan": "nan", "NaN": "NaN", "inf": "inf", "-inf": "-inf", "zero": "0", "neg": "-3.5", "abc": "abc",
               "trailing": "12abc", "empty": "", "huge": "1e400", "hex": "0x", "space": " ", "comma": '"1,5"'}.items():
    path = write("csv-value-%s.csv" % tag, HEADER + ROW.format(v=v))
    case("validate-value-" + tag, ["validate", "--data", path], names=["value"])
for tag, text, names in [("header", "id,hardware\n", ["header"]), ("fields", HEADER + "X01,H100,kernel\n", ["10 fields"]),
                         ("empty", "", ["header"]), ("binary", "\x00\x01\x02", ["not a text file"]),
                         ("dim-zero", HEADER + "X01,H100 SXM,kernel,GEMM,bf16,M0 N256 K4096,throughput,100,TFLOP/s,t\n", ["--m"]),
                         ("dim-huge", HEADER + "X01,H100 SXM,kernel,GEMM,bf16,M99999999999999999999 N256 K256,throughput,100,TFLOP/s,t\n", ["--m"]),
                         ("attn-zero", HEADER + "X01,H100 SXM,kernel,attention fwd,bf16,B0 H16 S4096 D128,throughput,100,TFLOP/s,t\n", ["--batch"])]:
    path = write("csv-%s.csv" % tag, text)
    case("validate-csv-" + tag, ["validate", "--data", path], names=names)
for f in ["nan_value.csv", "zero_value.csv", "bad_header.csv"]:
    case("validate-file-" + f, ["validate", "--data", os.path.join(BAD, f)], names=[f])
case("validate-format", ["validate", "--data", os.path.join(BAD, "nan_value.csv"), "--format", "xml"], names=["--format"])
case("validate-unknown", ["validate", "--dat", "x.csv"], names=["--dat"])

# --- run, serve, compare flags --------------------------------------------------------------------
RUN = ["run", "--chip", TINY_GPU, "--model", TINY_MODEL, "--input", "16"]
BAD_INTS = {"zero": "0", "neg": "-1", "abc": "abc", "frac": "1.5", "sci": "1e7", "huge": "9" * 30, "empty": ""}
for flag in ["batch", "input", "output", "tp"]:
    for tag, v in BAD_INTS.items():
        case("run-%s-%s" % (flag, tag), RUN + ["--phase", "request", "--%s=%s" % (flag, v)], names=["--" + flag], out=True)
for tag, argv, names in [
        ("batch-100k", ["--batch", "100000"], ["--batch"]), 
        ("tp-divisor", ["--tp", "3"], ["--tp"]), ("tp-100k", ["--tp", "100000"], ["--tp"]),
        ("phase", ["--phase", "training"], ["--phase"]), ("dtype", ["--dtype", "int3"], ["int3"]),
        ("wdtype", ["--wdtype", "q4"], ["q4"]), ("adtype", ["--adtype", ""], ["dtype"]), ("kvdtype", ["--kvdtype", "x"], ["x"]),
        ("format", ["--format", "csv"], ["--format"]), ("fusion", ["--fusion", "everything"], ["--fusion"]),
        ("fusion-list", ["--fusion", "residual_into_norm,nope"], ["nope"]), 
        ("set", ["--set", "hbm.bandwidth=nan TB/s"], ["hbm.bandwidth"]), ("set-zero-rate", ["--set", "sm.clock=0 GHz"], ["sm.clock"]),
        ("unknown", ["--bat", "4"], ["--bat"])]:
    case("run-" + tag, RUN + argv, names=names, out=True)
case("run-chip", ["run", "--chip", "gpu9000", "--model", TINY_MODEL], names=["gpu9000"], out=True)
RUN0 = ["run", "--chip", TINY_GPU, "--model", TINY_MODEL]
case("run-input-context", RUN0 + ["--input", "1000"], names=["--input"], out=True)
case("run-output-context", RUN0 + ["--phase", "request", "--input", "500", "--output", "100"], names=["--output"], out=True)
case("run-tokens", RUN0 + ["--phase", "prefill", "--batch", "65536", "--input", "512"], names=["--batch"], out=True)
case("serve-chip", ["serve", "--chip", "x.yaml", "--model", TINY_MODEL], names=["x.yaml"])
case("compare-model", ["compare", "--chips", "h100-sxm", "--model", FIFO, "--no-report"], names=["fifo.json"], out=True)
for i, r in enumerate(["hot:2", "hot:0", "hot:-1", "hot:nan", "hot:", "zipf:-1", "zipf:nan", "zipf:inf", "zipf:1e300", "nan",
                       "inf", "abc", "zipf", "uniform:1", ""]):
    case("run-routing-%d" % i, RUN + ["--routing=" + r], names=["--routing"], out=True)
SERVE = ["serve", "--chip", TINY_GPU, "--model", TINY_MODEL]
for flag in ["input", "output", "max-batch"]:
    for tag, v in BAD_INTS.items():
        case("serve-%s-%s" % (flag, tag), SERVE + ["--%s=%s" % (flag, v)], names=["--" + flag])
for flag in ["ttft-slo", "tpot-slo"]:
    for tag, v in {"neg": "-1ms", "zero": "0 ms", "nan": "nan", "abc": "abc", "nounit": "5", "huge": "1e30 s",
                   "inf": "inf s"}.items():
        case("serve-%s-%s" % (flag, tag), SERVE + ["--%s=%s" % (flag, v)], names=["--" + flag])
for tag, argv, names in [("dtype", ["--dtype", "fp7"], ["fp7"]), ("format", ["--format", "yaml"], ["--format"]),
                         ("set", ["--set", "hbm.capacity=-80 GiB"], ["hbm.capacity"])]:
    case("serve-" + tag, SERVE + argv, names=names)
# Serving load and lengths (issue: serving like a real engine): zero/negative loads, lengths beyond the
# model's context (tiny-llama: 512), malformed length CSVs, prefix caching and speculative decoding.
BAD_LOADS = {"zero": "0", "neg": "-3", "abc": "abc", "empty": "", "nan": "nan", "inf": "inf"}
for flag in ["concurrency", "rate", "requests"]:
    for tag, v in BAD_LOADS.items():
        case("serve-%s-%s" % (flag, tag), SERVE + ["--%s=%s" % (flag, v)], names=["--" + flag])
case("serve-concurrency-list", SERVE + ["--concurrency", "4,0,16"], names=["--concurrency"])
case("serve-concurrency-and-rate", SERVE + ["--concurrency", "4", "--rate", "2"], names=["--rate"])
for tag, argv, names in [
        ("context-fixed", ["--input", "500", "--output", "100"], ["context"]),
        ("context-input", ["--input", "600", "--output", "1"], ["context"]),
        ("context-uniform", ["--input", "uniform:10:900"], ["context"]),
        ("context-exp", ["--input", "exp:100000"], ["context"]),
        ("dist-form", ["--input", "uniform:9"], ["--input"]), ("dist-kind", ["--output", "poisson:4"], ["--output"]),
        ("dist-neg", ["--input", "normal:-5:2"], ["--input"])]:
    case("serve-" + tag, SERVE + argv, names=names)
for tag, text in [("three-columns", "input,output\n40,8,1\n"), ("word", "input,output\n40,eight\n"),
                  ("negative", "40,8\n-4,8\n"), ("zero", "40,0\n"), ("empty", ""), ("header-only", "input,output\n"),
                  ("float", "40.5,8\n"), ("one-column", "40\n"), ("beyond-context", "40,8\n600,20\n"),
                  ("binary", "\x00\x01\x02,\x03\n")]:
    path = write("lengths-%s.csv" % tag, text)
    case("serve-lengths-csv-" + tag, SERVE + ["--lengths-csv", path], names=["lengths-%s.csv" % tag])
case("serve-lengths-csv-missing", SERVE + ["--lengths-csv", os.path.join(WORK, "nope.csv")], names=["nope.csv"])
case("serve-lengths-csv-folder", SERVE + ["--lengths-csv", WORK], names=["--lengths-csv"])
for tag, argv, names in [
        ("prefix-hit-one", ["--prefix-hit", "1"], ["--prefix-hit"]), ("prefix-hit-neg", ["--prefix-hit", "-0.1"], ["--prefix-hit"]),
        ("prefix-hit-nan", ["--prefix-hit", "nan"], ["--prefix-hit"]), ("prefix-hit-abc", ["--prefix-hit", "abc"], ["--prefix-hit"]),
        ("spec-tokens-zero", ["--spec-tokens", "0"], ["--spec-tokens"]), ("spec-tokens-neg", ["--spec-tokens", "-2"], ["--spec-tokens"]),
        ("spec-tokens-huge", ["--spec-tokens", "100"], ["--spec-tokens"]),
        ("spec-accept-alone", ["--spec-accept", "0.5"], ["--spec-tokens"]),
        # Without a rate the drafts were taken at acceptance 0: every step verified K drafts and kept none.
        ("spec-tokens-alone", ["--spec-tokens", "3"], ["--spec-tokens 3", "--spec-accept A"]),
        ("spec-accept-big", ["--spec-tokens", "2", "--spec-accept", "1.5"], ["--spec-accept"]),
        ("spec-accept-nan", ["--spec-tokens", "2", "--spec-accept", "nan"], ["--spec-accept"]),
        ("spec-method", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-method", "medusa"], ["--spec-method"]),
        ("spec-draft-missing", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-method", "draft"], ["--spec-draft"]),
        ("spec-draft-fraction", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-draft", "2"], ["--spec-draft"]),
        ("spec-draft-zero", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-draft", "0"], ["--spec-draft"]),
        ("spec-draft-model", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-method", "draft", "--spec-draft", "no-such-model"], ["no-such-model"]),
        ("spec-draft-vocab", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-method", "draft", "--spec-draft",
                              os.path.join(DATA, "models", "small-llama-100m.json")], ["--spec-draft"]),
        # serve62: vLLM's draft_tensor_parallel_size takes 1 or the target's tp; SGLang's decode radix cache needs pools.
        ("spec-draft-tp-zero", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-draft-tp", "0"], ["--spec-draft-tp 0"]),
        ("spec-draft-tp-three", ["--spec-tokens", "2", "--spec-accept", "0.5", "--spec-draft-tp", "3"], ["--spec-draft-tp 3", "--tp"]),
        ("spec-draft-tp-alone", ["--spec-draft-tp", "1"], ["--spec-draft-tp", "--spec-tokens"]),
        ("decode-radix-cache-alone", ["--decode-radix-cache"], ["--decode-radix-cache", "--prefill-devices"])]:
    case("serve-" + tag, SERVE + ["--input", "64", "--output", "16"] + argv, names=names)
# Session 37's options (QA of issue 13/14/16): sglang-jax's --page-size, the data-parallel attention controller,
# AWS Neuron's buckets and DeepEP's exchange alone. A page size on another scheduler named no value ("page size: ..."),
# a negative bucket count was "fewer positions than --input + --output", and --tokens abc "the argument ('abc') for option
# '--tokens' is invalid", saying not what would work.
for tag, v in BAD_INTS.items():
    case("serve-page-size-" + tag, SERVE + ["--scheduler", "sglang-jax", "--page-size=" + v], names=["--page-size"])
# A page larger than the memory left was "no room for a KV cache ... (try a smaller --token-budget or --max-seqs)";
# a --max-seqs above sglang-jax's attention-backend bound was quoted as that bound ("--max-seqs 1" for 100000).
# Session 39: the logits are sized for the sequences sglang-jax runs at the model's context (--max-seqs 100000 on
# tpu-v6e was refused for 51 GB of logits where the server runs one request: it now runs, test_one_path.py); what
# is left over memory names --max-seqs as given, the rows it sized and no advice a smaller --max-seqs cannot keep.
case("serve-page-size-over-memory", SERVE + ["--scheduler", "sglang-jax", "--input", "64", "--output", "16", "--page-size", "1000000000000"],
     names=["--page-size 1000000000000", "one page", "expected a smaller --page-size"])
# Branch qa39b: with --token-budget 10000000 beside it the same server was refused for 10M tokens of activations; sglang-jax
# runs no iteration beyond its largest token padding (16384), so it now runs (test_cli.py test_sglang_jax_token_budget_*).
case("serve-page-size-other-scheduler", SERVE + ["--page-size", "16"], names=["--page-size 16", "--scheduler sglang-jax"])
case("serve-cache-length-other-scheduler", SERVE + ["--cache-length", "512"], names=["--cache-length 512", "--scheduler jetstream"])
case("serve-dp-dispatch-unknown", SERVE + ["--input", "64", "--output", "16", "--dp-dispatch", "foo"], names=["--dp-dispatch", "foo", "round_robin"])
case("serve-dp-dispatch-no-dp-attention", SERVE + ["--input", "64", "--output", "16", "--dp-dispatch", "round_robin"], names=["--dp-dispatch round_robin", "--dp"])
for tag, v, names in [("neg", "-1", ["--neuron-buckets -1: expected a number of positions", "or 0"]), ("abc", "abc", ["--neuron-buckets 'abc'", "integer"]),
                      ("frac", "1.5", ["--neuron-buckets '1.5'", "integer"]), ("few", "8", ["--neuron-buckets 8", "--input + --output (17)"])]:
    case("run-neuron-buckets-" + tag, ["run", "--chip", "trn2", "--model", TINY_MODEL, "--input", "16", "--neuron-buckets", v], names=names, out=True)
case("run-neuron-buckets-gpu", ["run", "--chip", TINY_GPU, "--model", TINY_MODEL, "--input", "16", "--neuron-buckets", "4096"],
     names=["--neuron-buckets", "trainium"], out=True)
A2A = ["kernel", "alltoall", "--hidden", "7168", "--experts", "256", "--topk", "8"]
for tag, v in BAD_INTS.items():
    case("alltoall-tokens-" + tag, A2A + ["--tokens=" + v], out=True,
         names=["--tokens '%s': expected an integer" % v] if tag in ("abc", "frac", "sci", "huge") else ["--tokens"])
for flag, v in [("hidden", "abc"), ("topk", "1.5"), ("experts", "-8"), ("expert-groups", "3"), ("groups-per-token", "x")]:
    case("alltoall-%s-%s" % (flag, v), A2A + ["--tokens", "64", "--" + flag, v], names=["--" + flag], out=True)
case("alltoall-stage", A2A + ["--tokens", "64", "--stage", "forward"], names=["--stage", "forward"], out=True)
case("alltoall-bytes-and-tokens", A2A + ["--tokens", "64", "--bytes", "1MiB"], names=["--bytes", "--tokens"], out=True)
# fp8 on the A100 (no fp8 tensor cores) and an fp4 block other than NVFP4's 16 or MXFP4's 32.
for cmd in (["run", "--model", TINY_MODEL, "--input", "16"], ["serve", "--model", TINY_MODEL, "--input", "16", "--output", "4"], ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64"]):
    case("a100-fp8-" + cmd[0], cmd + ["--chip", "a100-sxm", "--dtype", "fp8"], names=["a100-sxm", "fp8", "bf16"], out=True)
case("b200-fp4-scale-block", ["kernel", "gemm", "--chip", "b200", "--m", "64", "--n", "64", "--k", "64", "--dtype", "fp4",
                              "--fp4-scale-block", "8"], names=["--fp4-scale-block 8", "16", "32"], out=True)
COMPARE = ["compare", "--model", TINY_MODEL, "--input", "64", "--output", "16", "--max-batch", "4", "--no-report"]
for tag, v in {"zero": "0", "neg": "-20", "abc": "fast", "empty": "", "list": "20,,50", "nan": "nan"}.items():
    case("compare-tiers-" + tag, COMPARE + ["--chips", "h100-sxm", "--tiers", v], names=["--tiers"], out=True)
# A tier no chip can reach: at batch 1 every token streams Llama-3.1-8B's 8 GB of fp8 weights.
case("compare-tier-unreachable", ["compare", "--chips", "h100-sxm,tpu-v6e", "--model", "llama-3.1-8b", "--tiers", "50,5000",
                                  "--no-report"], names=["--tiers 5000", "h100-sxm"], out=True)
# Named studies: an unknown name; a tier no layout of the default study can reach (refused before any simulation).
case("compare-study-unknown", ["compare", "--study", "frontiers", "--no-report"], names=["--study 'frontiers'", "chat-8b"], out=True)
# A study file's scenario and dtype, named by file, line and key (they were reported as "--scenario 'chatt'", a flag
# never given, and as a bare "unknown dtype 'fp9'").
STUDY = "description: x\nunits: [h100-sxm]\nmodels: [%s]\n" % TINY_MODEL
case("compare-study-scenario", ["compare", "--study", write("study-scenario.yaml", STUDY + "scenario: chatt\n"), "--no-report"],
     names=["study-scenario.yaml:4: scenario: 'chatt'", "chat or long"], out=True)
case("compare-study-dtype", ["compare", "--study", write("study-dtype.yaml", STUDY + "dtype: fp9\n"), "--no-report"],
     names=["study-dtype.yaml:4: dtype: 'fp9'", "bf16"], out=True)
case("compare-tier-unreachable-study", ["compare", "--tiers", "20,9000", "--no-report"], names=["--tiers 9000", "llama-3.1-70b"], out=True)
for tag, v in BAD_LOADS.items():
    case("compare-concurrency-" + tag, COMPARE + ["--chips", "h100-sxm", "--concurrency=" + v], names=["--concurrency"], out=True)
# An unknown controller policy ran every unit, each refusing it, and wrote a results folder of "did not run" rows.
case("compare-dp-dispatch-unknown", COMPARE + ["--chips", "h100-sxm", "--dp-dispatch", "foo"], names=["--dp-dispatch", "foo", "round_robin"],
     out=True)
case("compare-rate-zero", COMPARE + ["--chips", "h100-sxm", "--rate", "0"], names=["--rate"], out=True)
case("compare-prefix-hit", COMPARE + ["--chips", "h100-sxm", "--prefix-hit", "1.2"], names=["--prefix-hit"], out=True)
case("compare-context", ["compare", "--chips", "h100-sxm,tpu-v6e", "--model", TINY_MODEL, "--input", "500", "--output", "100",
                         "--no-report"], names=["context"], out=True)
case("compare-lengths-csv", ["compare", "--chips", "h100-sxm", "--model", TINY_MODEL, "--no-report", "--lengths-csv",
                             write("compare-lengths.csv", "40,8\n40,x\n")], names=["compare-lengths.csv:2"], out=True)
for tag, argv, names in [
        ("chips-empty", ["--chips", ""], ["--chips"]), ("chips-commas", ["--chips", ",,"], ["--chips"]),
        ("chips-unknown", ["--chips", "h100-sxm,h900"], ["h900"]),
        ("chips-twice", ["--chips", "h100-sxm,tpu-v6e,h100-sxm"], ["unit h100-sxm given twice"]),
        ("set-twice", ["--chips", "h100-sxm", "--set", "cost.chip_hour=2", "--set", "h100-sxm:cost.chip_hour=3",
                       "--set", "h100-sxm:cost.chip_hour=4"], ["cost.chip_hour: given twice (3, then 4)"]), ("scenario", ["--scenario", "batch"], ["--scenario"]),
        ("name-dots", ["--name", ".."], ["--name"]), ("name-slash", ["--name", "a/b"], ["--name"]),
        ("set-nan", ["--chips", "h100-sxm", "--set", "h100-sxm:cost.chip_hour=nan"], ["cost.chip_hour"]),
        ("set-neg-price", ["--chips", "h100-sxm", "--set", "cost.unit_price=-5"], ["cost.unit_price"]),
        ("set-family", ["--chips", "h100-sxm", "--set", "family=tpu"], ["family"]),
        # A GPU field given to every unit: the TPU's error named neither the unit nor how to aim the --set.
        ("set-other-family", ["--chips", "h100-sxm,tpu-v6e", "--set", "sm.clock=2GHz"],
         ["--chips tpu-v6e: --set sm.clock", "nearest valid key: clock", "UNIT:key=value"]),
        ("set-zero-bw", ["--chips", "h100-sxm", "--set", "hbm.bandwidth=0 TB/s"], ["hbm.bandwidth"]),
        ("input", ["--chips", "h100-sxm", "--input", "-4"], ["--input"]),
        ("tpot", ["--chips", "h100-sxm", "--tpot-slo", "-1 ms"], ["--tpot-slo"]),
        ("max-batch", ["--chips", "h100-sxm", "--max-batch", "0"], ["--max-batch"])]:
    case("compare-" + tag, COMPARE + argv, names=names, out=True)

# --- system presets and collectives (issue 12's list) --------------------------------------------------
SYSTEMS = os.path.join(ROOT, "chips", "systems", "presets")
SYS_DATA = os.path.join(DATA, "systems")


def system_case(cid, text_or_file, names, argv=(), op="allreduce", size="1MiB"):
    """A collective on a bad system: a shipped test file, or YAML written here (over a real preset)."""
    if text_or_file.endswith(".yaml") and "\n" not in text_or_file:
        path = os.path.join(SYS_DATA, text_or_file)
    else:
        path = write("system-%s.yaml" % cid, text_or_file)
    names = [os.path.basename(path)] + list(names)
    case("system-" + cid, ["kernel", op, "--system", path, "--bytes", size] + list(argv), names=names, out=True)


def over(preset, body):
    return "inherits: %s\n%s" % (os.path.join(SYSTEMS, preset), body)


for cid, text, names in [
        # The topology: disconnected, links to chips that do not exist, impossible shapes.
        ("disconnected", "disconnected.yaml", ["scale_up.switch.type", "'none'", "disconnected"]),
        ("torus-dims-product", over("trn1_32xl.yaml", "scale_up:\n  dims: 4, 3\n"), ["scale_up.dims", "'4, 3'"]),
        ("torus-dims-huge", over("trn1_32xl.yaml", "scale_up:\n  dims: 100000, 100000, 100000\n"), ["scale_up.dims"]),
        ("torus-dims-negative", over("trn1_32xl.yaml", "scale_up:\n  dims: -4, -4\n"), ["scale_up.dims", "'-4, -4'"]),
        ("torus-dims-text", over("trn1_32xl.yaml", "scale_up:\n  dims: four, four\n"), ["scale_up.dims"]),
        ("torus-dims-empty", over("trn1_32xl.yaml", "scale_up:\n  dims: ''\n"), ["scale_up.dims"]),
        ("torus-wrap-count", over("trn1_32xl.yaml", "scale_up:\n  wraparound: true\n"), ["scale_up.wraparound", "'true'"]),
        ("torus-wrap-word", over("trn1_32xl.yaml", "scale_up:\n  wraparound: yes, maybe\n"), ["scale_up.wraparound"]),
        ("torus-dim-bandwidth", over("trn1_32xl.yaml", "scale_up:\n  dim_bandwidth: 10 GB/s\n"),
         ["scale_up.dim_bandwidth"]),
        ("group-not-dividing", over("maia200_quads.yaml", "scale_up:\n  group: 3\n"), ["scale_up.group", "'3'"]),
        ("group-too-large", over("maia200_quads.yaml", "scale_up:\n  group: 100\n"), ["scale_up.group", "'100'"]),
        ("groups-no-uplink", over("maia200_quads.yaml", "scale_up:\n  uplink:\n    bandwidth: 0 GB/s\n"),
         ["scale_up.uplink.bandwidth"]),
        ("switch-without-switch", over("hgx_h100x8.yaml", "scale_up:\n  switch:\n    type: none\n"),
         ["scale_up.switch.type", "'none'"]),
        ("topology-unknown", over("hgx_h100x8.yaml", "scale_up:\n  topology: ring\n"), ["scale_up.topology", "'ring'"]),
        ("routing-unknown", over("hgx_h100x8.yaml", "scale_up:\n  routing: random\n"), ["scale_up.routing", "'random'"]),
        ("routing-dor-switch", over("hgx_h100x8.yaml", "scale_up:\n  routing: dor\n"), ["scale_up.routing", "'dor'"]),
        ("link-type", over("hgx_h100x8.yaml", "scale_up:\n  link:\n    type: optical\n"), ["scale_up.link.type", "'optical'"]),
        ("switch-type", over("hgx_h100x8.yaml", "scale_up:\n  switch:\n    type: magic\n"), ["scale_up.switch.type", "'magic'"]),
        ("nvls-no-reduction", over("hgx_h100x8.yaml", "scale_up:\n  switch:\n    reduce_bandwidth: 0 GB/s\n"),
         ["scale_up.switch.reduce_bandwidth"]),
        # Chips: the preset named, how many, how many nodes.
        ("chip-missing", "missing_chip.yaml", ["chip", "'h900-sxm'"]),
        ("chip-empty", over("hgx_h100x8.yaml", "chip: ''\n"), ["chip"]),
        ("chip-absent", "description: x\nscale_up: {topology: switch, chips: 2, link: {bandwidth: 1 GB/s}}\n", ["chip"]),
        ("chips-zero", over("hgx_h100x8.yaml", "scale_up:\n  chips: 0\n"), ["scale_up.chips", "'0'"]),
        ("chips-huge", over("hgx_h100x8.yaml", "scale_up:\n  chips: 100000000\n"), ["scale_up.chips"]),
        # A collective on one chip names the chip count (it had blamed library.algorithms: qa57).
        ("chips-one", over("hgx_h100x8.yaml", "scale_up:\n  chips: 1\n"), ["scale_up.chips 1", "at least 2 chips"]),
        ("nodes-zero", over("hgx_h100x8.yaml", "nodes: 0\n"), ["nodes", "'0'"]),
        ("nodes-huge", over("hgx_h100x8.yaml", "nodes: 100000\n"), ["nodes", "'100000'", "1024"]),
        ("nodes-no-network", over("hgx_h100x8.yaml", "nodes: 2\nscale_out:\n  network: none\n"), ["nodes", "'2'"]),
        ("nic-zero", over("hgx_h100x8.yaml", "nodes: 2\nscale_out:\n  nic:\n    bandwidth: 0 GB/s\n"),
         ["scale_out.nic.bandwidth"]),
        ("network-unknown", over("hgx_h100x8.yaml", "scale_out:\n  network: fat_tree\n"), ["scale_out.network"]),
        # Link figures.
        ("link-bandwidth-zero", over("hgx_h100x8.yaml", "scale_up:\n  link:\n    bandwidth: 0 GB/s\n"),
         ["scale_up.link.bandwidth", "'0 GB/s'"]),
        ("link-efficiency-nan", over("hgx_h100x8.yaml", "scale_up:\n  link:\n    efficiency: .nan\n"),
         ["scale_up.link.efficiency"]),
        ("link-efficiency-2", over("hgx_h100x8.yaml", "scale_up:\n  link:\n    efficiency: 2\n"),
         ["scale_up.link.efficiency", "'2'"]),
        ("link-latency-negative", over("hgx_h100x8.yaml", "scale_up:\n  link:\n    latency: -1 us\n"),
         ["scale_up.link.latency"]),
        # The library: algorithms, protocols, chunking.
        ("algorithms-empty", over("hgx_h100x8.yaml", "library:\n  algorithms: ''\n"), ["library.algorithms"]),
        ("algorithms-unknown", over("hgx_h100x8.yaml", "library:\n  algorithms: ring, magic\n"),
         ["library.algorithms", "'magic'"]),
        ("algorithms-none-runs", over("tpu_v6e_8.yaml", "library:\n  algorithms: nvls\n"), ["library.algorithms", "nvls"]),
        ("protocols-unknown", over("hgx_h100x8.yaml", "library:\n  protocols: ll, fast\n"), ["library.protocols"]),
        ("chunk-zero", over("hgx_h100x8.yaml", "library:\n  chunk_bytes: 0 B\n"), ["library.chunk_bytes"]),
        ("channels-zero", over("hgx_h100x8.yaml", "library:\n  channels: 0\n"), ["library.channels"]),
        ("slices-zero", over("hgx_h100x8.yaml", "library:\n  max_slices: 0\n"), ["library.max_slices"]),
        ("launch-negative", over("hgx_h100x8.yaml", "library:\n  launch_latency: -1 us\n"), ["library.launch_latency"]),
        # The file itself.
        ("unknown-key", over("hgx_h100x8.yaml", "scale_up:\n  chip: 8\n"), ["scale_up.chip", "scale_up.chips"]),
        ("duplicate-key", over("hgx_h100x8.yaml", "nodes: 1\nnodes: 2\n"), ["nodes", "duplicate"]),
        ("inherits-missing", "inherits: nope.yaml\n", ["inherits", "nope.yaml"]),
        ("empty", "", ["chip"])]:
    system_case(cid, text, names)
HGX = os.path.join(SYSTEMS, "hgx_h100x8.yaml")
TPU8 = os.path.join(SYSTEMS, "tpu_v6e_8.yaml")
for cid, argv, names in [
        # Message sizes: 0, not whole elements, not divisible by the chips where the algorithm needs it.
        ("bytes-zero", ["kernel", "allreduce", "--system", HGX, "--bytes", "0"], ["--bytes", "0"]),
        ("bytes-odd", ["kernel", "allreduce", "--system", HGX, "--bytes", "7"], ["--bytes", "7", "multiple of 4"]),
        ("bytes-reducescatter", ["kernel", "reducescatter", "--system", HGX, "--bytes", "36"], ["--bytes", "36", "32"]),
        ("bytes-allgather", ["kernel", "allgather", "--system", HGX, "--bytes", "13"], ["--bytes", "13"]),
        ("bytes-negative", ["kernel", "allreduce", "--system", HGX, "--bytes", "-4"], ["--bytes", "-4"]),
        ("bytes-text", ["kernel", "allreduce", "--system", HGX, "--bytes", "lots"], ["--bytes", "lots"]),
        ("bytes-fraction", ["kernel", "allreduce", "--system", HGX, "--bytes", "1.5"], ["--bytes", "1.5"]),
        ("bytes-unit", ["kernel", "allreduce", "--system", HGX, "--bytes", "4 furlongs"], ["--bytes"]),
        ("bytes-empty", ["kernel", "allreduce", "--system", HGX, "--bytes", ""], ["--bytes"]),
        # Algorithms and protocols the topology cannot run.
        ("algo-torus-on-switch", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--algo", "torus"],
         ["--algo", "torus", "hgx_h100x8.yaml"]),
        ("algo-nvls-on-torus", ["kernel", "allreduce", "--system", TPU8, "--bytes", "1MiB", "--algo", "nvls"],
         ["--algo", "nvls", "tpu_v6e_8.yaml"]),
        ("algo-hierarchical-one-node", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--algo", "hierarchical"],
         ["--algo", "hierarchical"]),
        ("algo-direct-allreduce", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--algo", "direct"],
         ["--algo", "direct"]),
        ("algo-unknown", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--algo", "magic"], ["--algo", "magic"]),
        ("proto-nvls-ll", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--algo", "nvls", "--proto", "ll"],
         ["--proto", "ll"]),
        ("proto-unknown", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--proto", "fast"], ["--proto", "fast"]),
        # Device counts that do not match the system, node counts out of range.
        ("devices-mismatch", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--devices", "4"],
         ["hgx_h100x8.yaml", "scale_up.chips", "--devices 4"]),
        ("devices-mismatch-nodes", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--nodes", "2", "--devices", "8"],
         ["--devices 8", "16"]),
        ("devices-zero", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--devices", "0"], ["--devices"]),
        ("nodes-negative", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--nodes", "-1"], ["--nodes"]),
        ("nodes-flag-huge", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--nodes", "1000"],
         ["nodes", "'1000'", "1024"]),
        ("nodes-text", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--nodes", "two"], ["--nodes"]),
        # Names and overlays.
        ("system-unknown", ["kernel", "allreduce", "--system", "hgx-h100", "--bytes", "1MiB"], ["hgx-h100"]),
        ("collective-unknown", ["kernel", "allreduse", "--system", HGX, "--bytes", "1MiB"], ["allreduse"]),
        ("set-bandwidth-nan", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--set", "scale_up.link.bandwidth=nan GB/s"],
         ["scale_up.link.bandwidth"]),
        ("set-unknown-key", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--set", "scale_up.lnk.bandwidth=1 GB/s"],
         ["scale_up.lnk.bandwidth"]),
        ("set-chip", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--set", "chip=h900"], ["chip", "h900"]),
        ("set-nodes", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--set", "nodes=0"], ["nodes"]),
        ("format", ["kernel", "allreduce", "--system", HGX, "--bytes", "1MiB", "--format", "xml"], ["--format"])]:
    case("collective-" + cid, argv, names=names, out=True)

# --- list, params, top level ------------------------------------------------------------------------
for tag, argv, names in [
        ("list-topic", ["list", "gpus"], ["gpus"]), ("params-family", ["params", "fpga"], ["fpga"]),
        ("command", ["simulate"], ["simulate"]), ("max-tx-abc", ["--max-transactions", "abc", "list"], ["--max-transactions"]),
        ("max-tx-zero", ["--max-transactions=0", "list"], ["--max-transactions"]),
        ("max-tx-nan", ["--max-transactions", "nan", "list"], ["--max-transactions"]),
        ("max-tx-missing", ["list", "--max-transactions"], ["--max-transactions"]),
        ("max-mem-small", ["--max-memory", "1 KB", "list"], ["--max-memory"]),
        ("max-mem-unit", ["--max-memory", "8 furlongs", "list"], ["--max-memory"]),
        ("max-mem-neg", ["--max-memory=-8GiB", "list"], ["--max-memory"])]:
    case("top-" + tag, argv, names=names)

# --- QA (qa56): found by trying each command as a new user --------------------------------------------
# A folder, a device or a path that is not there, where a file is expected, is named as such (a folder was "no such
# file", "unknown system" or a CSV's "missing column"); a malformed number in the collectives CSV was "internal error:
# stoi" (exit 3); two validations at once were "unrecognised option '--models'"; op shapes name their flags.
FOLDER = os.path.join(WORK, "a-folder")
os.makedirs(FOLDER, exist_ok=True)
with open(os.path.join(ROOT, "workloads", "validation", "collectives.csv")) as f:
    _head, _row = f.readline(), f.readline()
_fields = _head.strip().split(",")
_bad_row = _row.strip().split(",")
_bad_row[_fields.index("n_chips")] = "8x"
for tag, argv, names in [
        ("collectives-folder", ["validate", "--collectives", "--data", FOLDER], [FOLDER, "is a folder"]),
        ("collectives-device", ["validate", "--collectives", "--data", "/dev/null"], ["/dev/null", "not a regular file"]),
        ("collectives-n-chips", ["validate", "--collectives", "--data", write("coll_bad_n.csv", _head + ",".join(_bad_row) + "\n")],
         ["coll_bad_n.csv:2", "n_chips", "'8x'", "positive integer"]),
        ("validate-two-sets", ["validate", "--collectives", "--models"], ["--collectives", "--models", "give one"]),
        ("system-path-missing", ["kernel", "allreduce", "--system", os.path.join(WORK, "nothere.yaml"), "--bytes", "1MiB"],
         ["nothere.yaml", "file not found"]),
        ("system-path-folder", ["kernel", "allreduce", "--system", FOLDER + "/", "--bytes", "1MiB"], [FOLDER, "is a folder"]),
        ("model-folder", ["run", "--chip", "h100-sxm", "--model", FOLDER], [FOLDER, "a folder without a config.json"]),
        ("scenario-file-folder", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--scenario-file", FOLDER],
         ["--scenario-file", FOLDER, "a folder"]),
        ("sweep-spec-folder", ["sweep", FOLDER], [FOLDER, "a folder"]),
        ("compare-study-folder", ["compare", "--study", FOLDER, "--no-report"], ["--study", FOLDER, "is a folder"]),
        ("attention-seq-q", ["kernel", "attention", "--chip", "h100-sxm", "--heads", "8", "--seq", "128", "--seq-q", "256"],
         ["--seq-q 256", "--seq 128"]),
        ("topk-over-experts", ["kernel", "topk", "--chip", "h100-sxm", "--tokens", "8", "--experts", "4", "--topk", "8"],
         ["--topk 8", "--experts 4"]),
        ("operand-over-1tib", ["kernel", "gemm", "--chip", "h100-sxm", "--m", "16777216", "--n", "64", "--k", "65536"],
         ["operand A", "--m 16777216"]),
        ("gemm-smem", ["kernel", "gemm", "--chip", "h100-sxm", "--m", "64", "--n", "64", "--k", "64", "--set", "sm.smem_per_block=1KiB"],
         ["sm.smem_per_block", "'1 KiB'", "no GEMM tile fits"]),
        # A binary file is named as one (its bytes were quoted in the CSV's header message); a control byte a message
        # quotes is escaped, so that the error stays one printable line.
        ("lengths-csv-binary", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--lengths-csv",
                                write("nul.csv", b"input,output\n\x00\x01,2\n", binary=True)], ["nul.csv", "not a text file"]),
        ("lengths-csv-control", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--lengths-csv",
                                 write("ctl.csv", "in\x1bput\x07,output\n1,2\n")], ["ctl.csv:1", "in\\x1bput\\x07"])]:
    case("qa56-" + tag, argv, names=names, out=argv[0] in ("run", "kernel", "compare"))

# --- QA (qa57): found by trying each command as a new user --------------------------------------------
# A digit string beyond 64 bits was "not an integer"; hexadecimal, a stray quote or a header alone in a measurement CSV
# were read (0x10 as 16, a quote as another field, a header as "0 points, mean absolute error 0%"); a collective on one
# chip blamed the preset's library.algorithms and a --set chip count over the limit the preset's nodes; a study file's
# unit given twice was told as a --chips the user never gave; a folder where stats.json goes was "cannot write (Success)".
STATS_FOLDER = os.path.join(WORK, "stats-folder-out")
os.makedirs(os.path.join(STATS_FOLDER, "stats.json"), exist_ok=True)
_coll_quote = list(_bad_row)
_coll_quote[_fields.index("n_chips")] = '8"x'
for tag, argv, names in [
        ("dim-beyond-int64", ["kernel", "gemm", "--chip", "h100-sxm", "--m", "99999999999999999999", "--n", "64", "--k", "64"],
         ["--m", "expected a positive integer of at most 16777216"]),
        ("validate-header-only", ["validate", "--data", write("qa57_header_only.csv", HEADER)], ["qa57_header_only.csv", "no measurement rows"]),
        ("validate-hex-value", ["validate", "--data", write("qa57_hex.csv", HEADER + ROW.format(v="0x10"))],
         ["qa57_hex.csv:2", "value", "'0x10'", "positive number"]),
        ("validate-stray-quote", ["validate", "--data", write("qa57_quote.csv", HEADER + ROW.format(v='1"2'))],
         ["qa57_quote.csv:2", "quote"]),
        ("collectives-stray-quote", ["validate", "--collectives", "--data", write("qa57_coll_quote.csv", _head + ",".join(_coll_quote) + "\n")],
         ["qa57_coll_quote.csv:2", "quote"]),
        ("collectives-hex", ["validate", "--collectives", "--data",
                             write("qa57_coll_hex.csv", _head + ",".join(_bad_row).replace(",8x,", ",0x8,") + "\n")],
         ["qa57_coll_hex.csv:2", "n_chips", "'0x8'"]),
        ("collective-one-chip", ["kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB", "--set", "scale_up.chips=1"],
         ["at least 2 chips", "scale_up.chips 1"]),
        ("system-chips-over-limit", ["kernel", "allreduce", "--system", "hgx-h100x8", "--bytes", "1MiB", "--set", "scale_up.chips=1000000"],
         ["--set scale_up.chips", "'1000000'", "at most 1024 chips"]),
        ("study-unit-twice", ["compare", "--study", write("qa57_twice.yaml", "description: x\nunits: [h100-sxm, h100-sxm]\nmodels: [llama-3.1-8b]\n"),
                              "--no-report"], ["qa57_twice.yaml", "units", "h100-sxm is given twice"]),
        ("study-model-twice", ["compare", "--study", write("qa57_models.yaml", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b, llama-3.1-8b]\n"),
                               "--no-report"], ["qa57_models.yaml", "models", "given twice"]),
        ("sweep-dask-timeout", ["sweep", os.path.join(ROOT, "scripts", "studies", "nvlink_allreduce.yaml"), "--dask", "tcp://127.0.0.1:1",
                                "--dask-timeout", "-5"], ["--dask-timeout -5", "positive number of seconds"]),
        ("sweep-dask-timeout-alone", ["sweep", os.path.join(ROOT, "scripts", "studies", "nvlink_allreduce.yaml"), "--dask-timeout", "5"],
         ["--dask-timeout", "without --dask"]),
        ("scenario-file-empty", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--scenario-file", write("qa57_empty.yaml", "# nothing yet\n")],
         ["--scenario-file", "qa57_empty.yaml", "no keys"]),
        # A count no run can hold was drawn request by request until "out of memory", a minute later.
        ("requests-huge", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--requests", "99999999999"],
         ["--requests 99999999999", "at most 10000000"]),
        ("concurrency-huge", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--concurrency", "99999999999"],
         ["--concurrency 99999999999", "at most 2500000"]),
        ("concurrency-fraction", ["serve", "--chip", "h100-sxm", "--model", TINY_MODEL, "--concurrency", "1.5"],
         ["--concurrency '1.5'", "not a positive whole number of users"]),
        ("tiers-over-bound", ["compare", "--chips", "h100-sxm", "--model", TINY_MODEL, "--tiers", "2000000", "--no-report"],
         ["--tiers '2000000'", "expected at most 1e+06 tok/s per user"]),
        ("out-stats-folder", ["kernel", "gemm", "--chip", "h100-sxm", "--m", "64", "--n", "64", "--k", "64", "--out", STATS_FOLDER],
         ["stats.json", "a folder of that name is in the way"])]:
    case("qa57-" + tag, argv, names=names, out=argv[0] == "compare")


@pytest.fixture(scope="session")
def results():
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    env.pop("XPUSIM_MAX_TRANSACTIONS", None)
    env.pop("XPUSIM_MAX_MEMORY", None)

    def run(cid):
        c = CASES[cid]
        try:
            p = subprocess.run([XPUSIM] + c["argv"], capture_output=True, text=True, env=env, timeout=60,
                               stdin=subprocess.DEVNULL, errors="replace")
            return cid, (p.returncode, p.stdout, p.stderr)
        except subprocess.TimeoutExpired:
            return cid, (None, "", "timed out after 60 s")

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        out = dict(pool.map(run, sorted(CASES)))
    return out


def test_a_malformed_collectives_row_is_refused_where_the_shipped_file_is_read():
    """The collectives CSV's numbers are read strictly now (qa56): every shipped row still passes."""
    p = subprocess.run([XPUSIM, "validate", "--collectives", "--format", "json", "--filter", "zzzz-no-row"], capture_output=True,
                       text=True, env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"), timeout=120)
    assert "n_chips" not in p.stderr and "message_bytes" not in p.stderr and "internal error" not in p.stderr, p.stderr


def test_a_validation_without_predicted_rows_has_no_mean_error():
    """QA (qa57): rows that no preset models printed "0 points, mean absolute error 0%" (JSON 0.0), a perfect score
    from nothing; the table now says there is no mean error and the JSON's mean_abs_error is null."""
    path = write("qa57_unmodeled.csv", HEADER + ROW.format(v="100").replace("H100 SXM", "Foo chip"))
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    table = subprocess.run([XPUSIM, "validate", "--data", path], capture_output=True, text=True, env=env, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "no preset models hardware 'Foo chip'" in table.stdout and "mean absolute error 0%" not in table.stdout, table.stdout
    assert "0 points: no row was predicted, so there is no mean error" in table.stdout, table.stdout
    js = subprocess.run([XPUSIM, "validate", "--data", path, "--format", "json"], capture_output=True, text=True, env=env, timeout=60)
    data = json.loads(js.stdout)
    assert data["points"] == [] and data["mean_abs_error"] is None and len(data["not_predicted"]) == 1, js.stdout


def test_suite_is_large_enough():
    assert len(CASES) >= 400, len(CASES)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_bad_input(cid, results):
    c = CASES[cid]
    rc, stdout, stderr = results[cid]
    shown = "xpusim %s -> %s\nstderr: %s" % (" ".join(c["argv"])[:300], rc, stderr[-2000:])
    assert rc == 2, shown
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, shown
    line = lines[0]
    assert line.startswith("xpusim: error: "), shown
    assert "internal error" not in line and "Traceback" not in stderr and "terminate called" not in stderr, shown
    for name in c["names"]:
        assert name in line, "expected %r in the message\n%s" % (name, shown)
    if c["out"]:
        assert not os.path.exists(c["out"]), "output folder left behind\n" + shown
