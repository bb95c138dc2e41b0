"""A long Python session stays flat: 100 simulations in one process do not grow its memory (each
simulation's SystemC kernel context, threads and modules are released)."""
import os

import pytest
import xpusim


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_one_hundred_kernels_keep_rss_flat():
    if "libasan" in os.environ.get("LD_PRELOAD", ""):  # scripts/test-sanitized
        pytest.skip("under AddressSanitizer RSS includes its quarantine of freed memory; the normal build checks this")
    for _ in range(5):  # warm-up: allocator pools, the preset cache, the first SystemC context
        xpusim.kernel("gemm", m=512, n=512, k=512)
    before = rss_mib()
    for _ in range(100):
        xpusim.kernel("gemm", m=512, n=512, k=512)
    assert rss_mib() - before < 8, "RSS grew by %.1f MiB over 100 kernels" % (rss_mib() - before)
