// Checks of command-line values shared by the subcommands: one-line InputErrors naming the flag.
#pragma once
#include <initializer_list>
#include <string>

namespace xpu {

// A time flag such as --tpot-slo 50ms: a positive time of at most one hour.
double parse_flag_time(const std::string& flag, const std::string& text);
// --format table|json and the like: InputError listing the choices unless `value` is one of them.
void check_flag_choice(const std::string& flag, const std::string& value, std::initializer_list<const char*> choices);

}  // namespace xpu
