// Disaggregated serving: the two-pool engine on fake step and transfer times (every request prefilled,
// transferred and decoded once; latencies against a hand computation), the KV bytes against the closed
// form, KV transfers contending on the fabric, and the pools' checks.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/interconnect/system_spec.h"
#include "sim/serve/disagg.h"
#include "sim/serve/step_time.h"
#include "sim/run/registry.h"

namespace xpu {
namespace {

std::string model_path(const char* name) { return source_dir() + "/tests/data/models/" + name + ".json"; }

// Prefill: 1 ms + 10 us per token; decode: 2 ms + 1 us per cached token read.
StepCost fake_step(const StepShape& s) {
  StepCost c;
  c.time_s = (s.prefill_tokens ? 1e-3 + 1e-5 * static_cast<double>(s.prefill_tokens) : 0) +
             (s.decode_seqs ? 2e-3 + 1e-6 * static_cast<double>(s.decode_kv_sum) : 0);
  c.events.time_s = c.time_s;
  return c;
}
// 5 ms + 1 GB/s.
double fake_transfer(const KvTransfer& t) { return 5e-3 + t.bytes / 1e9; }

// n requests of varied lengths, all arriving at once: input 100 + (37 i) % span tokens, output 2 + i % outs.
std::vector<RequestDraw> varied_requests(int n, std::int64_t span, std::int64_t outs) {
  std::vector<RequestDraw> reqs;
  for (int i = 0; i < n; ++i) reqs.push_back({100 + (37 * i) % span, 2 + i % outs, 0});
  return reqs;
}

std::function<std::unique_ptr<Scheduler>()> vllm() {
  return [] { return make_scheduler("vllm", {}); };
}

TEST(Disagg, KvBytesMatchTheClosedForm) {
  ModelConfig m = load_model(model_path("small-llama-100m"));  // 8 layers, 4 KV heads of 64, bf16
  Scenario sc;
  const double per_token = 8.0 * 4 * 64 * 2 * 2;  // layers x KV heads x head_dim x (K, V) x bytes
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(m, sc, 1000), per_token * 1000);
  sc.tp = 2;  // heads split: the instance holds them once
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(m, sc, 1000), per_token * 1000);
  sc.tp = 8;  // fewer KV heads than ranks: each rank holds (and sends) one head
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(m, sc, 1000), 8.0 * 8 * 64 * 2 * 2 * 1000);
  sc.tp = 2, sc.dp = 4;  // an instance is one replica of tp ranks: its bytes do not depend on the replicas
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(m, sc, 1000), per_token * 1000);
  ModelConfig mla = load_model(model_path("deepseek-v2-lite"));  // the latent, whole on every rank
  Scenario one;
  const double latent = static_cast<double>(mla.layers) * static_cast<double>(mla.kv_lora_rank + mla.qk_rope_head_dim) * 2;
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(mla, one, 10), latent * 10);
  one.tp = 2;
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(mla, one, 10), 2 * latent * 10);
  one.tp = 1, one.ep = 8, one.dp = 8;  // wide EP with data-parallel attention: each one-rank replica receives the latent once
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(mla, one, 10), latent * 10);
  one.tp = 2, one.ep = 8, one.dp = 4;
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(mla, one, 10), 2 * latent * 10);
  // DeepSeek-V3 (MLA): 61 layers x (512 + 64) latent x 1 byte (fp8 KV cache) = 35,136 B per token and rank.
  ModelConfig v3 = load_model("deepseek-v3");
  Scenario wide;
  wide.kvdtype = DType::fp8;
  wide.ep = wide.dp = 8;
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(v3, wide, 1), 61.0 * (512 + 64) * 1);
  wide.tp = 8, wide.ep = 8, wide.dp = 1;  // TP8: the latent on each of the eight ranks
  EXPECT_DOUBLE_EQ(kv_transfer_bytes(v3, wide, 1), 8 * 61.0 * (512 + 64) * 1);
}

TEST(Disagg, EveryRequestIsPrefilledTransferredAndDecodedOnce) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  const std::vector<RequestDraw> reqs = varied_requests(40, 500, 20);
  std::int64_t outputs = 0, inputs = 0;
  for (const RequestDraw& q : reqs) outputs += q.output, inputs += q.input;
  auto bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, sc, tokens); };
  DisaggEngineResult r = run_disagg_engine(reqs, {EngineLoad::Kind::Closed, 8}, vllm(), {2, 3, 100000, 100000}, one_rank(fake_step), one_rank(fake_step),
                                           bytes, fake_transfer);
  EXPECT_EQ(r.total.requests, 40);
  EXPECT_EQ(r.total.output_tokens, outputs);
  EXPECT_EQ(r.total.prefill_tokens, inputs);          // no preemption in a cache this large
  EXPECT_EQ(r.total.decode_steps, outputs - 40);      // every token after the first on the decode pool
  EXPECT_EQ(static_cast<std::int64_t>(r.total.itl_s.size()), outputs - 40);
  ASSERT_EQ(r.transfers.size(), 40u);
  std::map<std::int64_t, int> seen;
  for (const KvTransfer& t : r.transfers) {
    ++seen[t.request];
    const RequestDraw& q = reqs[static_cast<size_t>(t.request)];
    EXPECT_EQ(t.tokens, q.input);
    EXPECT_DOUBLE_EQ(t.bytes, 8.0 * 4 * 64 * 2 * 2 * static_cast<double>(q.input));
    EXPECT_NEAR(t.end_s - t.start_s, fake_transfer(t), 1e-12);
  }
  EXPECT_EQ(seen.size(), 40u);
  // Nobody starves: every instance of both pools worked, every request finished within the run.
  for (double b : r.prefill_busy_s) EXPECT_GT(b, 0);
  for (double b : r.decode_busy_s) EXPECT_GT(b, 0);
  ASSERT_EQ(r.total.e2e_s.size(), 40u);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_GT(r.total.ttft_s[i], 0);
    EXPECT_LE(r.total.e2e_s[i], r.total.makespan_s);
  }
  // The second token waits for the transfer: the largest inter-token gap is at least the shortest transfer.
  EXPECT_GE(r.total.itl_s.max(), 5e-3);
}

