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


def test_a_system_serve_holds_the_collectives_it_runs_not_the_whole_step(peak_rss):
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("under AddressSanitizer RSS includes its quarantine of freed memory; the normal build checks this")
    # Llama-3.1-8B at tp16 on maia200-quads, eight 2048-token prompts: the prefill step has 32 layers
    # x 2 all-reduces of 16 MiB over a 16-chip ring in slices. With every call's operations merged into
    # one list (and the executor's state per operation) the run peaked at 324 MiB; with each call
    # expanded from its shared lowering only while it runs, at 28 MiB (the 8B weights are never held).
    rss = peak_rss("serve", "--system", "maia200-quads", "--tp", "16", "--model", "llama-3.1-8b",
                   "--requests", "8", "--concurrency", "8", "--input", "2048", "--output", "4")
    assert rss < 96, "a tp16 serve on maia200-quads peaked at %.0f MiB" % rss
