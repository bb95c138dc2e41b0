// Model-level weight placement on Maia 200: a model whose weights fit the on-die SRAM decodes faster
// with placement on, by about its weight bytes times the difference of the HBM and SRAM read times;
// a model that does not fit (Llama-3.1-8B, 8 GB) streams from HBM either way.
#include <gtest/gtest.h>

#include "sim/run/model_run.h"

using namespace xpu;

namespace {
double tpot(const std::string& model, bool sram) {
  auto chip = load_chip("maia200", {std::string("placement.weights_in_sram=") + (sram ? "true" : "false")});
  Scenario s;
  s.phase = Phase::Decode;
  s.batch = 4;
  s.input_len = 256;
  s.wdtype = s.adtype = s.kvdtype = DType::fp8;
  ModelRunOptions o;
  o.sustained = false;
  return run_model(*chip, load_model(model), s, o).tpot_s;
}
}  // namespace

TEST(MaiaPlacement, SmallModelInSramDecodesFasterByTheBandwidthGap) {
  std::string small = std::string(XPUSIM_SOURCE_DIR) + "/tests/data/models/small-llama-100m.json";
  double off = tpot(small, false), on = tpot(small, true);
  EXPECT_LT(on, off);
  // The layers' weights (about 8 x 16.8 MB in fp8; the bf16 LM head and embedding gather too) move
  // from HBM (7 TB/s peak) to CSRAM: the saving is bounded by the streaming time of those bytes.
  double layer_bytes = 8 * (1024.0 * (1024 + 2 * 256) + 1024.0 * 1024 + 3 * 1024.0 * 4096);
  double hbm_time = layer_bytes / 7e12;
  EXPECT_GT(off - on, 0.3 * hbm_time) << "off " << off << " on " << on;
  EXPECT_LT(off - on, 3.0 * hbm_time + 20e-6);
}

TEST(MaiaPlacement, EightBillionParametersDoNotFitAndStream) {
  EXPECT_DOUBLE_EQ(tpot("llama-3.1-8b", true), tpot("llama-3.1-8b", false));
}