// Speculative decoding on the decode pool: each verify step emits the expected accepted tokens (EngineFeatures), so
// with every draft accepted a request's tokens after the first take ceil((output - 1) / (drafts + 1)) steps (the last
// step's drafts cut at the answer's end), with none accepted one a step; every token is emitted exactly once.
TEST(Disagg, SpeculativeDecodeStepsEmitTheAcceptedTokens) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  auto bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, sc, tokens); };
  // A verify step of the decode pool: 2 ms + 1 us per token it reads or verifies.
  auto step = [](const StepShape& s) {
    StepCost c = fake_step(s);
    if (s.verify_seqs) c.time_s += 2e-3 + 1e-6 * static_cast<double>(s.verify_kv_sum);
    c.events.time_s = c.time_s;
    return c;
  };
  const std::vector<RequestDraw> reqs = varied_requests(30, 300, 17);
  std::int64_t outputs = 0, steps_all = 0;
  for (const RequestDraw& q : reqs) outputs += q.output, steps_all += (q.output - 1 + 2) / 3;  // ceil((output - 1) / 3)
  for (const double accept : {1.0, 0.0, 0.6}) {
    DisaggInstances inst{2, 3, 100000, 100000};
    inst.features.spec_tokens = 2;
    inst.features.spec_accept = accept;
    DisaggEngineResult r = run_disagg_engine(reqs, {EngineLoad::Kind::Closed, 8}, vllm(), inst, one_rank(step), one_rank(step), bytes,
                                             fake_transfer);
    EXPECT_EQ(r.total.requests, 30);
    EXPECT_EQ(r.total.output_tokens, outputs) << accept;
    EXPECT_EQ(r.total.decode_tokens, outputs - 30) << accept;
    EXPECT_EQ(static_cast<std::int64_t>(r.total.itl_s.size()), r.total.decode_steps);  // one gap per streamed step
    if (accept == 1.0) {
      EXPECT_EQ(r.total.decode_steps, steps_all);
    } else if (accept == 0.0) {
      EXPECT_EQ(r.total.decode_steps, outputs - 30);
    } else {
      EXPECT_TRUE(r.total.decode_steps > steps_all && r.total.decode_steps < outputs - 30) << r.total.decode_steps;
    }
  }
}

TEST(Disagg, OneRequestTakesPrefillThenTransferThenDecodeSteps) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  auto bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, sc, tokens); };
  std::vector<RequestDraw> reqs = {{100, 4, 0.5}};
  DisaggEngineResult r = run_disagg_engine(reqs, {EngineLoad::Kind::Open, 0}, vllm(), {1, 1, 1000, 1000}, one_rank(fake_step), one_rank(fake_step), bytes,
                                           fake_transfer);
  const double prefill = 1e-3 + 1e-5 * 100;
  const double transfer = 5e-3 + bytes(100) / 1e9;
  // Three decode steps read 101, 102 and 103 cached tokens.
  const double decode = 3 * 2e-3 + 1e-6 * (101 + 102 + 103);
  ASSERT_EQ(r.total.ttft_s.size(), 1u);
  EXPECT_NEAR(r.total.ttft_s[0], prefill, 1e-12);
  EXPECT_NEAR(r.total.e2e_s[0], prefill + transfer + decode, 1e-12);
  EXPECT_NEAR(r.total.itl_s.front(), transfer + 2e-3 + 1e-6 * 101, 1e-12);
  EXPECT_NEAR(r.total.tpot_s[0], (transfer + decode) / 3, 1e-12);
  EXPECT_NEAR(r.total.makespan_s, 0.5 + prefill + transfer + decode, 1e-12);
}

// Prefix caching with pools (disagg.h), as SGLang runs it by default: the prefill instance takes the prompt's cached
// head (whole blocks) from its cache and prefills only the rest; the decode instance keeps no prefix cache, so the whole
// prompt's KV crosses and the decode steps are those without prefix caching. One request in closed form, then many.
TEST(Disagg, APrefixHitShortensThePrefillAndSendsTheWholePrompt) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  auto bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, sc, tokens); };
  const std::vector<RequestDraw> one = {{100, 4, 0.5}};
  DisaggInstances inst{1, 1, 1000, 1000};
  inst.features.prefix_hit = 0.5;  // 50 tokens: 48 in whole blocks of 16 (vLLM's default block)
  DisaggEngineResult r = run_disagg_engine(one, {EngineLoad::Kind::Open, 0}, vllm(), inst, one_rank(fake_step), one_rank(fake_step), bytes,
                                           fake_transfer);
  const double prefill = 1e-3 + 1e-5 * (100 - 48);
  const double transfer = 5e-3 + bytes(100) / 1e9;  // the whole prompt's KV
  const double decode = 3 * 2e-3 + 1e-6 * (101 + 102 + 103);
  ASSERT_EQ(r.transfers.size(), 1u);
  EXPECT_EQ(r.transfers[0].tokens, 100);
  EXPECT_EQ(r.transfers[0].cached, 48);
  EXPECT_DOUBLE_EQ(r.transfers[0].bytes, 8.0 * 4 * 64 * 2 * 2 * 100);
  EXPECT_EQ(r.total.prefill_tokens, 100 - 48);
  EXPECT_NEAR(r.total.ttft_s[0], prefill, 1e-12);
  EXPECT_NEAR(r.total.e2e_s[0], prefill + transfer + decode, 1e-12);
  EXPECT_NEAR(r.decode_busy_s[0], decode, 1e-12);
  EXPECT_NEAR(r.prefill_busy_s[0], prefill, 1e-12);

  // Many requests at equal load: each prompt prefilled less its cached blocks, every prompt sent whole, the decode pool's
  // steps the same in number and tokens; the prefill pool is busy for less and the first tokens come sooner.
  const std::vector<RequestDraw> reqs = varied_requests(40, 500, 20);
  DisaggInstances none{2, 3, 100000, 100000}, hit = none;
  hit.features.prefix_hit = 0.5;
  const DisaggEngineResult a = run_disagg_engine(reqs, {EngineLoad::Kind::Closed, 8}, vllm(), none, one_rank(fake_step), one_rank(fake_step), bytes,
                                                 fake_transfer);
  const DisaggEngineResult b = run_disagg_engine(reqs, {EngineLoad::Kind::Closed, 8}, vllm(), hit, one_rank(fake_step), one_rank(fake_step), bytes,
                                                 fake_transfer);
  std::int64_t computed = 0;
  for (const RequestDraw& q : reqs) computed += q.input - q.input / 2 / 16 * 16;
  EXPECT_EQ(b.total.prefill_tokens, computed);
  ASSERT_EQ(b.transfers.size(), reqs.size());
  for (const KvTransfer& t : b.transfers) {
    const RequestDraw& q = reqs[static_cast<size_t>(t.request)];
    EXPECT_EQ(t.cached, q.input / 2 / 16 * 16);
    EXPECT_DOUBLE_EQ(t.bytes, bytes(q.input));
  }
  EXPECT_EQ(b.total.decode_steps, a.total.decode_steps);
  EXPECT_EQ(b.total.output_tokens, a.total.output_tokens);
  auto sum = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); };
  EXPECT_LT(sum(b.prefill_busy_s), sum(a.prefill_busy_s));
  EXPECT_LT(sum(b.total.ttft_s), sum(a.total.ttft_s));
  // A hit below one block caches nothing: the run is the one without prefix caching.
  hit.features.prefix_hit = 0.01;  // at most 5 of the 100-599 tokens
  const DisaggEngineResult c = run_disagg_engine(reqs, {EngineLoad::Kind::Closed, 8}, vllm(), hit, one_rank(fake_step), one_rank(fake_step), bytes,
                                                 fake_transfer);
  EXPECT_EQ(c.total.makespan_s, a.total.makespan_s);
  EXPECT_EQ(c.total.prefill_tokens, a.total.prefill_tokens);
}

