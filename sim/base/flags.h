// Checks of command-line values shared by the subcommands: one-line InputErrors naming the flag.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "sim/base/error.h"

namespace xpu {

// Whether a subcommand's own arguments ask for its help (--help or -h anywhere: `params gpu --help` had been refused
// as an unexpected argument).
bool asks_help(const std::vector<std::string>& args);

// A name flag's value (`--system`, `--chip`) given empty is refused, naming the flag and `expected` (an empty
// --system had run as no system, on the default chip); returns `value`.
const std::string& non_empty_flag(const std::string& flag, const std::string& value, const std::string& expected);

// A time flag such as --tpot-slo 50ms: a positive time of at most one hour.
double parse_flag_time(const std::string& flag, const std::string& text);
// " (did you mean --chip?)" for an unknown flag `option` (its dashes included) among a command's flags `known` (long
// names, no dashes): the one flag it abbreviates (`--sys` -> --system), else the nearest within two edits or a third
// of its length, else "" (`--chipp`, `--fromat`, `--modle` named no flag: STYLE's strict config names the nearest
// valid key).
std::string nearest_flag_hint(const std::string& option, const std::vector<std::string>& known);
// A flag's value of the wrong type as Boost words it ("the argument ('abc') for option '--x' is invalid"): an
// InputError naming the flag, the value and what it expects (`real`: a number; else an integer, or for a digit string
// the bound of its `int_bits`-bit type it passed), then `help`. Every parser of typed flags shares it.
InputError flag_value_error(const std::string& flag, const std::string& boost_what, bool real, int int_bits, const std::string& help);
// --format table|json and the like: InputError listing the choices unless `value` is one of them.
void check_flag_choice(const std::string& flag, const std::string& value, std::initializer_list<const char*> choices);
// "N" or "N,N,...", each a positive number (of `what`) up to `most` (--concurrency, --tiers): InputError
// naming the flag and the bad item otherwise. T is std::int64_t or double.
template <class T>
std::vector<T> parse_flag_list(const std::string& flag, const std::string& text, const std::string& what, double most);

}  // namespace xpu
