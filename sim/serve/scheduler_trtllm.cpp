// TensorRT-LLM's in-flight batching with the default GUARANTEED_NO_EVICT capacity policy: a request
// starts only when KV blocks for its whole length are reserved, so nothing is ever preempted.
#include <algorithm>
#include <vector>

#include "sim/serve/scheduler.h"

namespace xpu {

namespace {
// Rules (TensorRT-LLM docs: "Paged Attention, IFB, and Request Scheduling", "Tuning Max Batch Size and
// Max Num Tokens", "Useful Runtime Options: Capacity Scheduler Policy", PyTorch backend "Scheduler"):
//   - The capacity scheduler (GUARANTEED_NO_EVICT) admits a waiting request, in arrival order, only if
//     the KV blocks for its prompt plus its maximum output can be taken now and fewer than
//     max_batch_size requests are active; a started request is never paused.
//   - The micro-batch scheduler then fills one iteration of at most max_num_tokens tokens: generation
//     requests (1 token each) and context requests (their whole prompt) in the same forward pass.
//     A context that does not fit the tokens left waits for a later iteration; a prompt longer than
//     max_num_tokens is split into chunks (chunked context), the only case that needs it.
//   - Defaults: max_num_tokens 8192, max_batch_size 2048 (the LLM API / trtllm-serve defaults);
//     free_gpu_memory_fraction 0.9 of the memory weights and activations leave; 32-token blocks
//     (tokens_per_block).
// Device memory the TensorRT-LLM process holds when the executor measures free memory to size the KV
// cache, beyond the weights, the engine's activation memory and the communication buffers counted
// elsewhere (per GPU; the executor then takes free_gpu_memory_fraction of what is left):
//   - kCudaContextBytes: the CUDA context of a CUDA 12 process on a Hopper GPU with lazy module
//     loading (assumed: ~0.5 GiB, what nvidia-smi shows for a process that has only created its context).
//   - kKernelLibraryBytes: device code of the libraries the runtime loads (TensorRT's engine kernels,
//     TensorRT-LLM's plugin kernels: FMHA/XQA cubins, CUTLASS GEMMs, custom all-reduce) and their
//     workspaces (cuBLASLt's 32 MiB per handle; cuBLAS docs, "cublasSetWorkspace" recommendation for
//     Hopper) (assumed: 1 GiB in all).
//   - kRuntimeBufferBytes: the executor's own buffers outside the engine's activation memory
//     (decoder state and output ids per batch slot, sampling workspaces, the pinned/device staging
//     pools of the stream-ordered allocator; TensorRT-LLM docs "Memory Usage of TensorRT-LLM",
//     "Memory pool") (assumed: 0.5 GiB).
// CUDA graphs of the TensorRT-engine backend replay inside the engine's activation memory (no pool of
// their own: assumed). Not fitted to a validation row: one figure for every model, layout and shape.
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kCudaContextBytes = 0.5 * kGiB;
constexpr double kKernelLibraryBytes = 1.0 * kGiB;
constexpr double kRuntimeBufferBytes = 0.5 * kGiB;
// How the PyTorch backend launches an iteration (the backend of the LLM API and trtllm-serve, and the
// one the perf-overview tables ran: `trtllm-bench ... throughput --backend pytorch`):
//   - kGraphBatches: CUDA graphs are captured for generation-only batches (no context request in the
//     iteration) of the listed sizes, a smaller batch padded up to the next one
//     (tensorrt_llm/_torch/pyexecutor/model_engine.py, _get_padded_batch / maybe_get_cuda_graph); the
//     perf-overview's llm_options.yml for the v0.20 data lists 1, 2, 4, ..., 256, 384, 512, 1024, 2048,
//     4096, 8192 with cuda_graph_padding_enabled (source: TensorRT-LLM docs/source/performance/
//     perf-overview.md, v0.20 "The data collected for the v0.20 benchmarks was run with the following
//     file"). Iterations with a context request run eagerly. The padding rows are simulated
//     (HostLaunch::padded); kGraphMaxBatch is the largest size when no limits are given.
//   - kHostUsPerKernel: host time per op the backend dispatches eagerly: 11.67 us per call of an op
//     registered through @torch.library.custom_op around a minimal kernel (source: NVIDIA/TensorRT-LLM
//     PR #13149 "reduce @torch.library.custom_op host overhead", microbenchmark table, B200 host with
//     PyTorch 2.10; 4.72 us of it is the plain Python call and kernel launch floor). One op per simulated
//     kernel (assumed: the backend's ops map one to one onto the kernels of the step graph).
//   - Which sizes are captured: the listed ones up to the largest pure-decode batch,
//     min(max_batch_size, max_num_tokens), and that bound itself where a larger size was listed
//     (model_engine.py _filter_cuda_graph_batch_sizes, _get_padded_batch, _round_up_batch_size;
//     dominicshanshan/TensorRT-LLM@0082febc, the fork that holds the v0.20 perf-overview).
constexpr double kHostUsPerKernel = 11.67;
// The executor's own host work per iteration (HostWork), beside the dispatch: PyExecutor's loop schedules,
// prepares the inputs and attention metadata (_prepare_inputs), samples and then walks every active request
// to append its token, check its stop criteria and hand out its response, in Python on one thread per rank
// (docs "Architecture Overview", PyExecutor's single-step flow). Overlapped: the overlap scheduler launches
// step n+1 before it processes step n's results, so the host's work and the GPU's step run concurrently
// (docs "Overlap Scheduler": enabled by default, disable_overlap_scheduler=False in llm_args.py at v0.20;
// the v0.20 perf-overview's llm_options.yml does not disable it). Two public figures of that loop, both
// where the authors state the host bounds the iteration, give its size:
//   - 45.11 ms per iteration (host_step_time, the loop's wall clock) at up to 1536 active requests per
//     rank: GPT-OSS-120B, GB200, attention-DP 2, max_batch_size 1536, concurrency 3072, ISL/OSL 1k/1k
//     (source: NVIDIA/TensorRT-LLM PR #10273, "Re-implement MicroBatchScheduler and CapacityScheduler in
//     Python", Dec 2025: "scenarios where the host overhead is the bottleneck"; scheduling itself 4.4%);
//   - 4.64 ms per iteration at 64 requests: Llama-3.1-8B fp8 on B200, ISL/OSL 1000/1000, concurrency 64,
//     13,806 output tok/s (64 / 13,806 s per generation step), of which ~580 us exposed as GPU idle
//     (source: NVIDIA/TensorRT-LLM issue #13957, May 2026, "per-iter host work is comparable to GPU work").
// The line through both: 2.88 ms + 27.5 us per active request. Assumed: the v0.20 executor of the H100
// tables, on their x86 hosts, does the same work per request as these later versions on theirs (no
// figure of v0.20's loop is public); the loop walks every request the engine holds.
constexpr double kHostFixedUs = 2880;
constexpr double kHostUsPerRequest = 27.5;
constexpr std::int64_t kGraphBatches[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192};
constexpr std::int64_t kGraphMaxBatch = 8192;

// The captured sizes for these limits (_filter_cuda_graph_batch_sizes with padding, no drafts).
std::vector<std::int64_t> graph_batches(const SchedulerLimits& l) {
  const std::int64_t cap = std::min(l.max_seqs, l.token_budget);
  std::vector<std::int64_t> out;
  for (const std::int64_t b : kGraphBatches) {
    if (b <= cap) {
      out.push_back(b);
      continue;
    }
    if (out.empty() || out.back() != cap) out.push_back(cap);
    break;
  }
  return out;
}

class TrtllmScheduler : public Scheduler {
 public:
  explicit TrtllmScheduler(const SchedulerLimits& l) {
    m_limits = l;  // the host-work overrides as given; the limits' defaults below
    m_limits.token_budget = l.token_budget > 0 ? l.token_budget : 8192;
    m_limits.max_seqs = l.max_seqs > 0 ? l.max_seqs : 2048;
  }
  double memory_fraction() const override { return 0.90; }
  bool fraction_of_free_memory() const override { return true; }
  // The context server sends the reused prefix's KV with the rest to the generation server (NVIDIA/TensorRT-LLM
  // pull request #18688, "Early reused cache transfer": "the reused prefix therefore accounts for most of the KV
  // cache transferred from the context worker to the generation worker").
  PdPrefixRule pd_prefix_rule() const override { return {false, "whole prompt (TensorRT-LLM: reused prefix sent)"}; }
  double runtime_reserve_bytes() const override { return kCudaContextBytes + kKernelLibraryBytes + kRuntimeBufferBytes; }
  std::int64_t block_tokens() const override { return 32; }
  HostLaunch host_launch() const override {
    std::vector<std::int64_t> sizes = graph_batches(m_limits);
    const std::int64_t largest = sizes.empty() ? kGraphMaxBatch : sizes.back();
    return {kHostUsPerKernel, largest, std::move(sizes), HostWork{kHostFixedUs, kHostUsPerRequest, true}, {}};
  }