// vLLM's KV connectors (DisaggInstances::decode_prefix_cache): the decode instance's own prefix cache holds the cached
// head, so the transfer carries only the rest's KV (closed form) and the decode sequences share the head's blocks.
TEST(Disagg, ADecodePrefixCacheHoldsTheHeadAndOnlyTheRestIsSent) {
  const ModelConfig m = load_model(model_path("small-llama-100m"));
  const std::function<double(std::int64_t)> bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, Scenario{}, tokens); };
  const std::vector<RequestDraw> one(1, RequestDraw{100, 4, 0.5});
  DisaggInstances inst{1, 1, 1000, 1000};
  inst.features.prefix_hit = 0.5;  // 48 tokens in whole blocks of 16, on both pools
  inst.decode_prefix_cache = true;
  DisaggEngineResult r = run_disagg_engine(one, {EngineLoad::Kind::Open, 0}, vllm(), inst, one_rank(fake_step), one_rank(fake_step), bytes,
                                           fake_transfer);
  const double prefill = 1e-3 + 1e-5 * (100 - 48);
  const double transfer = 5e-3 + 8.0 * 4 * 64 * 2 * 2 * 52 / 1e9;  // the 52 uncached tokens' KV
  const double decode = 3 * 2e-3 + 1e-6 * (101 + 102 + 103);      // the decode steps read the whole context
  ASSERT_EQ(r.transfers.size(), 1u);
  EXPECT_EQ(r.transfers[0].tokens, 100);
  EXPECT_EQ(r.transfers[0].cached, 48);
  EXPECT_EQ(r.transfers[0].resident, 48);
  EXPECT_DOUBLE_EQ(r.transfers[0].bytes, 8.0 * 4 * 64 * 2 * 2 * 52);
  EXPECT_NEAR(r.total.ttft_s[0], prefill, 1e-12);
  EXPECT_NEAR(r.total.e2e_s[0], prefill + transfer + decode, 1e-12);
  // Without the decode cache (SGLang's rule) the same request sends all 100 tokens and holds nothing on the decode side.
  inst.decode_prefix_cache = false;
  r = run_disagg_engine(one, {EngineLoad::Kind::Open, 0}, vllm(), inst, one_rank(fake_step), one_rank(fake_step), bytes, fake_transfer);
  EXPECT_EQ(r.transfers[0].resident, 0);
  EXPECT_DOUBLE_EQ(r.transfers[0].bytes, bytes(100));

  // Eight equal prompts at once (160 tokens: a head of 80, five blocks): they land together and decode together; the
  // decode pool holds the head's five blocks once instead of eight times at its peak.
  const std::vector<RequestDraw> eight(8, RequestDraw{160, 4, 0});
  DisaggInstances whole{1, 1, 1000, 1000};
  whole.features.prefix_hit = 0.5;
  DisaggInstances cached = whole;
  cached.decode_prefix_cache = true;
  const DisaggEngineResult a = run_disagg_engine(eight, {EngineLoad::Kind::Open, 0}, vllm(), whole, one_rank(fake_step), one_rank(fake_step),
                                                 bytes, fake_transfer);
  const DisaggEngineResult b = run_disagg_engine(eight, {EngineLoad::Kind::Open, 0}, vllm(), cached, one_rank(fake_step), one_rank(fake_step),
                                                 bytes, fake_transfer);
  for (const KvTransfer& t : b.transfers) {
    EXPECT_EQ(t.resident, 80);
    EXPECT_DOUBLE_EQ(t.bytes, bytes(80));
  }
  EXPECT_NEAR(a.total.kv_peak - b.total.kv_peak, 7.0 * 5 / 1000, 1e-12);
  EXPECT_EQ(b.total.decode_steps, a.total.decode_steps);
  EXPECT_LT(b.total.e2e_s[0], a.total.e2e_s[0]);  // half the bytes on the same link
}

// Each serving stack's rule (Scheduler::pd_prefix_rule): vLLM's decode instance keeps a prefix cache, SGLang's
// (and TensorRT-LLM's generation server) receive the whole prompt; the others are assumed as SGLang.
TEST(Disagg, ThePrefixRuleFollowsTheScheduler) {
  EXPECT_TRUE(make_scheduler("vllm", {})->pd_prefix_rule().decode_cache);
  for (const char* name : {"sglang", "sglang-jax", "trtllm", "jetstream"}) EXPECT_FALSE(make_scheduler(name, {})->pd_prefix_rule().decode_cache) << name;
  EXPECT_EQ(make_scheduler("vllm", {})->pd_prefix_rule().name.rfind("uncached blocks", 0), 0u);
  EXPECT_EQ(make_scheduler("sglang", {})->pd_prefix_rule().name.rfind("whole prompt", 0), 0u);
  // SGLang's opt-in decode radix cache (--disaggregation-decode-enable-radix-cache): a decode prefix cache; no other
  // stack has the option (vLLM's is on already), and only vLLM runs a draft model at a smaller tp.
  const auto radix = make_scheduler("sglang", {})->pd_decode_radix_rule();
  ASSERT_TRUE(radix);
  EXPECT_TRUE(radix->decode_cache);
  EXPECT_EQ(radix->name.rfind("uncached tokens", 0), 0u);
  for (const char* name : {"vllm", "sglang-jax", "trtllm", "jetstream"}) {
    EXPECT_FALSE(make_scheduler(name, {})->pd_decode_radix_rule()) << name;
    EXPECT_EQ(make_scheduler(name, {})->smaller_draft_tp(), std::string(name) == "vllm") << name;
  }
  EXPECT_FALSE(make_scheduler("sglang", {})->smaller_draft_tp());
}

