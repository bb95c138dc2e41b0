// Command-line parsing shared by every subcommand: option abbreviation is off, so `--out 8` is never taken
// as `--output 8` and `--tp` never as a prefix of another option.
#pragma once
#include <boost/program_options.hpp>

#include <iostream>
#include <string>
#include <vector>

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

// A Python call's keywords as the flags of `xpusim <command>` (args without the command), parsed by its options.
inline boost::program_options::variables_map parse_flags(const char* command, std::vector<std::string> args,
                                                         const boost::program_options::options_description& o) {
  args.insert(args.begin(), command);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  boost::program_options::variables_map vm;
  boost::program_options::store(parse_cli(static_cast<int>(argv.size()), argv.data(), o), vm);
  return vm;
}

// Parses argv into vm; with --help prints `usage`, the options, and returns true (the command then exits 0).
inline bool parse_or_help(int argc, char** argv, const boost::program_options::options_description& o,
                          boost::program_options::variables_map& vm, const std::string& usage) {
  boost::program_options::store(parse_cli(argc, argv, o), vm);
  if (!vm.count("help")) return false;
  std::cout << usage << o << "\n";
  return true;
}

}  // namespace xpu
