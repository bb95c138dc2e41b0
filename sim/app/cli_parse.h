// Command-line parsing shared by every subcommand: option abbreviation is off, so `--out 8` is never taken
// as `--output 8` and `--tp` never as a prefix of another option.
#pragma once
#include <boost/program_options.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "sim/base/error.h"
#include "sim/base/flags.h"

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
  boost::program_options::parsed_options parsed = p.run();
  // A word no option takes (`run extra`, `--set a=1 b=2`, `--concurrency 1 4`) stays a positional token that store() drops.
  for (const auto& opt : parsed.options)
    if (!allow_unregistered && opt.string_key.empty() && !opt.original_tokens.empty())
      throw InputError(std::string(argc > 0 ? argv[0] : "") + ": unexpected argument '" + opt.original_tokens.front() +
                       "' (expected --flag value pairs; a list is one value, 1,4,16; --set once per key)",
                       "", opt.original_tokens.front());
  return parsed;
}

inline std::string flag_hint(const std::string& option, const boost::program_options::options_description& o) {
  std::vector<std::string> known;
  for (const auto& d : o.options()) known.push_back(d->long_name());
  return nearest_flag_hint(option, known);
}

// A flag's value of the wrong type, named as every parser of typed flags names it (flag_value_error).
inline InputError cli_value_error(const boost::program_options::invalid_option_value& e, const boost::program_options::options_description& o, const std::string& help) {
  using boost::program_options::typed_value;
  const auto* d = o.find_nothrow(e.get_option_name().substr(e.get_option_name().find_first_not_of('-')), false);
  const auto* sem = d ? d->semantic().get() : nullptr;
  return flag_value_error(e.get_option_name(), e.what(), dynamic_cast<const typed_value<double>*>(sem), dynamic_cast<const typed_value<int>*>(sem) ? 32 : 64, help);
}

// Parses argv (argv[0]: the command) into vm; an unknown flag or a value of the wrong type is an InputError naming
// the flag, the value, what was expected and the command's help (the CLI and Python alike).
inline void store_cli(int argc, char** argv, const boost::program_options::options_description& o, boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  const std::string help = std::string(" (see xpusim ") + (argc > 0 ? argv[0] : "") + " --help)";
  try {
    po::store(parse_cli(argc, argv, o), vm);
  } catch (const po::invalid_option_value& e) {
    throw cli_value_error(e, o, help);
  } catch (const po::unknown_option& e) {
    throw InputError(e.what() + flag_hint(e.get_option_name(), o) + help, e.get_option_name(), "");
  } catch (const po::error& e) {  // its flag, where it names one (a value missing, a flag given twice)
    throw InputError(e.what() + help, dynamic_cast<const po::error_with_option_name*>(&e) ? static_cast<const po::error_with_option_name&>(e).get_option_name() : "", "");
  }
}

// A Python call's keywords as the flags of `xpusim <command>` (args without the command), parsed by its options.
inline boost::program_options::variables_map parse_flags(const char* command, std::vector<std::string> args, const boost::program_options::options_description& o) {
  args.insert(args.begin(), command);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  boost::program_options::variables_map vm;
  store_cli(static_cast<int>(argv.size()), argv.data(), o, vm);
  return vm;
}

// Parses argv into vm; with --help prints `usage`, the options, and returns true (the command then exits 0).
inline bool parse_or_help(int argc, char** argv, const boost::program_options::options_description& o,
                          boost::program_options::variables_map& vm, const std::string& usage) {
  store_cli(argc, argv, o, vm);
  if (!vm.count("help")) return false;
  std::cout << usage << o << "\n";
  return true;
}

}  // namespace xpu
