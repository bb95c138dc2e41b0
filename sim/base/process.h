// Child processes and output names without a shell: no user-supplied string is ever parsed by /bin/sh.
#pragma once
#include <string>
#include <vector>

namespace xpu {

// Runs argv[0] (an absolute path) with the given arguments, never through a shell, and waits for it.
// The child dies with its parent (PR_SET_PDEATHSIG), so a killed study takes its report writer with it.
// Returns the child's exit status, 128+signal if it was killed, or -1 if it could not be started.
int run_process(const std::vector<std::string>& argv);

// Checks that `name` is a plain name for a folder inside an output root: letters, digits, '.', '_', '-',
// at most 128 characters, not "." or "..", no path separator. Throws InputError naming `what` otherwise.
void check_plain_name(const std::string& what, const std::string& name);

}  // namespace xpu
