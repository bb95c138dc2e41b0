// Command-line value checks shared by the subcommands.
#include "sim/base/flags.h"

#include "sim/base/error.h"
#include "sim/base/units.h"

namespace xpu {

double parse_flag_time(const std::string& flag, const std::string& text) {
  double s = 0;
  try {
    s = Seconds::parse(space_unit(text)).value();  // "50ms" as well as "50 ms"
  } catch (const std::exception& e) {
    throw InputError(flag + ": '" + text + "': " + e.what());
  }
  if (!(s > 0) || s > 3600) throw InputError(flag + ": '" + text + "': expected a positive time of at most 1 hour");
  return s;
}

void check_flag_choice(const std::string& flag, const std::string& value, std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) {
    if (value == c) return;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  throw InputError(flag + " '" + value + "': expected one of " + list);
}

}  // namespace xpu
