// The xpusim command line: list, params, kernel, run, serve, compare, validate, sweep.
#include <cstdlib>

#include "sim/app/commands.h"

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return xpu::cli_run(argc, argv);
}
