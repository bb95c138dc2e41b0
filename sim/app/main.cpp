// The xpusim command line: list, params, kernel, run, serve, compare, validate.
#include <boost/program_options.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <new>

#include "sim/app/commands.h"
#include "sim/base/error.h"
#include "sim/base/interrupt.h"
#include "sim/base/limits.h"

namespace {
// Every message is one line, whatever the exception carried (SystemC reports span several).
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  xpu::install_interrupt_handler();  // Ctrl-C: temporaries removed, one line, exit 130
  try {
    argc = xpu::take_limit_flags(argc, argv);  // --max-transactions, --max-memory: any command
    return xpu::cli_main(argc, argv);
  } catch (const xpu::InputError& e) {
    std::cerr << "xpusim: error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const boost::program_options::error& e) {
    std::cerr << "xpusim: error: " << one_line(e.what()) << " (see xpusim --help)\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "xpusim: error: out of memory: the run is larger than this machine can hold "
                 "(reduce the sizes, or lower --max-memory so that it is refused up front)\n";
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "xpusim: error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "xpusim: internal error: " << one_line(e.what()) << "\n";
    return 3;
  }
}
