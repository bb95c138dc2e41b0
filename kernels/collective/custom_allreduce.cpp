// TensorRT-LLM's own all-reduce: the rule by which its AUTO strategy gives a TP all-reduce to its one-shot or
// two-shot kernel rather than to NCCL, and the fixed costs those kernels pay.
#include "kernels/collective/custom_allreduce.h"

#include <cstdint>

namespace xpu::coll {

namespace {
// TensorRT-LLM v0.20's PyTorch backend (what trtllm-bench's perf-overview ran): `AllReduce`
// (tensorrt_llm/_torch/distributed/ops.py) calls torch.ops.trtllm.allreduce with AllReduceStrategy AUTO, and
// AllreduceOp::selectImplementation (cpp/tensorrt_llm/thop/allreduceOp.cpp, the copy with moe_allreduce and no
// low-precision path, before NVIDIA/TensorRT-LLM PR #5432 of 2025-07-01) decides, for the plain all-reduce
// (fusion NONE) that v0.20's dense Llama runs after o_proj and down_proj:
//   - NCCL unless every rank of the group is on this node and linked by NVLink with peer access
//     (setGroupTopology: cudaDeviceCanAccessPeer, NVML NVLink or a shared NVSwitch);
//   - NCCL for a message larger than the kernels' IPC workspace, getMaxRequiredWorkspaceSize
//     (cpp/tensorrt_llm/common/customAllReduceUtils.h): 16,000,000 bytes at two ranks, 8,000,000 above;
//   - otherwise MIN_LATENCY at two ranks; at 3-4 ranks below 1,000,000 bytes, above 4 ranks below 500,000,
//     NCCL at or past those sizes (after PR #5432: NCCL above 128 tokens at more than two ranks);
//   - MIN_LATENCY runs the all-reduce fusion kernel (cpp/tensorrt_llm/kernels/communicationKernels/
//     allReduceFusionKernels.cu): one-shot (Lamport) up to kOneShotMaxToken = 128 tokens, two-shot above.
constexpr std::uint64_t kTrtllmWorkspaceTwoRanks = 16'000'000;
constexpr std::uint64_t kTrtllmWorkspace = 8'000'000;
constexpr std::uint64_t kTrtllmMinLatencyBelowFourRanks = 1'000'000;
constexpr std::uint64_t kTrtllmMinLatencyBelow = 500'000;
constexpr std::int64_t kTrtllmOneShotMaxRows = 128;

// One node's GPUs on a switch with peer access: NVLink through NVSwitch, as the stack's topology check asks.
bool peer_nvlink(const Topology& t) {
  const SystemSpec& s = t.spec();
  return s.nodes == 1 && s.topology == "switch" && s.custom_launch_latency.value() > 0;
}

std::string trtllm_algorithm(const Topology& t, const CollectiveRequest& r) {
  const int ranks = t.ranks();
  if (r.bytes > (ranks <= 2 ? kTrtllmWorkspaceTwoRanks : kTrtllmWorkspace)) return "";
  if (ranks > 4 && r.bytes >= kTrtllmMinLatencyBelow) return "";
  if (ranks > 2 && ranks <= 4 && r.bytes >= kTrtllmMinLatencyBelowFourRanks) return "";
  // The two-shot splits the tokens over the ranks (at least one each); rows 0 (not known): the one-shot.
  return r.rows > kTrtllmOneShotMaxRows && r.rows >= ranks ? "twoshot" : "oneshot";
}
}  // namespace

std::vector<std::string> custom_allreduce_stacks() { return {"trtllm"}; }

std::string custom_allreduce_algorithm(const Topology& t, const CollectiveRequest& r) {
  if (r.kind != CollKind::AllReduce || r.stack.empty() || t.ranks() < 2 || !peer_nvlink(t)) return "";
  if (r.stack == "trtllm") return trtllm_algorithm(t, r);
  throw InputError("all-reduce stack '" + r.stack + "': no such stack's kernels are modelled (stacks: " +
                   join(custom_allreduce_stacks()) + ")");
}

SystemSpec custom_allreduce_fabric(const SystemSpec& s, const std::string& algorithm) {
  SystemSpec out = s;
  // The kernel is one launch in the step's CUDA graph (programmatic dependent launch), with none of the
  // library's setup: its launch is the chip's measured launch gap (library.custom_launch_latency).
  out.launch_latency = s.custom_launch_latency;
  out.in_graph_launch_latency = Seconds(0);
  out.network_launch_latency = Seconds(0);
  // One flag step per dependent phase (the lowering runs every phase's bytes as the simple protocol's, no
  // framing). Assumed from NCCL's own step costs on the same fabric, as the mechanisms match: the one-shot
  // (Lamport) carries its flags in the data, each 16-byte value written over the -0.0 its buffer was cleared
  // to and polled by volatile loads, as NCCL's LL protocol polls a flag beside its data (library.step_latency.ll);
  // the two-shot's barriers (Barrier::sync, before the reduce and before the read-back) store a flag to every
  // peer with st.global.release.sys and poll their own with ld.global.acquire.sys, the system-scope fence and
  // flag of NCCL's simple protocol (library.step_latency.simple).
  out.step_latency_simple = algorithm == "oneshot" ? s.step_latency_ll : s.step_latency_simple;
  out.step_latency_ll = out.step_latency_ll128 = out.step_latency_simple;
  // No pipeline: every block strides over the whole message once (IndexHelper: token_stride = the grid).
  out.max_slices = 1;
  out.channels = s.custom_blocks;
  out.copy_bytes_per_warp = Bytes(32.0 * 16.0);
  out.nvls_scatter_warps = out.nvls_gather_warps = 0;
  out.ring_ll128_pair_efficiency = 1.0;
  return out;
}

}  // namespace xpu::coll
