// Subcommands of the CLI (each a function of argv, returning the exit code).
#pragma once

namespace xpu {
int cli_main(int argc, char** argv);
}
