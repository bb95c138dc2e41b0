// GPU presets parsed into their GpuSpec, for tests of the GPU lowerings on their own.
#pragma once
#include <string>

#include "chips/gpu/gpu_spec.h"

// `file`: a preset under chips/gpu/presets (h100_sxm.yaml).
inline xpu::gpu::GpuSpec gpu_preset_spec(const std::string& file) {
  xpu::ConfigTree t = xpu::ConfigTree::load_file(std::string(XPUSIM_SOURCE_DIR) + "/chips/gpu/presets/" + file);
  xpu::gpu::GpuSpec s;
  xpu::Params p(xpu::Params::Mode::Load, &t);
  describe(p, s);
  return s;
}

inline xpu::gpu::GpuSpec h100_spec() { return gpu_preset_spec("h100_sxm.yaml"); }
