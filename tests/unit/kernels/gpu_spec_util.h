// The H100 SXM preset parsed into its GpuSpec, for tests of the GPU lowerings on their own.
#pragma once
#include <string>

#include "chips/gpu/gpu_spec.h"

inline xpu::gpu::GpuSpec h100_spec() {
  xpu::ConfigTree t = xpu::ConfigTree::load_file(std::string(XPUSIM_SOURCE_DIR) + "/chips/gpu/presets/h100_sxm.yaml");
  xpu::gpu::GpuSpec s;
  xpu::Params p(xpu::Params::Mode::Load, &t);
  describe(p, s);
  return s;
}