// The framework's host work (HostWork) binds each pool's iterations as it binds the colocated engine's: with
// 10 ms per running request, overlapped, every step of this lone request takes 10 ms instead of its GPU time.
TEST(Disagg, TheFrameworksHostWorkBindsEachPoolsIterations) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  auto bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, sc, tokens); };
  SchedulerLimits heavy;
  heavy.host_fixed_us = 0, heavy.host_us_per_request = 1e4;
  auto sched = [heavy] { return make_scheduler("vllm", heavy); };
  std::vector<RequestDraw> reqs = {{100, 4, 0.5}};
  DisaggEngineResult r = run_disagg_engine(reqs, {EngineLoad::Kind::Open, 0}, sched, {1, 1, 1000, 1000}, one_rank(fake_step), one_rank(fake_step),
                                           bytes, fake_transfer);
  const double transfer = 5e-3 + bytes(100) / 1e9;
  ASSERT_EQ(r.total.ttft_s.size(), 1u);
  EXPECT_NEAR(r.total.ttft_s[0], 10e-3, 1e-12);                       // prefill: 2 ms of GPU, 10 ms of host
  EXPECT_NEAR(r.total.e2e_s[0], 10e-3 + transfer + 3 * 10e-3, 1e-12);  // three decode steps, each host-bound
}

TEST(Disagg, RequestsOfOneTokenNeverLeaveThePrefillPool) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  auto bytes = [&](std::int64_t tokens) { return kv_transfer_bytes(m, sc, tokens); };
  std::vector<RequestDraw> reqs = {{64, 1, 0}, {64, 3, 0}};
  DisaggEngineResult r = run_disagg_engine(reqs, {EngineLoad::Kind::Offline, 0}, vllm(), {1, 2, 1000, 1000}, one_rank(fake_step), one_rank(fake_step), bytes,
                                           fake_transfer);
  EXPECT_EQ(r.total.requests, 2);
  ASSERT_EQ(r.transfers.size(), 1u);
  EXPECT_EQ(r.transfers[0].request, 1);
}

TEST(Disagg, AKvCacheTooSmallForARequestIsOneClearError) {
  std::vector<RequestDraw> reqs = {{4096, 8, 0}};
  auto bytes = [](std::int64_t t) { return static_cast<double>(t); };
  for (DisaggInstances small : {DisaggInstances{1, 1, 4, 1000}, DisaggInstances{1, 1, 1000, 4}})
    EXPECT_THROW(run_disagg_engine(reqs, {EngineLoad::Kind::Offline, 0}, vllm(), small, one_rank(fake_step), one_rank(fake_step), bytes, fake_transfer),
                 InputError);
}

// Two transfers through one NIC at once share it: each takes longer than one alone, while two on
// different rails do not slow each other.
TEST(Disagg, KvTransfersContendOnTheFabric) {
  SystemSpec sys = load_system("hgx-h100x8", {}, 2);
  DisaggLayout pools;
  pools.kv_heads = 8;
  pools.prefill_devices = pools.decode_devices = 8;
  pools.prefill_instances = pools.decode_instances = 8;
  pools.decode_first = 8;
  KvTransfer a;
  a.bytes = 64e6;
  const double alone = kv_transfer_times(sys, pools, {a}).front();
  // One NIC: 64 MB at 50 GB/s x 0.92 is 1.39 ms; the fabric must not beat the line rate.
  EXPECT_GT(alone, 64e6 / (50e9 * 0.92));
  EXPECT_LT(alone, 1.3 * 64e6 / (50e9 * 0.92));
  KvTransfer b = a;
  b.request = 1;
  const std::vector<double> both = kv_transfer_times(sys, pools, {a, b});
  EXPECT_GT(both[0], 1.5 * alone);
  EXPECT_GT(both[1], 1.5 * alone);
  EXPECT_GT(std::max(both[0], both[1]), 1.9 * alone);
  KvTransfer c = a;  // rank 1 to rank 9: its own rail
  c.request = 1;
  c.prefill = c.decode = 1;
  const std::vector<double> apart = kv_transfer_times(sys, pools, {a, c});
  EXPECT_NEAR(apart[0], alone, 0.02 * alone);
  EXPECT_NEAR(apart[1], alone, 0.02 * alone);
  // A transfer starting when the first is half done shares the rest of it.
  KvTransfer late = b;
  late.start_s = alone / 2;
  const std::vector<double> staggered = kv_transfer_times(sys, pools, {a, late});
  EXPECT_GT(staggered[0], 1.2 * alone);
  EXPECT_LT(staggered[0], both[0]);
}

