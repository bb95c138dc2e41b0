// Command-line value checks shared by the subcommands.
#include "sim/base/flags.h"

#include "sim/base/error.h"
#include "sim/base/strformat.h"
#include "sim/base/units.h"

#include <algorithm>
#include <sstream>
#include <type_traits>

namespace xpu {

bool asks_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; });
}

const std::string& non_empty_flag(const std::string& flag, const std::string& value, const std::string& expected) {
  if (value.empty()) throw InputError(flag + ": expected " + expected + ", got an empty name", flag, "");
  return value;
}

InputError flag_value_error(const std::string& flag, const std::string& boost_what, bool real, int int_bits, const std::string& help) {
  const auto a = boost_what.find("('"), b = boost_what.find("')");
  const std::string v = b > a && b != std::string::npos ? boost_what.substr(a + 2, b - a - 2) : "";  // all digits: out of range
  const bool digits = v.find_first_of("0123456789") != std::string::npos && v.find_first_not_of("-+0123456789") == std::string::npos;
  // Out of range: the bound it passed (a flag's own lower bound, "0 or more" for --seed, is its own check's message).
  const bool i32 = int_bits == 32, below = !v.empty() && v[0] == '-';
  const std::string range = below ? (i32 ? "an integer of at least -2147483648" : "an integer of at least -2^63")
                                  : (i32 ? "an integer of at most 2147483647" : "an integer of at most 2^63 - 1");
  return InputError(flag + " '" + v + "': expected " + (real ? "a number" : !digits ? "an integer" : range) + help, flag, v);
}

std::string nearest_flag_hint(const std::string& option, const std::vector<std::string>& known) {
  const std::string word = option.substr(std::min(option.size(), option.find_first_not_of('-')));
  // An abbreviation (refused: abbreviation is off) names the one flag it starts: --sys is --system, not
  // --set one edit away; --conc is --concurrency, too far for the edit rule. Several: the edit rule.
  std::string only;
  int starts = 0;
  for (const auto& k : known)
    if (!word.empty() && k.size() > word.size() && k.compare(0, word.size(), word) == 0 && k != only) only = k, ++starts;
  if (starts == 1) return hint_clause(only, kDidYouMeanFlag);
  std::string best;
  size_t best_d = static_cast<size_t>(-1);
  for (const auto& k : known)
    if (!k.empty() && edit_distance(word, k) < best_d) best_d = edit_distance(word, k), best = k;
  return !best.empty() && best_d > 0 && close_enough(word, best_d) ? hint_clause(best, kDidYouMeanFlag) : "";
}

double parse_flag_time(const std::string& flag, const std::string& text) {
  double s = 0;
  try {
    s = Seconds::parse(space_unit(text)).value();  // "50ms" as well as "50 ms"
  } catch (const std::exception& e) {
    throw InputError(flag + ": '" + text + "': " + e.what(), flag, text);
  }
  if (!(s > 0) || s > 3600) throw InputError(flag + ": '" + text + "': expected a positive time of at most 1 hour", flag, text);
  return s;
}

void check_flag_choice(const std::string& flag, const std::string& value, std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) {
    if (value == c) return;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  throw InputError(flag + " '" + value + "': expected one of " + list, flag, value);
}

template <class T>
std::vector<T> parse_flag_list(const std::string& flag, const std::string& text, const std::string& what, double most) {
  std::vector<T> out;
  std::stringstream ss(text);
  for (std::string c; std::getline(ss, c, ',');) {
    T v = 0;
    size_t used = 0;
    try {
      if constexpr (std::is_integral_v<T>) v = std::stoll(c, &used);
      else v = std::stod(c, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    // A whole number where one is counted ("1.5" users), and a bound told as one ("2000000" tok/s per user had been
    // "not a positive number").
    const char* number = std::is_integral_v<T> ? "a positive whole number" : "a positive number";
    if (used != c.size() || c.empty() || !(v > 0))
      throw InputError(flag + " '" + text + "': '" + c + "' is not " + number + " of " + what + " (expected N or N,N,...)",
                       flag, text);
    if (static_cast<double>(v) > most)
      throw InputError(flag + " '" + text + "': '" + c + "': expected at most " + strformat("%g", most) + " " + what, flag, text);
    out.push_back(v);
  }
  if (out.empty()) throw InputError(flag + ": expected N or a list N,N,...", flag, text);
  return out;
}
template std::vector<std::int64_t> parse_flag_list<std::int64_t>(const std::string&, const std::string&, const std::string&, double);
template std::vector<double> parse_flag_list<double>(const std::string&, const std::string&, const std::string&, double);

}  // namespace xpu
