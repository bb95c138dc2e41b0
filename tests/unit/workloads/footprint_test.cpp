// Tests for the memory footprint (weights, KV cache, activations) and the fit check's advice.
#include <gtest/gtest.h>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "workloads/footprint.h"

namespace xpu {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Scenario scenario(std::int64_t batch, std::int64_t input, std::int64_t output, DType w = DType::bf16, DType kv = DType::bf16) {
  Scenario s;
  s.phase = Phase::Decode;
  s.batch = batch;
  s.input_len = input;
  s.output_len = output;
  s.wdtype = w;
  s.kvdtype = kv;
  return s;
}

std::string fit_error(const ModelConfig& m, const Scenario& s, double capacity) {
  try {
    check_fits(footprint(m, s), capacity, m, s, "h100-sxm");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(WorkloadFootprint, KvCacheFormula) {
  ModelConfig m = load_model("llama-3.1-8b");
  Footprint f = footprint(m, scenario(4, 1000, 24));
  // batch * (input + output) * layers * 2 (K and V) * kv_heads * head_dim * 2 bytes
  EXPECT_DOUBLE_EQ(f.kv_cache_bytes, 4.0 * 1024 * 32 * 2 * 8 * 128 * 2);
  EXPECT_DOUBLE_EQ(f.kv_bytes_per_sequence, 1024.0 * 32 * 2 * 8 * 128 * 2);
  Footprint f8 = footprint(m, scenario(4, 1000, 24, DType::bf16, DType::fp8));
  EXPECT_DOUBLE_EQ(f8.kv_cache_bytes, f.kv_cache_bytes / 2);
}

TEST(WorkloadFootprint, MlaCachesTheLatent) {
  ModelConfig m = load_model("deepseek-v3");
  Footprint f = footprint(m, scenario(2, 4000, 96));
  EXPECT_DOUBLE_EQ(f.kv_cache_bytes, 2.0 * 4096 * 61 * (512 + 64) * 2);
}

TEST(WorkloadFootprint, SlidingLayersKeepOnlyTheirWindow) {
  ModelConfig m = load_model(source_dir() + "/tests/data/models/gpt-oss-20b.json");
  Footprint f = footprint(m, scenario(1, 8000, 192));
  const double per_token_layer = 2.0 * 8 * 64 * 2;
  EXPECT_DOUBLE_EQ(f.kv_cache_bytes, per_token_layer * (12 * 8192.0 + 12 * 128.0));
}

TEST(WorkloadFootprint, WeightsByDtype) {
  ModelConfig m = load_model("llama-3.1-8b");
  ParamCounts p = param_counts(m);
  Footprint bf = footprint(m, scenario(1, 128, 1));
  EXPECT_DOUBLE_EQ(bf.weight_bytes, 2.0 * p.total);
  EXPECT_DOUBLE_EQ(bf.embedding_bytes, 2.0 * (p.embedding + p.lm_head));
  // fp8 weights: layers in fp8, embedding and LM head kept in bf16.
  Footprint f8 = footprint(m, scenario(1, 128, 1, DType::fp8));
  EXPECT_DOUBLE_EQ(f8.weight_bytes, p.layers + 2.0 * (p.embedding + p.lm_head));
  // fp4 weights are NVFP4: each weight of a linear holds half a byte and its share of the e4m3 scale its block of
  // 16 carries (0.5625 bytes); the norms stay at the element size.
  Footprint f4 = footprint(m, scenario(1, 128, 1, DType::fp4));
  EXPECT_DOUBLE_EQ(f4.weight_bytes,
                   (0.5 + 1.0 / 16) * (p.layers - p.replicated) + 0.5 * p.replicated + 2.0 * (p.embedding + p.lm_head));
}

// The B200 NVFP4 rows' memory: Llama-3.1-70B's NVFP4 linears hold 68.45 B weights and 4.28 GB of block scales, which
// the KV cache of a 180 GB B200 no longer has (TensorRT-LLM sizes it from the memory the weights leave).
TEST(WorkloadFootprint, Nvfp4WeightsHoldTheirBlockScales) {
  ModelConfig m = load_model("llama-3.1-70b");
  const ParamCounts p = param_counts(m);
  Scenario s = scenario(1, 128, 1, DType::fp4, DType::fp8);
  const double linears = p.layers - p.replicated;
  const double scales = footprint(m, s).weight_bytes - (0.5 * p.layers + 2.0 * (p.embedding + p.lm_head));
  EXPECT_NEAR(scales, linears / 16, 1e-9 * linears);
  EXPECT_NEAR(scales / 1e9, 4.28, 0.05);
  // fp8 weights carry no block scales here (their per-tensor scales are scalars).
  Scenario s8 = scenario(1, 128, 1, DType::fp8, DType::fp8);
  EXPECT_DOUBLE_EQ(footprint(m, s8).weight_bytes, p.layers + 2.0 * (p.embedding + p.lm_head));
}

TEST(WorkloadFootprint, TensorParallelSplitsWeightsAndKv) {
  ModelConfig m = load_model("llama-3.1-70b");
  Scenario s = scenario(8, 4096, 128);
  Footprint one = footprint(m, s);
  s.tp = 4;
  Footprint four = footprint(m, s);
  EXPECT_NEAR(four.weight_bytes * 4 / one.weight_bytes, 1.0, 0.001);  // only norms are replicated
  EXPECT_DOUBLE_EQ(four.kv_cache_bytes * 4, one.kv_cache_bytes);
  EXPECT_EQ(four.tp, 4);
}

// Communication buffers, closed form: NCCL_BUFFSIZE per connection; a TP ring has a receive and a
// send connection per channel, an EP all-to-all a send and a receive connection per other rank and
// p2p channel, a pipeline stage one receive and one send per p2p channel.
TEST(WorkloadFootprint, CommunicationBuffersPerCommunicator) {
  CommBufferParams p;
  p.bytes_per_connection = 4.0 * 1024 * 1024;  // NCCL_BUFFSIZE 4 MiB
  p.channels = 16;
  p.p2p_channels = 2;
  const double mib = 1024.0 * 1024.0;
  Scenario s = scenario(8, 512, 1);
  EXPECT_EQ(comm_buffers(s, p).total(), 0.0);  // one device: no communicator
  s.tp = 8;
  EXPECT_DOUBLE_EQ(comm_buffers(s, p).tp_bytes, 16 * 2 * 4 * mib);  // 128 MiB
  EXPECT_EQ(comm_buffers(s, p).ep_bytes, 0.0);
  s.ep = 8;  // experts over the TP group: the MoE reduces on the TP communicator
  EXPECT_EQ(comm_buffers(s, p).ep_bytes, 0.0);
  s.tp = 1;
  s.dp = 8;  // data-parallel attention, all-to-all over 8 ranks
  const CommBuffers dpa = comm_buffers(s, p);
  EXPECT_EQ(dpa.tp_bytes, 0.0);
  EXPECT_DOUBLE_EQ(dpa.ep_bytes, 7 * 2 * 2 * 4 * mib);  // 112 MiB
  s.ep = 1;  // independent replicas exchange nothing
  EXPECT_EQ(comm_buffers(s, p).total(), 0.0);
  s.dp = 1;
  s.tp = 4;
  s.pp = 2;
  const CommBuffers pipe = comm_buffers(s, p);
  EXPECT_DOUBLE_EQ(pipe.pp_bytes, 2 * 2 * 4 * mib);
  EXPECT_DOUBLE_EQ(pipe.total(), 16 * 2 * 4 * mib + 16 * mib);
  EXPECT_EQ(comm_buffers(s, CommBufferParams{}).total(), 0.0);  // no library
  // The footprint counts them, and its total with them.
  ModelConfig m = load_model("llama-3.1-8b");
  const Footprint without = footprint(m, s), with = footprint(m, s, p);
  EXPECT_EQ(without.comm_buffer_bytes, 0.0);
  EXPECT_DOUBLE_EQ(with.comm_buffer_bytes, pipe.total());
  EXPECT_DOUBLE_EQ(with.total() - without.total(), pipe.total());
  EXPECT_NE(with.str(s).find("communication buffers"), std::string::npos);
}

TEST(WorkloadFootprint, ActivationsAreModest) {
  ModelConfig m = load_model("llama-3.1-8b");
  Scenario s = scenario(1, 4096, 1);
  s.phase = Phase::Prefill;
  Footprint f = footprint(m, s);
  // Residual + hidden (2 x 4096 x 4096) plus gate/up and SwiGLU outputs (3 x 4096 x 14336), bf16, plus fp32 logits.
  EXPECT_DOUBLE_EQ(f.activation_bytes, 2.0 * (2.0 * 4096 * 4096 + 3.0 * 4096 * 14336) + 4.0 * 128256);
}

TEST(WorkloadCheckFits, FittingScenarioPasses) {
  ModelConfig m = load_model("llama-3.1-8b");
  EXPECT_EQ(fit_error(m, scenario(8, 2048, 128), 80 * kGiB), "");
  // Llama-3.1-70B in fp8 at batch 8 with 4k context just fits one 80 GiB H100.
  ModelConfig big = load_model("llama-3.1-70b");
  EXPECT_EQ(fit_error(big, scenario(8, 4096, 1, DType::fp8, DType::fp8), 80 * kGiB), "");
  EXPECT_EQ(fit_error(big, scenario(8, 4096, 1, DType::fp8, DType::bf16), 80 * kGiB), "");
}

TEST(WorkloadCheckFits, TooBigSaysWhatIsNeededAndWhatWouldFit) {
  ModelConfig m = load_model("llama-3.1-70b");
  Scenario s = scenario(8, 4096, 128);
  std::string msg = fit_error(m, s, 80 * kGiB);
  ASSERT_FALSE(msg.empty());
  const double need = footprint(m, s).total();
  EXPECT_NE(msg.find("llama-3.1-70b"), std::string::npos) << msg;
  EXPECT_NE(msg.find("h100-sxm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs " + format_bytes(need)), std::string::npos) << msg;
  EXPECT_NE(msg.find(format_bytes(80 * kGiB) + " is available"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fp8 weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--tp 2"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("--batch"), std::string::npos) << msg;  // even one sequence does not fit in bf16
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(WorkloadCheckFits, SuggestsTheLargestBatchThatFits) {
  ModelConfig m = load_model("llama-3.1-8b");
  Scenario s = scenario(512, 8192, 256);
  std::string msg = fit_error(m, s, 80 * kGiB);
  auto pos = msg.find("--batch ");
  ASSERT_NE(pos, std::string::npos) << msg;
  std::int64_t b = std::stoll(msg.substr(pos + 8));
  Scenario fits = s, over = s;
  fits.batch = b;
  over.batch = b + 1;
  EXPECT_LE(footprint(m, fits).total(), 80 * kGiB);
  EXPECT_GT(footprint(m, over).total(), 80 * kGiB);
  // With 8-bit weights and KV cache more than twice as many sequences fit.
  auto pos8 = msg.find("; ", pos);
  ASSERT_NE(pos8, std::string::npos) << msg;
  Scenario f8 = fits;
  f8.batch = std::stoll(msg.substr(pos8 + 2));
  f8.wdtype = DType::fp8;
  f8.kvdtype = DType::fp8;
  EXPECT_GT(f8.batch, 2 * b);
  EXPECT_NE(msg.find(std::to_string(f8.batch) + " with fp8 weights and fp8 KV cache"), std::string::npos) << msg;
  EXPECT_LE(footprint(m, f8).total(), 80 * kGiB);
  f8.batch += 1;
  EXPECT_GT(footprint(m, f8).total(), 80 * kGiB);
}

TEST(WorkloadCheckFits, Fp4IsAdvisedOnlyWhereTheChipRunsIt) {
  // 70B at fp8 needs ~70 GB; fp4 weights (~35 GB) fit in 48 GiB, and so does --tp 2.
  ModelConfig m = load_model("llama-3.1-70b");
  Scenario s = scenario(1, 1024, 1, DType::fp8, DType::fp8);
  auto advice = [&](bool fp4) {
    try {
      check_fits(footprint(m, s), 48 * kGiB, m, s, "tpu-v6e", {}, fp4);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(advice(true).find("fp4 weights"), std::string::npos) << advice(true);
  const std::string without = advice(false);
  EXPECT_EQ(without.find("fp4"), std::string::npos) << without;
  EXPECT_NE(without.find("--tp 2"), std::string::npos) << without;
}

TEST(WorkloadCheckFits, TensorParallelAdviceCountsTheChipsOfTheWholeLayout) {
  // 405B bf16 at --pp 4 (~208 GB per chip) fits at --tp 4: sixteen chips with the four stages kept, which
  // the advice used to call "tensor parallelism over 4 chips" (a layout that takes 16 chips).
  ModelConfig m = load_model("llama-3.1-405b");
  Scenario s = scenario(8, 512, 1);
  s.pp = 4;
  std::string msg = fit_error(m, s, 85.52e9);
  EXPECT_NE(msg.find("--tp 4 (tensor parallelism over 4 chips, 16 in all with --pp 4, "), std::string::npos) << msg;
  s.pp = 1;
  s.dp = 8;  // replicas kept likewise
  s.batch = 64;
  msg = fit_error(load_model("llama-3.1-70b"), s, 85.52e9);
  EXPECT_NE(msg.find("--tp 2 (tensor parallelism over 2 chips, 16 in all with --dp 8, "), std::string::npos) << msg;
  // One replica of one stage: the chips are the TP group's, as before.
  msg = fit_error(load_model("llama-3.1-70b"), scenario(8, 4096, 128), 80 * kGiB);
  EXPECT_NE(msg.find("--tp 2 (tensor parallelism over 2 chips, "), std::string::npos) << msg;
  EXPECT_EQ(msg.find("in all"), std::string::npos) << msg;
}

TEST(WorkloadCheckFits, NothingFits) {
  ModelConfig m = load_model("llama-3.1-405b");
  std::string msg = fit_error(m, scenario(1, 1024, 1), 1 * kGiB);
  EXPECT_NE(msg.find("makes it fit"), std::string::npos) << msg;
}

}  // namespace
}  // namespace xpu
