// The xpusim command line: list, params, kernel, run, serve, compare, validate.
#include <boost/program_options.hpp>

#include <cstdlib>
#include <iostream>

#include "sim/app/commands.h"
#include "sim/base/error.h"

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  try {
    return xpu::cli_main(argc, argv);
  } catch (const xpu::InputError& e) {
    std::cerr << "xpusim: error: " << e.what() << "\n";
    return 2;
  } catch (const boost::program_options::error& e) {
    std::cerr << "xpusim: error: " << e.what() << " (see xpusim --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "xpusim: internal error: " << e.what() << "\n";
    return 3;
  }
}