// A step on a system carries its collectives in time: a TP4 decode step's all-reduces, in order over the
// step; with the layers' repetitions past the third left out of the simulation (kLayerRepeats), the same
// calls at the same places within 2% of the step as when every layer runs.
TEST(Disagg, AStepCarriesItsCollectivesInTime) {
  const ModelConfig m = load_model(model_path("qwen3-8b"));
  auto chip = load_chip("h100-sxm");
  Scenario sc;
  sc.tp = 4;
  const SystemContext sys{load_system("hgx-h100x8", {})};
  StepShape decode;
  decode.decode_seqs = decode.logit_rows = 8;
  decode.decode_kv_sum = 8 * 1000;
  ChipStepTime folded(*chip, m, sc, false, &sys), full(*chip, m, sc, false, &sys);
  folded.set_timeline(true), full.set_timeline(true);
  full.set_layer_repeats(0);
  const StepCost a = folded.direct(decode), b = full.direct(decode);
  EXPECT_TRUE(ChipStepTime(*chip, m, sc, false, &sys).direct(decode).collectives.empty());  // only where asked
  ASSERT_GE(b.collectives.size(), static_cast<size_t>(2 * m.layers));  // attention's and the MLP's, per layer
  ASSERT_EQ(a.collectives.size(), b.collectives.size());
  for (size_t i = 0; i < a.collectives.size(); ++i) {
    EXPECT_EQ(a.collectives[i].group, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(a.collectives[i].req.bytes, b.collectives[i].req.bytes);
    EXPECT_NEAR(a.collectives[i].at, b.collectives[i].at, 0.02) << i;
    if (i > 0) {
      EXPECT_GE(a.collectives[i].at, a.collectives[i - 1].at);
    }
  }
  EXPECT_GT(a.collectives.back().at, 0.9);
}

// A decode instance's iteration running one all-reduce while a KV transfer reaches its ranks: `at` 0, the
// all-reduce's window long enough to meet the transfer.
ServerIteration one_all_reduce(double bytes, std::vector<int> group) {
  ServerIteration it;
  it.time_s = 1e-3;
  StepCollective c;
  c.req.kind = CollKind::AllReduce;
  c.req.bytes = static_cast<std::uint64_t>(bytes);
  c.group = std::move(group);
  c.time_s = 1e-3;
  it.collectives.push_back(c);
  return it;
}

// In one NVLink node, a KV transfer to a TP4 decode instance and that instance's all-reduce share its
// ranks' NVLink ports: each is slower than alone. Across nodes (the KV on the NICs, the all-reduce on
// NVLink) neither slows the other.
TEST(Disagg, KvTransfersAndTheInstancesAllReducesShareTheirLinks) {
  DisaggLayout pools;
  pools.kv_heads = 8;
  pools.prefill_tp = pools.decode_tp = 4;
  pools.prefill_devices = pools.decode_devices = 4;
  pools.prefill_instances = pools.decode_instances = 1;
  pools.decode_first = 4;
  const SystemSpec node = load_system("hgx-h100x8", {});
  KvTransfer a;
  a.bytes = 2e9;
  const double alone = kv_transfer_times(node, pools, {a}).front();
  a.end_s = alone;
  std::vector<double> extra;
  std::int64_t met = 0;
  const double beside = kv_transfer_times(node, pools, {a}, {one_all_reduce(256e6, {0, 1, 2, 3})}, &extra, &met).front();
  EXPECT_EQ(met, 1);
  ASSERT_EQ(extra.size(), 1u);
  EXPECT_GT(beside, 1.05 * alone);
  EXPECT_GT(extra[0], 0);
  // TP2 instances, two per pool: the all-reduce of the decode instance the transfer does not reach (ranks 6
  // and 7) shares no link with it and is left out of the fabric's run; the transfer's time stays.
  DisaggLayout tp2 = pools;
  tp2.prefill_tp = tp2.decode_tp = 2;
  tp2.prefill_instances = tp2.decode_instances = 2;
  KvTransfer b = a;
  b.end_s = kv_transfer_times(node, tp2, {b}).front();
  ServerIteration far = one_all_reduce(256e6, {0, 1});
  far.first = 1;
  EXPECT_DOUBLE_EQ(kv_transfer_times(node, tp2, {b}, {far}, &extra, &met).front(), b.end_s);
  EXPECT_EQ(met, 0);
  // Pools on two nodes: the transfer crosses the NICs, the decode instance's all-reduce its node's NVLink.
  const SystemSpec nodes = load_system("hgx-h100x8", {}, 2);
  DisaggLayout two = pools;
  two.decode_first = 8;
  KvTransfer c = a;
  c.end_s = kv_transfer_times(nodes, two, {c}).front();
  extra.clear();
  const double across = kv_transfer_times(nodes, two, {c}, {one_all_reduce(256e6, {0, 1, 2, 3})}, &extra, &met).front();
  EXPECT_EQ(met, 1);
  EXPECT_NEAR(across, c.end_s, 1e-3 * c.end_s);
  EXPECT_NEAR(extra[0], 0, 1e-6);
}

// A round settles on what the run reports (disagg.h): single transfers may trade places, the figures over them
// may not move; a run that alternates between two schedules does not settle.
TEST(Disagg, TheFixedPointSettlesOnTheFiguresItReports) {
  std::vector<double> ran;
  for (int k = 0; k < 200; ++k) ran.push_back(500e-6 + 1e-7 * k);
  FabricRound engine = fabric_round(ran);
  EXPECT_NEAR(engine.mean_s, 500e-6 + 1e-7 * 99.5, 1e-12);
  EXPECT_NEAR(engine.p50_s, engine.mean_s, 1e-12);
  engine.added_s = 40e-3, engine.met_s = 7.0, engine.makespan_s = 7.4;
  FabricRound previous = engine;
  // The transfers trade their times (the first takes the last's, 4% longer; as one more or one fewer all-reduce
  // met), the figures over them the same: settled.
  const std::vector<double> found(ran.rbegin(), ran.rend());
  EXPECT_GT(std::abs(found[0] - ran[0]), 0.03 * ran[0]);
  FabricRound fabric = fabric_round(found);
  fabric.added_s = 48e-3;  // 20% of itself, 0.1% of the iterations it is added to
  EXPECT_TRUE(fabric_round_settled(previous, engine, fabric));
  // A transfer's time twice what the engine ran (the other schedule of an alternation): not settled.
  std::vector<double> twice = ran;
  for (double& x : twice) x *= 2;
  FabricRound doubled = fabric_round(twice);
  doubled.added_s = fabric.added_s;
  EXPECT_FALSE(fabric_round_settled(previous, engine, doubled));
  // Each figure alone beyond 1%: the p99, the added time and the HBM time against their iterations, the makespan.
  FabricRound p99 = fabric;
  p99.p99_s = 1.02 * engine.p99_s;
  EXPECT_FALSE(fabric_round_settled(previous, engine, p99));
  FabricRound added = fabric;
  added.added_s = engine.added_s + 0.02 * engine.met_s;
  EXPECT_FALSE(fabric_round_settled(previous, engine, added));
  FabricRound hbm = fabric;  // the kernels' HBM time likewise
  hbm.hbm_s = engine.hbm_s + 0.005 * engine.met_s;
  EXPECT_TRUE(fabric_round_settled(previous, engine, hbm));
  hbm.hbm_s = engine.hbm_s + 0.02 * engine.met_s;
  EXPECT_FALSE(fabric_round_settled(previous, engine, hbm));
  previous.makespan_s = 1.02 * engine.makespan_s;
  EXPECT_FALSE(fabric_round_settled(previous, engine, fabric));
}

// A quantile at the edge of a pile (disagg.h): most transfers take one time, a thin tail meets one more all-reduce. The
// p99 of 1000 jumps 1.2% as the tail holds 11 or 8 of them (a change of 3 ranks, its rank's standard error): settled,
// each p99 inside the other's sampling band. The same tail 5% slower is not, nor the p99s without their bands.
TEST(Disagg, AQuantileSettlesWithinItsSamplingBandNotBeyond) {
  auto times = [](int tail, double scale) {
    std::vector<double> v(static_cast<size_t>(1000 - tail), 500e-6);
    for (int k = 0; k < tail; ++k) v.push_back(scale * (506e-6 + 2e-6 * k));
    return v;
  };
  FabricRound engine = fabric_round(times(11, 1.0));
  engine.met_s = 7.0, engine.makespan_s = 7.4;
  const FabricRound previous = engine;
  FabricRound fabric = fabric_round(times(8, 1.0));
  EXPECT_NEAR(engine.p99_s, 506e-6, 0.1e-6);
  EXPECT_NEAR(fabric.p99_s, 500e-6, 1e-12);
  EXPECT_GT(std::abs(engine.p99_s - fabric.p99_s), kDisaggTolerance * engine.p99_s);
  EXPECT_GT(fabric.p99_above_s, 6e-6);  // one standard error of rank (3.1 of 1000) above it reaches the tail
  EXPECT_TRUE(fabric_round_settled(previous, engine, fabric));
  FabricRound bare = fabric, bare_engine = engine;
  bare.p99_below_s = bare.p99_above_s = bare_engine.p99_below_s = bare_engine.p99_above_s = 0;
  EXPECT_FALSE(fabric_round_settled(previous, bare_engine, bare));
  const FabricRound slower = fabric_round(times(11, 1.05));
  EXPECT_FALSE(fabric_round_settled(previous, engine, slower));
}

// The next round's weight (disagg.h): the fabric's own before kDisaggRelaxFrom; half after, where the residual changed
// sign (an alternation) or settled; the secant step within [0.5, 1] where it kept its sign beyond the tolerance.
TEST(Disagg, TheRelaxationFollowsADriftAndDampsAnAlternation) {
  EXPECT_EQ(fabric_relaxation(kDisaggRelaxFrom - 1, -40e-6, 43e-6, 1.0, 400e-6), 1.0);
  EXPECT_EQ(fabric_relaxation(kDisaggRelaxFrom, -40e-6, 43e-6, 1.0, 400e-6), 0.5);          // alternation
  EXPECT_EQ(fabric_relaxation(kDisaggRelaxFrom, 2e-6, 3e-6, 0.5, 400e-6), 0.5);            // within 1% of 400 us
  // A fixed point that barely moves with its inputs: half the step halved the residual (-40 -> -20 us); the secant
  // step is the whole of it.
  EXPECT_NEAR(fabric_relaxation(kDisaggRelaxFrom + 1, -20e-6, -40e-6, 0.5, 400e-6), 1.0, 1e-12);
  EXPECT_NEAR(fabric_relaxation(kDisaggRelaxFrom + 1, -30e-6, -40e-6, 1.0, 400e-6), 1.0, 1e-12);  // clamped at 1
  EXPECT_NEAR(fabric_relaxation(kDisaggRelaxFrom + 1, -20e-6, -40e-6, 0.4, 400e-6), 0.8, 1e-12);
  EXPECT_EQ(fabric_relaxation(kDisaggRelaxFrom + 1, -50e-6, -40e-6, 1.0, 400e-6), 0.5);     // growing: damped
}

// HBM contention (disagg.h) on hand-made windows: a 1 GB transfer over 1 ms from prefill rank 0 to decode rank 0 (TP1
// pools, hbm.bandwidth 2 TB/s); a decode iteration from 0.5 to 1.5 ms, its HBM busy 80% of its time, overlaps half the
// transfer: 0.5 GB through its device's HBM, 0.25 ms of HBM time, 0.2 ms displaced. A prefill iteration over the whole
// transfer, 50% busy: 1 GB read, 0.5 ms x 0.5. Another server's iteration, an idle HBM, no transfer: nothing.
TEST(Disagg, KvTransfersDisplaceTheKernelsHbmTime) {
  DisaggLayout pools;
  pools.kv_heads = 8;
  pools.prefill_instances = pools.decode_instances = 2;
  KvTransfer t;
  t.bytes = 1e9;
  const double B = 2e12;
  ServerIteration dec;
  dec.start_s = 0.5e-3, dec.time_s = 1e-3, dec.hbm_busy = 0.8;
  ServerIteration pre = dec;
  pre.prefill = true, pre.start_s = -1e-3, pre.time_s = 3e-3, pre.hbm_busy = 0.5;
  ServerIteration other = dec;
  other.first = 1;
  ServerIteration idle = dec;
  idle.hbm_busy = 0;
  const std::vector<double> d = kv_hbm_delays(pools, {t}, {1e-3}, {dec, pre, other, idle}, B);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_NEAR(d[0], 0.5e9 / B * 0.8, 1e-12);
  EXPECT_NEAR(d[1], 1e9 / B * 0.5, 1e-12);
  EXPECT_EQ(d[2], 0);
  EXPECT_EQ(d[3], 0);
  EXPECT_EQ(kv_hbm_delays(pools, {}, {}, {dec, pre}, B), (std::vector<double>{0, 0}));
  // Twice the bytes in the same time: twice the delay; two transfers through the device add up.
  KvTransfer big = t;
  big.bytes = 2e9;
  EXPECT_NEAR(kv_hbm_delays(pools, {big}, {1e-3}, {dec}, B)[0], 2 * d[0], 1e-12);
  KvTransfer second = t;
  second.request = 1, second.start_s = 1e-3;  // 1 to 2 ms: half inside the iteration
  EXPECT_NEAR(kv_hbm_delays(pools, {t, second}, {1e-3, 1e-3}, {dec}, B)[0], 2 * d[0], 1e-12);
  // TP2 pools: each device holds half the heads, so half the bytes; the iteration waits for its slowest device.
  DisaggLayout tp2 = pools;
  tp2.prefill_tp = tp2.decode_tp = 2;
  EXPECT_NEAR(kv_hbm_delays(tp2, {t}, {1e-3}, {dec}, B)[0], d[0] / 2, 1e-12);
  // TP1 prefill to a TP2 decode instance: the prefill device reads all of it, each decode device writes half.
  DisaggLayout mixed = pools;
  mixed.decode_tp = 2;
  const std::vector<double> m = kv_hbm_delays(mixed, {t}, {1e-3}, {dec, pre}, B);
  EXPECT_NEAR(m[0], d[0] / 2, 1e-12);
  EXPECT_NEAR(m[1], d[1], 1e-12);
}

// Llama-3.1-8B, TP4 prefill and TP4 decode in one H100 node: the transfers' HBM traffic stretches the iterations
// beside them (hbm_delay_s > 0), so the run is no faster than with it left out, and the fixed point still converges;
// prompts of twice the length move twice the KV and cost more.
TEST(Disagg, KvTransfersSlowTheKernelsBesideThemThroughTheirHbm) {
  const ModelConfig m = load_model("llama-3.1-8b");
  auto chip = load_chip("h100-sxm");
  Scenario sc;
  sc.tp = 4;
  ServeOptions o;
  o.system = SystemContext{load_system("hgx-h100x8", {})};
  o.prefill_devices = o.decode_devices = 4;
  o.concurrency = {8};
  o.requests = 16;
  o.input = 1024, o.output = 32;
  const ServeResult with = serve(*chip, m, sc, o);
  ServeOptions off = o;
  off.kv_hbm_contention = false;
  const ServeResult without = serve(*chip, m, sc, off);
  const ServePoint& a = with.curve.front();
  const ServePoint& b = without.curve.front();
  ASSERT_TRUE(a.kv_transfer && b.kv_transfer);
  EXPECT_GT(a.kv_transfer->hbm_delay_s, 0);
  EXPECT_EQ(b.kv_transfer->hbm_delay_s, 0);
  EXPECT_TRUE(a.kv_transfer->converged);
  EXPECT_LE(a.throughput_tok_s, b.throughput_tok_s);
  ServeOptions longer = o;
  longer.input = 2048;
  const ServeResult twice = serve(*chip, m, sc, longer);
  EXPECT_GT(twice.curve.front().kv_transfer->hbm_delay_s, a.kv_transfer->hbm_delay_s);
}

// Each decode rank gets its heads from the prefill ranks holding them, and the bytes add up.
TEST(Disagg, KvMessagesReshardBetweenTensorParallelDegrees) {
  auto messages = [](int tp, int td, int heads) {
    DisaggLayout l;
    l.prefill_tp = tp;
    l.decode_tp = td;
    l.kv_heads = heads;
    std::map<std::pair<int, int>, double> out;
    double sum = 0;
    for (const KvMessage& m : kv_messages(l, 800.0)) out[{m.src, m.dst}] += m.bytes, sum += m.bytes;
    EXPECT_DOUBLE_EQ(sum, 800.0);
    return out;
  };
  // Same tp: rank to rank.
  auto same = messages(4, 4, 8);
  ASSERT_EQ(same.size(), 4u);
  for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ((same[{r, r}]), 200.0);
  // Prefill tp2 -> decode tp4 (8 KV heads): decode ranks 0, 1 read prefill rank 0; 2, 3 rank 1.
  auto up = messages(2, 4, 8);
  ASSERT_EQ(up.size(), 4u);
  EXPECT_DOUBLE_EQ((up[{0, 1}]), 200.0);
  EXPECT_DOUBLE_EQ((up[{1, 2}]), 200.0);
  // Prefill tp4 -> decode tp1: one decode rank gathers from all four.
  auto down = messages(4, 1, 8);
  ASSERT_EQ(down.size(), 4u);
  for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ((down[{r, 0}]), 200.0);
  // Replicated heads (2 KV heads on 8 prefill ranks, decode tp 4): each decode rank from a copy of its head.
  auto rep = messages(8, 4, 2);
  ASSERT_EQ(rep.size(), 4u);
  EXPECT_DOUBLE_EQ((rep[{0, 0}]), 200.0);
  EXPECT_DOUBLE_EQ((rep[{1, 1}]), 200.0);
  EXPECT_DOUBLE_EQ((rep[{6, 2}]), 200.0);  // head 1's copies are prefill ranks 4-7: copy 2 mod 4
  EXPECT_DOUBLE_EQ((rep[{7, 3}]), 200.0);
  // MLA: the whole latent on every rank, decode rank b from prefill rank b mod tp.
  auto mla = messages(2, 4, 0);
  EXPECT_DOUBLE_EQ((mla[{0, 2}]), 200.0);
  EXPECT_DOUBLE_EQ((mla[{1, 3}]), 200.0);
}

TEST(Disagg, KvMessagesFollowThePipelineStages) {
  // Ranks within an instance: stage x tp + tp rank; each decode stage's layers from the prefill stages that hold them.
  auto messages = [](int tp, int pp, int td, int pd, int layers) {
    DisaggLayout l;
    l.prefill_tp = tp, l.prefill_pp = pp, l.decode_tp = td, l.decode_pp = pd, l.kv_heads = 8, l.layers = layers;
    std::map<std::pair<int, int>, double> out;
    double sum = 0;
    for (const KvMessage& m : kv_messages(l, 1200.0)) out[{m.src, m.dst}] += m.bytes, sum += m.bytes;
    EXPECT_DOUBLE_EQ(sum, 1200.0);
    return out;
  };
  // Two prefill stages into one decode rank: half the layers from each.
  auto gather = messages(1, 2, 1, 1, 4);
  ASSERT_EQ(gather.size(), 2u);
  EXPECT_DOUBLE_EQ((gather[{0, 0}]), 600.0);
  EXPECT_DOUBLE_EQ((gather[{1, 0}]), 600.0);
  // One prefill stage of tp2 into two decode stages of tp2: each decode rank its heads' half of the layers.
  auto split = messages(2, 1, 2, 2, 4);
  ASSERT_EQ(split.size(), 4u);
  EXPECT_DOUBLE_EQ((split[{0, 0}]), 300.0);
  EXPECT_DOUBLE_EQ((split[{1, 1}]), 300.0);
  EXPECT_DOUBLE_EQ((split[{0, 2}]), 300.0);  // decode stage 1, tp rank 0
  EXPECT_DOUBLE_EQ((split[{1, 3}]), 300.0);
  // Uneven stages (3 layers: prefill [0, 2) [2, 3), decode one layer each): a third per decode stage.
  auto uneven = messages(1, 2, 1, 3, 3);
  ASSERT_EQ(uneven.size(), 3u);
  EXPECT_DOUBLE_EQ((uneven[{0, 0}]), 400.0);
  EXPECT_DOUBLE_EQ((uneven[{0, 1}]), 400.0);
  EXPECT_DOUBLE_EQ((uneven[{1, 2}]), 400.0);
}

TEST(Disagg, PoolsThatDoNotFitAreRefused) {
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  sc.tp = 4;
  ServeOptions o;
  o.system = SystemContext{load_system("hgx-h100x8", {}, 2)};
  auto refused = [&](const char* needle) {
    try {
      disagg_layout(m, sc, o);
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return true;
    }
    return false;
  };
  o.prefill_devices = 8;
  EXPECT_TRUE(refused("give both pools"));
  o.decode_devices = 6;
  EXPECT_TRUE(refused("multiples of 4"));
  o.decode_devices = 12;
  EXPECT_TRUE(refused("has 16"));
  o.decode_devices = 8;
  DisaggLayout l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.prefill_instances, 2);
  EXPECT_EQ(l.decode_instances, 2);
  EXPECT_EQ(l.decode_first, 8);
  o.prefill_tp = 2;  // four prefill instances of tp2
  l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.prefill_instances, 4);
  EXPECT_EQ(l.prefill_tp, 2);
  EXPECT_EQ(l.decode_tp, 4);
  o.prefill_devices = 6;  // the decode pool would start mid-block
  EXPECT_TRUE(refused("aligned"));
  o.prefill_devices = 8;
  o.prefill_tp = 3;
  EXPECT_TRUE(refused("--prefill-tp 3"));
  o.prefill_tp = 0;
  sc.pp = 2;  // one decode instance of two stages of tp4; the prefill pool takes the same layout
  l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.decode_instances, 1);
  EXPECT_EQ(l.prefill_instances, 1);
  EXPECT_EQ(l.decode_pp, 2);
  o.prefill_pp = 4;  // the prefill pool's own: 4 stages of tp1 (tp not given: 1), two instances
  l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.prefill_tp, 1);
  EXPECT_EQ(l.prefill_instances, 2);
  o.prefill_pp = 16;  // more stages than the pool has chips
  EXPECT_TRUE(refused("not a whole number of --prefill-tp 1 --prefill-pp 16 instances (expected multiples of 16)"));
  o.prefill_pp = 0;
  sc.pp = 1;
  sc.dp = 2;  // data-parallel replicas of tp4: groups of 8, two instances each
  l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.decode_instances, 2);
  EXPECT_EQ(l.decode_dp, 2);
  EXPECT_EQ(l.prefill_dp, 2);  // the prefill pool takes the decode pool's layout when given none of its own
  o.decode_devices = 4;
  EXPECT_TRUE(refused("not a whole number of --tp 4 --dp 2 instances (expected multiples of 8)"));
  o.decode_devices = 8;
  sc.ep = 8;  // expert parallelism on a dense model
  EXPECT_TRUE(refused("--tp 4 --ep 8 --dp 2: --ep 8"));
  sc.ep = 1, sc.dp = 1;
  o.prefill_dp = 2;  // the prefill pool's own layout: tp not given is 1
  l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.prefill_tp, 1);
  EXPECT_EQ(l.prefill_dp, 2);
  EXPECT_EQ(l.prefill_instances, 8);
  o.prefill_dp = 3;
  EXPECT_TRUE(refused("--prefill-tp 1 --prefill-dp 3 instances"));
  o.prefill_dp = 0;
  const double per_token = disagg_layout(m, sc, o).kv_bytes_per_token;
  o.prefix_hit = 0.5;  // prefix caching runs with pools (the prefill pool's cache); what crosses per token is unchanged
  EXPECT_NO_THROW(l = disagg_layout(m, sc, o));
  EXPECT_EQ(l.kv_bytes_per_token, per_token);
  o.prefix_hit = 0;
  // Speculative decoding runs with pools: the MTP module (one layer of the model's shape) adds one layer's KV per token
  // to what crosses the fabric; a cost-fraction drafter keeps no KV.
  const double target = kv_transfer_bytes(m, decode_scenario(sc, l), 1);
  o.spec_tokens = 2, o.spec_accept = 0.7;
  l = disagg_layout(m, sc, o);
  EXPECT_DOUBLE_EQ(l.draft_kv_bytes_per_token, target / static_cast<double>(m.layers));
  EXPECT_DOUBLE_EQ(l.kv_bytes_per_token, target + l.draft_kv_bytes_per_token);
  o.spec_draft = "0.05";
  l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.draft_kv_bytes_per_token, 0);
  EXPECT_DOUBLE_EQ(l.kv_bytes_per_token, target);
  o.spec_tokens = 0, o.spec_accept.reset(), o.spec_draft.clear();
  o.system.reset();
  EXPECT_TRUE(refused("need a system"));
}

