#include "kernels/common/lowering.h"

namespace xpu {

TensorRef LowerOptions::ref(const std::string& label, const std::string& name) const {
  auto it = tensors.find(name);
  if (it != tensors.end()) return it->second;
  std::uint64_t h = 1469598103934665603ull;
  for (char c : label + "/" + name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  TensorRef r;
  r.addr = (h & 0x3fffull) << 40;
  return r;
}

void unsupported(const std::string& chip, const OpSpec& op, const std::string& why) {
  throw InputError(chip + ": cannot run " + name(op.kind) + " (" + op.shape_str() + "): " + why, "", chip);  // the chip that refuses (a --chip's or a system's)
}

void refuse_neuron_impl(const std::string& chip, const OpSpec& op) {
  if (op.impl == kTnxImpl)
    unsupported(chip, op, "--impl transformers-neuronx names AWS Neuron's attention (Trainium/Inferentia); this family lowers its own");
}

void refuse_gpu_impl(const std::string& chip, const OpSpec& op) {
  refuse_neuron_impl(chip, op);
  if (!op.impl.empty())
    unsupported(chip, op, "--impl " + op.impl + " names a GPU attention kernel (FlashAttention-2/3); this family lowers its own");
}

void refuse_functional(const std::string& chip, const OpSpec& op, const LowerOptions& opt, const std::string& family) {
  if (opt.functional)
    unsupported(chip, op, "--functional: functional mode is not modelled by this " + family + " lowering (timing only; " + name(op.kind) +
                              " checks its data on GPUs)");
}

}  // namespace xpu
