// Serving stacks' own all-reduce: the rule by which TensorRT-LLM's AUTO strategy, and vLLM's and SGLang's
// custom all-reduce, give a TP all-reduce to their one-shot or two-shot kernel rather than to NCCL, and the
// fixed costs those kernels pay.
#include "kernels/collective/custom_allreduce.h"

#include <algorithm>
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

// vLLM's custom all-reduce (vllm-project/vllm, v0.6-v0.10: vllm/distributed/device_communicators/
// custom_all_reduce.py and csrc/custom_all_reduce.cuh), which SGLang adapted from vLLM v0.6.4.post1 and runs
// from sgl-kernel with the same rule (sgl-project/sglang python/sglang/srt/distributed/device_communicators/
// custom_all_reduce.py, sgl-kernel/csrc/allreduce/custom_all_reduce.cuh):
//   - CudaCommunicator.all_reduce tries it before PyNccl; it exists only for the TP group, at world sizes
//     2, 4, 6 and 8 (CustomAllreduce._SUPPORTED_WORLD_SIZES), within one node, above two ranks only when
//     fully NVLinked ("not supported on more than two PCIe-only GPUs"), with peer access (_can_p2p);
//     enforce_eager keeps it (eager calls copy the input into the registered buffer first);
//   - should_custom_ar: a message of a multiple of 16 bytes below max_size = 8192 * 1024 bytes;
//   - CustomAllreduce::allreduce (the .cuh): cross_device_reduce_1stage at two ranks whatever the size, and
//     at 4 ranks below 512 KiB or at 6-8 below 256 KiB; cross_device_reduce_2stage otherwise.
// Not modelled: later vLLM (from v0.11) caps max_size per GPU generation when torch symmetric memory is on
// (all_reduce_utils.py CUSTOM_ALL_REDUCE_MAX_SIZES, e.g. 256 KiB at 8 Hopper ranks) and runs its symmetric-
// memory all-reduce or NCCL's symmetric kernels above; FlashInfer's fused all-reduce is a compile pass off
// by default; SGLang's MSCCL++ and torch symmetric-memory paths are opt-in flags.
constexpr std::uint64_t kVllmMaxSize = 8192ULL * 1024;
constexpr std::uint64_t kVllmOneStageBelowFourRanks = 512ULL * 1024;
constexpr std::uint64_t kVllmOneStageBelow = 256ULL * 1024;
constexpr std::uint64_t kVllmAlignment = 16;

std::string vllm_algorithm(const Topology& t, const CollectiveRequest& r) {
  const int ranks = t.ranks();
  if (ranks % 2 != 0 || ranks > 8) return "";
  if (r.bytes >= kVllmMaxSize || r.bytes % kVllmAlignment != 0) return "";
  if (ranks == 2) return "oneshot";
  if ((ranks <= 4 && r.bytes < kVllmOneStageBelowFourRanks) || r.bytes < kVllmOneStageBelow) return "oneshot";
  return "twoshot";
}

// The vLLM kernel's grid (csrc/custom_all_reduce.cuh allreduce(): threads = 512, block_limit = 36, "the
// result after careful grid search"): 36 blocks of 512 threads once the message has 36 x 512 16-byte packs.
constexpr int kVllmBlockLimit = 36;
constexpr int kVllmThreads = 512;
constexpr double kVllmPackBytes = 16.0;  // one packed_t<bf16> load (8 halves, array_t<..., 16 / sizeof(T)>)

// vLLM's and SGLang's kernels at the peers' round trip (library.custom_peer_latency, L), where the system sets it.
// Every thread of the grid-stride loop waits one round trip per iteration for the loads it has in flight, so a
// rank pulls at most (blocks x threads x 16 B x loads in flight) per L:
//   - the 1-stage's packed_reduce reads one pack from every rank at once (independent loads, no store between):
//     ranks - 1 peer loads in flight per thread;
//   - the 2-stage's reduce-scatter reads likewise, but its all-gather copies one peer's pack into the output
//     before it reads the next (`result[dst] = tmps[i][idx]` under a per-rank condition): one peer load in
//     flight per thread. Its two stages move equal bytes, so the kernel's rate is their harmonic mean.
// Fixed costs, each one round trip: a barrier (multi_gpu_barrier: every block stores a flag to every peer and
// spins until every peer's has arrived), the first iteration's loads of each stage (the pipeline's fill), and the
// 2-stage's fence (the second barrier's st.release.sys waits for the block's stores to the IPC buffer to be
// visible system-wide first). 1-stage: start barrier, fill, end barrier = 3 L on its one exchange; 2-stage:
// barrier, fill, fence, barrier, fill = 5 L over its two, 2.5 L on each. vLLM's own note on the 2-stage's middle
// barrier ("replace this with per-block release-acquire, can save about 1-2us") puts one such step at 1-2 us.
// Whether nvcc issues the all-gather's loads ahead of its stores (result is __restrict__) is not checked here:
// one load in flight is what the 2-stage's measured slope implies (hgx_h100x8 custom_peer_latency).
void vllm_peer_bound(SystemSpec& out, const SystemSpec& s, const std::string& algorithm) {
  const double rtt = s.custom_peer_latency.value();
  const double per_load = kVllmBlockLimit * kVllmThreads * kVllmPackBytes / rtt;
  const double reduce = per_load * (s.chips - 1), gather = per_load;
  const bool one = algorithm == "oneshot";
  out.step_latency_simple = Seconds((one ? 3.0 : 2.5) * rtt);
  out.engine_bandwidth = Bandwidth(one ? reduce : 2.0 / (1.0 / reduce + 1.0 / gather));
}

