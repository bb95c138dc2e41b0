// A serving stack's own all-reduce kernels (TensorRT-LLM's one-shot and two-shot, vLLM's and SGLang's 1-stage
// and 2-stage, over peer-to-peer NVLink):
// which of a model's TP all-reduces they take instead of the collective library, and the system as they see
// it (their own fixed costs). Pure: no SystemC, no timing.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "kernels/collective/collective.h"

namespace xpu::coll {

// The stacks whose rule is modelled ("trtllm", "vllm", "sglang"); CollectiveRequest::stack names one of them or
// is empty.
std::vector<std::string> custom_allreduce_stacks();
// The stack whose kernels a model step's fusion policy stands for (`run`'s software, FusionPolicy::str()): "vllm" for
// vLLM, "trtllm" for TensorRT-LLM's engines and its PyTorch backend, "" for the others (the library's all-reduce).
std::string fusion_allreduce_stack(const std::string& fusion);
// The stack's kernel for `r` on `t`: "oneshot" or "twoshot", or "" where the collective library runs it
// (another collective or no stack, a system without such kernels, a group across nodes or off a switched
// scale-up fabric, a message past the kernels' workspace, or the stack's size rule for larger groups).
std::string custom_allreduce_algorithm(const Topology& t, const CollectiveRequest& r);
// Where `r.stack`'s own kernel runs `r` on `t` (a system `s`): by the stack's rule when `r.algorithm` is "auto",
// or the kernel `r` forces ("oneshot", "twoshot": a benchmark of that kernel, as vLLM's
// benchmark_device_communicators.py forces ca_1stage / ca_2stage) -- `s` as that kernel sees it
// (custom_allreduce_fabric), with r's algorithm and protocol set. Otherwise nullopt, r.stack cleared: the
// collective library runs it. The one path of serve's runtime and of `kernel allreduce --stack`.
std::optional<SystemSpec> custom_allreduce_route(const SystemSpec& s, const Topology& t, CollectiveRequest& r);
// `s` as `stack`'s kernel runs on it: its own launch (library.custom_launch_latency) instead of the library's,
// its flag steps (barriers) per dependent phase, no pipelining (every block strides over the whole message in
// one pass), and its blocks and warps copying through device memory (the two-shot's staging copies).
SystemSpec custom_allreduce_fabric(const SystemSpec& s, const std::string& algorithm, const std::string& stack);
// Warps of one of TensorRT-LLM's blocks that copy (1024 threads) and the bytes each has in flight (one 16-byte
// access per lane: the copy loops load one float4 per thread per iteration).
constexpr int kCustomCopyWarps = 32;
// Warps per block that stage the message through the kernel's own buffer (lower_twoshot's copies in and out),
// 0 where the stack's kernel reads its peers' registered buffers straight (vLLM's, SGLang's).
int custom_allreduce_copy_warps(const std::string& stack);

}  // namespace xpu::coll
