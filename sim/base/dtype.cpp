#include "sim/base/dtype.h"

#include <cmath>
#include <cstring>

#include "sim/base/error.h"

namespace xpu {

const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> v = {DType::fp32, DType::tf32, DType::bf16, DType::fp16,
                                       DType::fp8,  DType::fp6,  DType::fp4,  DType::int8};
  return v;
}

const char* name(DType d) {
  switch (d) {
    case DType::fp32: return "fp32";
    case DType::tf32: return "tf32";
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::fp8: return "fp8";
    case DType::fp6: return "fp6";
    case DType::fp4: return "fp4";
    case DType::int8: return "int8";
  }
  return "?";
}

DType parse_dtype(const std::string& s) {
  std::vector<std::string> names;
  for (DType d : all_dtypes()) {
    if (s == name(d)) return d;
    names.push_back(name(d));
  }
  if (s == "float32") return DType::fp32;
  if (s == "bfloat16") return DType::bf16;
  if (s == "float16") return DType::fp16;
  if (s == "fp8e4m3" || s == "e4m3" || s == "float8_e4m3fn") return DType::fp8;
  throw InputError("unknown dtype '" + s + "'; valid dtypes: " + join(names), "", s);
}

DType parse_dtype(const std::string& s, const std::string& flag) {
  try {
    return parse_dtype(s);
  } catch (const InputError& e) {
    throw InputError(flag + ": " + e.what(), flag.rfind("--", 0) == 0 ? flag : std::string(), s);
  }
}

double bytes_per_element(DType d) {
  switch (d) {
    case DType::fp32:
    case DType::tf32: return 4;
    case DType::bf16:
    case DType::fp16: return 2;
    case DType::fp8:
    case DType::int8: return 1;
    case DType::fp6: return 0.75;
    case DType::fp4: return 0.5;
  }
  return 4;
}

namespace {
float round_mantissa(float x, int keep_bits) {
  // Round-to-nearest-even on the fp32 bit pattern, keeping `keep_bits` explicit mantissa bits.
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  int drop = 23 - keep_bits;
  std::uint32_t lsb = (u >> drop) & 1u;
  std::uint32_t bias = (1u << (drop - 1)) - 1 + lsb;
  u = (u + bias) & ~((1u << drop) - 1);
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}
float round_minifloat(float x, int mant_bits, int min_exp, float max_val) {
  if (x == 0 || !std::isfinite(x)) return x;
  float a = std::fabs(x);
  if (a >= max_val) return std::copysign(max_val, x);
  int e;
  std::frexp(a, &e);  // a = f * 2^e, f in [0.5,1)
  int exp = std::max(e - 1, min_exp);
  float step = std::ldexp(1.0f, exp - mant_bits);
  float q = std::nearbyint(a / step) * step;
  return std::copysign(std::min(q, max_val), x);
}
}  // namespace

float round_to(DType d, float x) {
  switch (d) {
    case DType::bf16: return round_mantissa(x, 7);
    case DType::fp16: return round_minifloat(x, 10, -14, 65504.f);
    case DType::tf32: return round_mantissa(x, 10);
    case DType::fp8: return round_minifloat(x, 3, -6, 448.f);
    case DType::fp6: return round_minifloat(x, 2, 0, 28.f);  // e3m2
    case DType::fp4: return round_minifloat(x, 1, 0, 6.f);   // e2m1
    case DType::int8: return std::fmax(-128.f, std::fmin(127.f, std::nearbyint(x)));
    case DType::fp32: return x;
  }
  return x;
}

}  // namespace xpu
