// Number formats that tensor and vector units consume, with their storage sizes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xpu {

enum class DType : std::uint8_t { fp32, tf32, bf16, fp16, fp8, fp6, fp4, int8 };

const std::vector<DType>& all_dtypes();
const char* name(DType d);
DType parse_dtype(const std::string& s);          // throws InputError listing the valid names
DType parse_dtype(const std::string& s, const std::string& flag);  // the same, the error naming the flag ("--dtype")
double bytes_per_element(DType d);                // fp4 = 0.5, fp6 = 0.75; tf32 is stored as fp32
// Rounds a value to the precision of `d` (functional mode): bf16/fp16 round-to-nearest-even,
// fp8 e4m3 with saturation, fp4 e2m1; fp32/tf32 inputs are kept (tf32 truncation applied by MMA).
float round_to(DType d, float x);

}  // namespace xpu
