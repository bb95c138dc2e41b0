// `xpusim sweep`: the sweep engine is Python (xpusim.sweeps: Dask, pandas, worker pools), so the CLI
// starts `python3 -m xpusim sweep ...` from an argument vector (never a shell) with the package found
// beside this executable, and returns its exit status.
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "sim/app/commands.h"
#include "sim/base/error.h"
#include "sim/base/process.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {
// The folder holding the xpusim package: $XPUSIM_PYTHONPATH, or python/ beside the executable (the build tree).
std::string package_parent() {
  if (const char* env = std::getenv("XPUSIM_PYTHONPATH")) return env;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return "";
  exe[n] = '\0';
  fs::path dir = fs::path(exe).parent_path();
  for (const fs::path& p : {dir / "python", dir.parent_path()})
    if (fs::exists(p / "xpusim" / "__init__.py")) return p.string();
  return "";
}
}  // namespace

int cmd_sweep(int argc, char** argv) {
  std::string python = std::getenv("XPUSIM_PYTHON") ? std::getenv("XPUSIM_PYTHON") : "/usr/bin/python3";
  if (python.empty() || python[0] != '/') throw InputError("XPUSIM_PYTHON must be an absolute path, got '" + python + "'", "", python).with_key("", "XPUSIM_PYTHON");
  std::string parent = package_parent();
  if (parent.empty())
    throw InputError("sweep: the xpusim Python package was not found beside this executable; set XPUSIM_PYTHONPATH").with_key("", "XPUSIM_PYTHONPATH");
  std::string path = parent;
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += std::string(":") + old;
  setenv("PYTHONPATH", path.c_str(), 1);
  std::vector<std::string> args = {python, "-m", "xpusim", "sweep"};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  std::cout.flush();
  int rc = run_process(args);
  if (rc < 0) throw InputError("sweep: could not start " + python + " (XPUSIM_PYTHON)", "", python).with_key("", "XPUSIM_PYTHON");
  return rc;
}

}  // namespace xpu
