// Child processes and output names without a shell: no user-supplied string is ever parsed by /bin/sh.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace xpu {

// Runs argv[0] (an absolute path) with the given arguments, never through a shell, and waits for it.
// The child dies with its parent (PR_SET_PDEATHSIG), so a killed study takes its report writer with it.
// Returns the child's exit status, 128+signal if it was killed, or -1 if it could not be started.
int run_process(const std::vector<std::string>& argv);

// Runs task(i) for every i of `order` (indexes below `tasks`), each in a worker process forked for it, at
// most `jobs` at once, started in that order; returns what each task returned, by index. A worker sends
// its bytes back through a pipe and leaves with _exit (nothing of the parent's is unwound or flushed
// twice); it dies with the parent (PR_SET_PDEATHSIG), ignores SIGINT (Ctrl-C is the parent's to
// report) and writes its std::cerr a whole line at a time, so workers' lines do not interleave.
// The first task that fails (an exception, a crash, a signal, an exit without its result) ends the
// run: the other workers are killed and every worker is reaped (no zombies), then this throws, naming
// the task by name(i): InputError when the task threw one, std::runtime_error otherwise.
std::vector<std::string> run_in_workers(const std::vector<size_t>& order, size_t tasks, int jobs,
                                        const std::function<std::string(size_t)>& task,
                                        const std::function<std::string(size_t)>& name);
// The processors this process may run on (its affinity mask; at least 1): a default for --jobs.
int available_cores();

// Checks that `name` is a plain name for a folder inside an output root: letters, digits, '.', '_', '-',
// at most 128 characters, not "." or "..", no path separator. Throws InputError naming `what` otherwise.
void check_plain_name(const std::string& what, const std::string& name);

}  // namespace xpu
