// The GPU attention lowering refuses a head dim whose smallest tile overflows a block's shared memory,
// and keeps the shapes models run (MLA's 576/512 latent head included).
#include <gtest/gtest.h>

#include <string>

#include "kernels/attention/gpu.h"
#include "sim/base/error.h"
#include "sim/run/kernel_run.h"
#include "tests/unit/kernels/gpu_spec_util.h"

using namespace xpu;
using namespace xpu::gpu;

namespace {
OpSpec attention(const char* phase, std::int64_t d, std::int64_t dv, std::int64_t heads = 32, std::int64_t kv_heads = 8,
                 const char* impl = nullptr) {
  std::map<std::string, std::string> a{{"phase", phase},          {"batch", "1"},
                                       {"heads", std::to_string(heads)}, {"kv-heads", std::to_string(kv_heads)},
                                       {"seq", "2048"},           {"head-dim", std::to_string(d)},
                                       {"head-dim-v", std::to_string(dv)}};
  if (impl) a["impl"] = impl;
  return make_op("attention", a);
}
std::string refusal(const OpSpec& op, const GpuSpec& spec) {
  try {
    lower_attention(op, spec, LowerOptions{});
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(AttentionGpu, RefusesAHeadDimWhoseSmallestTileOverflowsSharedMemory) {
  const GpuSpec h100 = h100_spec();
  for (const char* phase : {"prefill", "decode"}) {
    // The TMA kernel: Q 64 x 1000 + K and V 64 x 1000, bf16 = 384,000 B > 227 KiB = 232,448 B.
    const std::string why = refusal(attention(phase, 1000, 1000), h100);
    EXPECT_NE(why.find("--head-dim 1000"), std::string::npos) << why;
    EXPECT_NE(why.find("384000 bytes"), std::string::npos) << why;
    EXPECT_NE(why.find("232448 bytes (227 KiB)"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    // FA2's 32-key tiles: 128,000 + 128,000 B, still too large.
    const std::string fa2 = refusal(attention(phase, 1000, 1000, 32, 8, "fa2"), h100);
    EXPECT_NE(fa2.find("256000 bytes"), std::string::npos) << fa2;
  }
  const std::string v = refusal(attention("prefill", 192, 2000), h100);
  EXPECT_NE(v.find("--head-dim 192 --head-dim-v 2000"), std::string::npos) << v;
}

TEST(AttentionGpu, ModelHeadDimsStillLower) {
  for (const char* preset : {"a100_sxm.yaml", "h100_sxm.yaml", "h200.yaml", "b200.yaml"}) {
    const GpuSpec spec = gpu_preset_spec(preset);
    for (const char* phase : {"prefill", "decode"}) {
      EXPECT_EQ(refusal(attention(phase, 576, 512, 128, 1), spec), "") << preset << " MLA " << phase;  // DeepSeek MLA
      EXPECT_EQ(refusal(attention(phase, 192, 128, 128, 128), spec), "") << preset << " MLA prefill heads " << phase;
      EXPECT_EQ(refusal(attention(phase, 256, 256), spec), "") << preset << " d256 " << phase;
    }
  }
}
