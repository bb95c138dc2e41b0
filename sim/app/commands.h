// Subcommands of the CLI (each a function of argv, returning the exit code). The app layer only parses
// arguments, calls the run/serve/validation layers and prints what sim/io renders.
#pragma once

namespace xpu {
int cli_main(int argc, char** argv);
// cli_main with errors reported as one line on stderr and an exit status (2 bad input, 3 internal).
int cli_run(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int list_models_command();
}  // namespace xpu