// vLLM's kernels, which SGLang's sgl-kernel carries with vLLM's rule.
bool vllm_kernels(const std::string& stack) { return stack == "vllm" || stack == "sglang"; }

// Whether a stack's own kernel can run `r` at all: an all-reduce among two or more GPUs of one NVLink node.
bool kernel_can_run(const Topology& t, const CollectiveRequest& r) {
  return r.kind == CollKind::AllReduce && t.ranks() >= 2 && peer_nvlink(t);
}
}  // namespace

std::vector<std::string> custom_allreduce_stacks() { return {"trtllm", "vllm", "sglang"}; }

std::string fusion_allreduce_stack(const std::string& fusion) {
  if (fusion == "vllm") return "vllm";
  if (fusion == "trtllm" || fusion == "trtllm-pytorch") return "trtllm";  // both backends take AUTO's strategy
  return "";
}

namespace {
// InputError unless `stack` names a stack whose kernels are modelled.
void check_stack(const std::string& stack) {
  const auto stacks = custom_allreduce_stacks();
  if (std::find(stacks.begin(), stacks.end(), stack) == stacks.end())
    throw InputError("all-reduce stack '" + stack + "': no such stack's kernels are modelled (stacks: " + join(stacks) + ")", "--stack", stack);
}
}  // namespace

std::string custom_allreduce_algorithm(const Topology& t, const CollectiveRequest& r) {
  if (r.stack.empty() || !kernel_can_run(t, r)) return "";
  check_stack(r.stack);
  return r.stack == "trtllm" ? trtllm_algorithm(t, r) : vllm_algorithm(t, r);
}

std::optional<SystemSpec> custom_allreduce_route(const SystemSpec& s, const Topology& t, CollectiveRequest& r) {
  std::string algorithm;
  if (!r.stack.empty() && (r.algorithm == "oneshot" || r.algorithm == "twoshot")) {
    check_stack(r.stack);
    if (!kernel_can_run(t, r))
      throw InputError("stack '" + r.stack + "' with algorithm '" + r.algorithm + "': its own kernel runs an all-reduce "
                       "among 2 or more GPUs of one NVLink node (got " + name(r.kind) + " on " +
                       std::to_string(t.ranks()) + " ranks of '" + s.name + "')",
                       "--stack", r.stack);
    algorithm = r.algorithm;
  } else if (r.algorithm == "auto") {
    algorithm = custom_allreduce_algorithm(t, r);
  }
  if (algorithm.empty()) {
    r.stack.clear();
    return std::nullopt;
  }
  r.algorithm = algorithm;
  r.protocol = "simple";
  return custom_allreduce_fabric(s, algorithm, r.stack);
}

int custom_allreduce_copy_warps(const std::string& stack) {
  // vLLM's and SGLang's kernels read each peer's input where it lies: inside the step's CUDA graph the inputs
  // are registered with every peer (register_graph_buffers), and the 2-stage's reduce writes its shard to its
  // own IPC buffer while its all-gather reads the peers' shards straight into the output. Assumed: every call
  // is graph-registered (vLLM V1 captures batches up to 512 tokens, and 8 MiB at hidden 8192 is 512 tokens);
  // an eager call's cudaMemcpyAsync of the input into the registered buffer is not charged.
  return stack == "trtllm" ? kCustomCopyWarps : 0;
}

SystemSpec custom_allreduce_fabric(const SystemSpec& s, const std::string& algorithm, const std::string& stack) {
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
  const bool oneshot = algorithm == "oneshot", vllm = vllm_kernels(stack);
  if (!vllm) out.step_latency_simple = oneshot ? s.step_latency_ll : s.step_latency_simple;
  // vLLM's and SGLang's barriers (multi_gpu_barrier): each block stores a counter to every peer and polls its
  // own. The 1-stage passes two without a fence (st/ld.volatile, NCCL LL's flag) around its one exchange, the
  // start barrier and the one after its reads: two LL steps. The 2-stage passes a volatile one at the start
  // and a fenced one (st.release.sys / ld.acquire.sys) between its reduce-scatter and all-gather, none at the
  // end: one LL and one simple step over its two exchanges, charged as their mean on each.
  if (vllm)
    out.step_latency_simple = Seconds(oneshot ? 2.0 * s.step_latency_ll.value()
                                              : 0.5 * (s.step_latency_ll.value() + s.step_latency_simple.value()));
  if (vllm && s.custom_peer_latency.value() > 0) vllm_peer_bound(out, s, algorithm);
  // TensorRT-LLM's kernels move at most library.custom_peer_bandwidth to their peers (measured on NVLink5: the
  // systems' presets), the one-shot's pushes of its whole buffer and the two-shot's two exchanges alike.
  if (!vllm && s.custom_peer_bandwidth.value() > 0) out.engine_bandwidth = s.custom_peer_bandwidth;
  out.step_latency_ll = out.step_latency_ll128 = out.step_latency_simple;
  // No pipeline: every block strides over the whole message once (IndexHelper: token_stride = the grid).
  out.max_slices = 1;
  out.channels = stack == "trtllm" ? s.custom_blocks : kVllmBlockLimit;
  out.copy_bytes_per_warp = Bytes(32.0 * 16.0);
  out.nvls_scatter_warps = out.nvls_gather_warps = 0;
  out.ring_ll128_pair_efficiency = 1.0;
  return out;
}

}  // namespace xpu::coll
