// Checks of command-line values shared by the subcommands: one-line InputErrors naming the flag.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace xpu {

// A time flag such as --tpot-slo 50ms: a positive time of at most one hour.
double parse_flag_time(const std::string& flag, const std::string& text);
// --format table|json and the like: InputError listing the choices unless `value` is one of them.
void check_flag_choice(const std::string& flag, const std::string& value, std::initializer_list<const char*> choices);
// "N" or "N,N,...", each a positive number (of `what`) up to `most` (--concurrency, --tiers): InputError
// naming the flag and the bad item otherwise. T is std::int64_t or double.
template <class T>
std::vector<T> parse_flag_list(const std::string& flag, const std::string& text, const std::string& what, double most);

}  // namespace xpu
