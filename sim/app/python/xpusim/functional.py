"""Functional mode from Python: run one simulated kernel on your own NumPy arrays.

    >>> import numpy as np, xpusim
    >>> x = np.random.randn(16, 64).astype(np.float32)
    >>> y = xpusim.functional("rmsnorm", inputs={"X": x, "W": np.ones(64)}, rows=16, cols=64)["Y"]

The kernel is lowered for the chip exactly as in a timing run; its transactions carry the data
through the tile program, so the result shows what the tiled kernel computes (dtype rounding of
loads, fp32 accumulation, online softmax, split combination). Inputs are fp32 arrays, rounded to the
op's dtype as the kernel loads them. Operands per op (2-D, row-major):

    gemm          A [m, k], B [k, n]                       -> C [m, n]
    rmsnorm       X [rows, cols], W [cols]                 -> Y   (eps 1e-5)
    layernorm     X, W [cols], B [cols]                    -> Y   (eps 1e-5)
    softmax, gelu X                                        -> Y   (gelu: tanh approximation)
    swiglu        X [rows, 2*cols] = [gate | up]           -> Y [rows, cols] = silu(gate) * up
    residual_add  X, R                                     -> Y = X + R
    rope          X [tokens, heads*head_dim]               -> Y   (Hugging Face rotate_half)
                  optional: positions [tokens] (default row % seq), inv_freq [head_dim/2]
                  (default theta ** (-2t/head_dim), theta from the `theta` argument, 10000)
    attention     Q [batch*heads*seq_q, d]  (row (b*heads + h)*seq_q + q)
                  K, V [batch*kv_heads*seq, d]             -> O [batch*heads*seq_q, d]
                  (query head h uses KV head h // (heads/kv_heads); queries are the last seq_q
                  positions; phase="decode" uses one query per sequence and splits the context)

The returned dict holds the output array under its name ("C", "Y" or "O"), plus "latency_s",
"transactions" and "kernels" (the lowering strategies) of the simulated run.
"""
import numpy as _np

from . import _keyword_errors, _sets, _xpusim


def _args(kwargs):
    out = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key.replace("_", "-")] = str(value)
    return out


@_keyword_errors()
def functional(op, chip="h100-sxm", inputs=None, set=None, theta=10000.0, **dims):
    """Run `op` functionally on `inputs` ({name: array}); return {output name: array, latency_s, ...}.

    dims are the arguments of `xpusim kernel` (m, n, k, rows, cols, heads, kv_heads, seq, head_dim,
    phase, causal, window, dtype, ...). See the module docstring for the operands of each op.
    """
    inputs = {k: _np.ascontiguousarray(v, dtype=_np.float32) for k, v in dict(inputs or {}).items()}
    sets = _sets(set)
    if op == "rope":
        x = inputs.get("X")
        rows = int(dims.get("rows", x.shape[0] if x is not None else 0))
        cols = int(dims.get("cols", x.shape[1] if x is not None else 0))
        dims.setdefault("rows", rows)
        dims.setdefault("cols", cols)
        head_dim = int(dims.get("head_dim") or (128 if cols % 128 == 0 else cols))
        dims["head_dim"] = head_dim
        if "positions" not in inputs:
            seq = int(dims.get("seq") or rows)
            inputs["positions"] = (_np.arange(rows) % seq).astype(_np.float32)
        if "inv_freq" not in inputs:
            t = _np.arange(0, head_dim, 2, dtype=_np.float64) / head_dim
            inputs["inv_freq"] = (1.0 / theta ** t).astype(_np.float32)
    return _xpusim.functional_run(op, chip, _args(dims), sets, inputs)


@_keyword_errors()
def functional_inputs(op, **dims):
    """[(name, (rows, cols))] of the inputs `functional(op, **dims)` expects."""
    return _xpusim.functional_inputs(op, _args(dims))


functional.inputs = functional_inputs  # xpusim.functional.inputs("attention", heads=2, seq=16, ...)