  Batch schedule(SchedState& st) override {
    Batch b;
    std::int64_t budget = m_limits.token_budget;
    auto take = [&](Sequence* s) {
      const std::int64_t n = std::min(s->remaining(), budget);
      // Blocks were reserved for the whole request at admission.
      b.push_back({s, n, s->computed});
      budget -= n;
    };
    for (Sequence* s : st.running)
      if (s->decoding() && budget > 0) take(s);  // generation requests (with their drafts when speculating)
    for (Sequence* s : st.running)
      if (!s->decoding() && budget > 0 && (s->remaining() <= budget || s->remaining() > m_limits.token_budget)) take(s);
    while (budget > 0 && !st.waiting.empty() && static_cast<std::int64_t>(st.running.size()) < m_limits.max_seqs) {
      Sequence* s = st.waiting.front();
      if (s->remaining() > budget && s->remaining() <= m_limits.token_budget) break;  // waits for a fuller budget
      if (!st.kv.grow(*s, s->input + s->output)) break;
      st.waiting.pop_front();
      st.running.push_back(s);
      take(s);
    }
    return b;
  }
};
}  // namespace

std::unique_ptr<Scheduler> make_trtllm_scheduler(const SchedulerLimits& limits) {
  return std::make_unique<TrtllmScheduler>(limits);
}

}  // namespace xpu
