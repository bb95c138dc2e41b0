"""No kernel of a model run beats its own roofline, on every chip family: a model graph's kernels are
lowered as `kernel` lowers them, so the roofline each states is a floor for the simulated time too.
(The embedding of a model graph once carried a one-row table, so every gathered row hit L2 on a GPU:
Llama-3.1-8B prefill on h100-sxm ran its embedding at 0.89 of its HBM roofline.)"""
import json

import pytest


@pytest.mark.parametrize("chip", ["h100-sxm", "tpu-v6e", "trn2", "maia200"])
def test_model_kernels_respect_their_roofline(cli, chip):
    for phase, inp in (("prefill", "2048"), ("decode", "2048")):
        j = json.loads(cli("run", "--chip", chip, "--model", "llama-3.1-8b", "--phase", phase, "--batch", "1",
                           "--input", inp, "--format", "json").stdout)
        for step in j["steps"]:
            for k in step["kernels"]:
                if k["fused"] or not k["roofline_s"]:
                    continue
                assert k["time_s"] >= k["roofline_s"] * (1 - 1e-9), (chip, phase, k["label"], k["time_s"], k["roofline_s"])
