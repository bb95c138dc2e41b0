"""`bound` comes from what the simulation saw (the busiest unit), not from roofline arithmetic."""
import xpusim


def test_large_gemm_is_bound_by_the_tensor_cores():
    k = xpusim.kernel("gemm", m=2048, n=2048, k=2048)["kernels"][0]
    assert k["bound"] == "compute" and k["bound_unit"] == "sm.tensor" and k["bound_share"] >= 0.5


def test_streaming_row_op_is_bound_by_hbm():
    k = xpusim.kernel("rmsnorm", rows=4096, cols=8192)["kernels"][0]
    assert k["bound"] == "memory" and k["bound_unit"] == "mem.hbm"


def test_a_tiny_kernel_far_from_its_roofline_is_latency_bound():
    j = xpusim.kernel("gemm", m=64, n=64, k=64)
    k = j["kernels"][0]
    # The roofline calls it memory-bound, but no unit is busy half the time: fixed costs set its time.
    assert k["roofline_bound"] == "memory"
    assert j["latency_s"] > 4 * k["roofline_s"]
    assert k["bound"] == "latency" and k["bound_share"] < 0.5