// A pool's instance runs its layout's step: the same step time as a colocated run of that layout on
// the same system and batch (ChipStepTime on the system, collectives on the fabric), for a TP8 prefill
// pool and a wide-EP decode pool with data-parallel attention on an MLA + MoE model.
TEST(Disagg, APoolsStepIsItsLayoutsColocatedStep) {
  const ModelConfig m = load_model(model_path("deepseek-v2-lite"));
  auto chip = load_chip("h100-sxm");
  Scenario sc;
  sc.wdtype = sc.adtype = sc.kvdtype = DType::fp8;
  sc.tp = 1, sc.ep = 8, sc.dp = 8;
  ServeOptions o;
  o.system = SystemContext{load_system("hgx-h100x8", {}, 2)};
  o.prefill_devices = o.decode_devices = 8;
  o.prefill_tp = 8;
  const DisaggLayout l = disagg_layout(m, sc, o);
  EXPECT_EQ(l.prefill_instances, 1);
  EXPECT_EQ(l.decode_instances, 8);
  StepShape prefill;
  prefill.prefill_chunks = 1, prefill.prefill_tokens = prefill.prefill_kv_sum = 512, prefill.logit_rows = 1;
  StepShape decode;
  decode.decode_seqs = decode.logit_rows = 16;
  decode.decode_kv_sum = 16 * 600;
  for (auto [pool, tp, ep, dp, shape] : {std::tuple{prefill_scenario(sc, l), 8, 1, 1, prefill}, {decode_scenario(sc, l), 1, 8, 8, decode}}) {
    Scenario colocated = sc;
    colocated.tp = tp, colocated.ep = ep, colocated.dp = dp;
    ChipStepTime a(*chip, m, pool, false, &*o.system), b(*chip, m, colocated, false, &*o.system);
    const double t = b.direct(shape).time_s;
    EXPECT_GT(t, 0);
    EXPECT_DOUBLE_EQ(a.direct(shape).time_s, t) << pool.layout_str();
  }
}

}  // namespace
}  // namespace xpu
