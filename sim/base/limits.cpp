// Resource limits (transactions, memory), their command-line flags, and bounded reading of input files.
#include "sim/base/limits.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sim/base/units.h"

namespace xpu {

namespace {
ResourceLimits initial_limits() {
  ResourceLimits l;
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0)
    l.max_memory_bytes = std::min(16.0 * (1ull << 30), 0.75 * static_cast<double>(pages) * static_cast<double>(page));
  if (const char* t = std::getenv("XPUSIM_MAX_TRANSACTIONS"))
    l.max_transactions = parse_transaction_limit("XPUSIM_MAX_TRANSACTIONS", t);
  if (const char* m = std::getenv("XPUSIM_MAX_MEMORY")) l.max_memory_bytes = parse_memory_limit("XPUSIM_MAX_MEMORY", m);
  return l;
}

std::string duration_str(double s) {
  char buf[64];
  if (s >= 2 * 3600) std::snprintf(buf, sizeof buf, "%.0f hours", s / 3600);
  else if (s >= 120) std::snprintf(buf, sizeof buf, "%.0f minutes", s / 60);
  else std::snprintf(buf, sizeof buf, "%.0f s", s);
  return buf;
}
}  // namespace

std::string count_text(double n) {
  char buf[64];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.3g billion ", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.3g million ", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f ", n);
  return buf;
}

ResourceLimits& resource_limits() {
  static ResourceLimits l = initial_limits();
  return l;
}

// `what` as an InputError's flag: a flag ("--max-memory"), not an environment variable (XPUSIM_MAX_MEMORY).
static std::string flag_named(const std::string& what) { return what.rfind("--", 0) == 0 ? what : std::string(); }

double parse_transaction_limit(const std::string& what, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  while (end && *end == ' ') ++end;
  if (text.empty() || !end || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < 1 || v > 1e15)
    throw InputError(what + ": '" + text + "': expected a transaction count from 1 to 1e15 (for example 5e8)", flag_named(what), text);
  return v;
}

double parse_memory_limit(const std::string& what, const std::string& text) {
  double v = 0;
  try {
    v = Bytes::parse(space_unit(text)).value();  // "8GiB" as well as "8 GiB"
  } catch (const std::exception& e) {
    throw InputError(what + ": '" + text + "': " + e.what(), flag_named(what), text);
  }
  if (!(v >= (1 << 20)) || v > std::pow(2.0, 50))
    throw InputError(what + ": '" + text + "': expected a size from 1 MiB to 1 PiB (for example 32GiB)", flag_named(what), text);
  return v;
}

int take_limit_flags(int argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string flag, value;
    for (const char* f : {"--max-transactions", "--max-memory"}) {
      std::string fs = f;
      if (a == fs) {
        if (i + 1 >= argc) throw InputError(fs + ": missing value", fs, "");
        flag = fs;
        value = argv[++i];
      } else if (a.rfind(fs + "=", 0) == 0) {
        flag = fs;
        value = a.substr(fs.size() + 1);
      }
    }
    if (flag == "--max-transactions") resource_limits().max_transactions = parse_transaction_limit(flag, value);
    else if (flag == "--max-memory") resource_limits().max_memory_bytes = parse_memory_limit(flag, value);
    else argv[out++] = argv[i];
  }
  argv[out] = nullptr;
  return out;
}

void check_transactions(const std::string& what, double estimate) {
  const double limit = resource_limits().max_transactions;
  if (!(estimate > limit)) return;
  // The engine simulates about 1-1.5 M transactions per second (README, simulation speed).
  throw ResourceError(what + " needs about " + count_text(estimate) + "transactions (about " +
                      duration_str(estimate / 1e6) + " of simulation); the limit is " + count_text(limit) +
                      "transactions: raise it with --max-transactions (or XPUSIM_MAX_TRANSACTIONS) if you mean it",
                      "--max-transactions");
}

void check_memory(const std::string& what, double bytes) {
  const double limit = resource_limits().max_memory_bytes;
  if (!(bytes > limit)) return;
  throw ResourceError(what + " needs about " + format_bytes(bytes) + " of memory; the limit is " + format_bytes(limit) +
                      ": raise it with --max-memory (or XPUSIM_MAX_MEMORY) if the machine has it", "--max-memory");
}

std::string read_input_file(const std::string& path, const std::string& what, std::size_t max_bytes) {
  // The errors' data: the flag that named the file (--lengths-csv) and the path, or the file.
  auto bad = [&](const std::string& msg) { return what.rfind("--", 0) == 0 ? InputError(msg, what, path) : InputError::in_file(msg, path, ""); };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw bad(path + ": " + what + ": " + (errno == ENOENT ? "file not found" : std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw bad(path + ": " + what + ": is a folder, expected a file");
  if (!S_ISREG(st.st_mode))
    throw bad(path + ": " + what + ": not a regular file (a FIFO, device or socket is not read)");
  if (static_cast<std::size_t>(st.st_size) > max_bytes)
    throw bad(path + ": " + what + ": the file is " + Bytes(static_cast<double>(st.st_size)).str() +
                     ", more than the " + Bytes(static_cast<double>(max_bytes)).str() + " an input file may have");
  // O_NONBLOCK: should the path be swapped for a FIFO after the check, open() does not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw bad(path + ": " + what + ": cannot read (" + std::strerror(errno) + ")");
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw bad(path + ": " + what + ": cannot read (" + std::strerror(e) + ")");
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_bytes) {
      ::close(fd);
      throw bad(path + ": " + what + ": more than the " + Bytes(static_cast<double>(max_bytes)).str() +
                       " an input file may have");
    }
  }
  ::close(fd);
  // Every input read here is text (YAML, JSON, CSV): a binary file is named as one, not quoted in a parser's message
  // (a lengths CSV's "header '<its bytes>'").
  if (data.find('\0') != std::string::npos) throw bad(path + ": " + what + ": not a text file (it holds NUL bytes)");
  return data;
}

}  // namespace xpu
