"""xpusim: a cycle-approximate simulator of AI accelerators (SystemC/TLM-2.0).

    >>> import xpusim
    >>> r = xpusim.kernel("gemm", chip="h100-sxm", m=4096, n=4096, k=4096, dtype="bf16")
    >>> r["latency_s"], r["tflops"]

Every call builds a fresh simulation, so any number of runs can be made in one process.
"""
import json as _json

from . import _xpusim

InputError = _xpusim.InputError


def _args(kwargs):
    out = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key.replace("_", "-")] = str(value)
    return out


def kernel(op, chip="h100-sxm", set=None, functional=False, **dims):
    """Simulate one kernel and return its report as a dict.

    op:    "gemm", "attention", "rmsnorm", ... (see list_ops())
    chip:  a preset name (see list_chips())
    set:   dict or list of preset overrides, e.g. {"hbm.bandwidth": "4 TB/s"}
    dims:  the same arguments as `xpusim kernel` (m, n, k, batch, dtype, heads, kv_heads, seq, ...)

    The dict has the fields of `xpusim kernel --format json`: latency_s, tflops, share_of_peak,
    transactions, bytes, bandwidth_Bps, utilization, kernels, ...
    """
    if isinstance(set, dict):
        sets = ["%s=%s" % kv for kv in set.items()]
    else:
        sets = list(set or [])
    return _json.loads(_xpusim.kernel_json(op, chip, _args(dims), sets, functional))


def list_chips():
    """Names of the chip presets."""
    return _xpusim.list_chips()


from .trace import Trace, to_perfetto  # noqa: E402,F401  (trace replay, Perfetto export)
from . import plots  # noqa: E402,F401  (matplotlib, imported lazily inside the functions)
from .functional import functional  # noqa
from .session import Session  # noqa: E402,F401
