// TPU presets: every preset loads and validates, the published peaks come out exactly from the
// chosen clocks and MXU counts, and dtypes the MXU lacks are refused with a reason.
#include <gtest/gtest.h>

#include "chips/tpu/tpu_spec.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

namespace xpu {
void register_tpu_family();  // pulls the family into the test binary (see the report on weak symbols)
}

using namespace xpu;

namespace {
std::unique_ptr<ChipModel> tpu_chip(const std::string& name, const std::vector<std::string>& overlays = {}) {
  register_tpu_family();
  return load_chip(name, overlays);
}
}  // namespace

TEST(TpuPresets, PublishedPeaksComeOutExactly) {
  struct Case {
    const char* chip;
    double bf16_tflops, fp8_tflops, int8_tops, hbm_tbs;
  } cases[] = {
      {"tpu-v4", 275, 0, 275, 1.2},      {"tpu-v5e", 197, 0, 394, 0.819}, {"tpu-v5p", 459, 459, 918, 2.765},
      {"tpu-v6e", 918, 918, 1836, 1.64}, {"tpu-v7", 2307, 4614, 0, 7.38},
  };
  for (const auto& c : cases) {
    auto chip = tpu_chip(c.chip);
    EXPECT_EQ(chip->family(), "tpu");
    EXPECT_NEAR(chip->peak_flops(DType::bf16) / 1e12, c.bf16_tflops, 1e-6) << c.chip;
    EXPECT_NEAR(chip->peak_flops(DType::fp8) / 1e12, c.fp8_tflops, 1e-6) << c.chip;
    EXPECT_NEAR(chip->peak_flops(DType::int8) / 1e12, c.int8_tops, 1e-6) << c.chip;
    EXPECT_NEAR(chip->dram_bandwidth() / 1e12, c.hbm_tbs, 1e-9) << c.chip;
    EXPECT_EQ(chip->peak_flops(DType::fp16), 0) << c.chip;
    EXPECT_EQ(chip->peak_flops(DType::tf32), 0) << c.chip;
  }
  // v6e: 4 MXUs of 256x256 at 1.75 GHz, as the issue states.
  auto v6e = tpu_chip("tpu-v6e");
  EXPECT_NEAR(v6e->clock_hz() / 1e9, 1.75, 0.001);
}

TEST(TpuPresets, RefusesDtypesTheMxuLacks) {
  auto v5e = tpu_chip("tpu-v5e");
  OpSpec op = make_op("gemm", {{"m", "256"}, {"n", "256"}, {"k", "256"}, {"dtype", "fp8"}});
  try {
    v5e->lower(op, {});
    FAIL() << "fp8 on v5e must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no fp8 MXU path"), std::string::npos) << e.what();
  }
  OpSpec h = make_op("gemm", {{"m", "256"}, {"n", "256"}, {"k", "256"}, {"dtype", "fp16"}});
  EXPECT_THROW(tpu_chip("tpu-v6e")->lower(h, {}), InputError);
  OpSpec i8 = make_op("gemm", {{"m", "256"}, {"n", "256"}, {"k", "256"}, {"dtype", "int8"}});
  EXPECT_THROW(tpu_chip("tpu-v7")->lower(i8, {}), InputError);
  // fp8 on v6e runs, at the bf16 rate (the published table lists the same figure).
  OpSpec f8 = make_op("gemm", {{"m", "256"}, {"n", "256"}, {"k", "256"}, {"dtype", "fp8"}});
  EXPECT_NO_THROW(tpu_chip("tpu-v6e")->lower(f8, {}));
}

TEST(TpuPresets, UnknownKeyAndBadValueAreErrors) {
  EXPECT_THROW(tpu_chip("tpu-v5e", {"mxu.colz=128"}), ConfigError);
  EXPECT_THROW(tpu_chip("tpu-v5e", {"mxu.weight_buffers=3"}), ConfigError);
  EXPECT_NO_THROW(tpu_chip("tpu-v5e", {"mxu.weight_buffers=1"}));
}

TEST(TpuPresets, AllreduceIsRefusedAsSingleChip) {
  auto v5p = tpu_chip("tpu-v5p");
  OpSpec op = make_op("allreduce", {{"bytes", "1048576"}, {"devices", "8"}});
  EXPECT_THROW(v5p->lower(op, {}), InputError);
}
