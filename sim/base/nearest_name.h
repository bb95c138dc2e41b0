// "Did you mean" for short names that users abbreviate (kernel ops: "attn" means "attention", which is more edits
// away than "gemm"). Kept out of error.h, which nearly every file includes.
#pragma once
#include <string>
#include <vector>

namespace xpu {

// The candidate that `word` abbreviates (same first letter, its letters in order: "attn" -> "attention",
// "gemm" -> "grouped_gemm" only when no candidate is closer), nearest by edit distance, then shortest; else
// nearest_of(word, candidates).
std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates);

// Whether `word` is a subsequence of `name` starting at its first letter ("attn" of "attention").
bool abbreviates(const std::string& word, const std::string& name);

}  // namespace xpu
