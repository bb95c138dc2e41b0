// Command-line parsing shared by every subcommand: option abbreviation is off, so `--out 8` is never taken
// as `--output 8` and `--tp` never as a prefix of another option.
#pragma once
#include <boost/program_options.hpp>

namespace xpu {

inline int cli_style() {
  namespace cls = boost::program_options::command_line_style;
  return cls::default_style & ~cls::allow_guessing;
}

inline boost::program_options::parsed_options parse_cli(int argc, char** argv,
                                                        const boost::program_options::options_description& o,
                                                        bool allow_unregistered = false) {
  boost::program_options::command_line_parser p(argc, argv);
  p.options(o).style(cli_style());
  if (allow_unregistered) p.allow_unregistered();
  return p.run();
}

}  // namespace xpu
