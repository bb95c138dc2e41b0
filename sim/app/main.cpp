// The xpusim command line: list, params, kernel, run, serve, compare, validate, sweep.
#include <cstdlib>

#include "sim/app/commands.h"
#include "sim/base/interrupt.h"

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  xpu::install_interrupt_handler();  // Ctrl-C: temporaries removed, one line, exit 130
  return xpu::cli_run(argc, argv);
}
