// Subcommands of the CLI (each a function of argv, returning the exit code). The app layer only parses
// arguments, calls the run/serve/validation layers and prints what sim/io renders.
#pragma once

namespace xpu {
int cli_main(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_compare(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int list_models_command();
}  // namespace xpu
