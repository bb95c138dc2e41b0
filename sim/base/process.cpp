// Child processes started from an argument vector (posix fork/exec), worker processes that run tasks
// and send back their results, and plain-name checks for output folders.
#include "sim/base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>
#include <streambuf>

#include "sim/base/error.h"

namespace xpu {

namespace {
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A worker's std::cerr: each complete line leaves in one write(2), so the lines of workers writing
// to one terminal or file at once do not interleave inside a line.
class LineBuf : public std::streambuf {
 public:
  void flush_rest() {
    write_all(2, m_text.data(), m_text.size());
    m_text.clear();
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    m_text.push_back(static_cast<char>(c));
    if (c == '\n') emit();
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    m_text.append(s, static_cast<size_t>(n));
    if (std::memchr(s, '\n', static_cast<size_t>(n))) emit();
    return n;
  }

 private:
  void emit() {
    const size_t end = m_text.rfind('\n') + 1;
    write_all(2, m_text.data(), end);
    m_text.erase(0, end);
  }
  std::string m_text;
};

// What a worker sends back: a status byte ('O' the result, 'I' an InputError's message and its data after NULs (flag,
// value, file, key, then each mention's flag and value), 'E' another exception's), the payload's length (8 bytes) and the payload.
[[noreturn]] void worker_main(int fd, pid_t parent, const std::function<std::string(size_t)>& task, size_t i) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  LineBuf lines;
  std::cerr.rdbuf(&lines);
  char status = 'O';
  std::string out;
  try {
    out = task(i);
  } catch (const InputError& e) {
    status = 'I', out = e.what();
    for (const std::string* d : {&e.flag(), &e.value(), &e.file(), &e.key()}) out += '\0' + *d;
    for (const auto& [flag, value] : e.mentions()) out += '\0' + flag + '\0' + value;
  } catch (const std::bad_alloc&) {  // as the CLI reports it in one process (exit 2, not an internal error)
    status = 'I', out = "out of memory: the run is larger than this machine can hold (reduce the sizes, or lower --max-memory so "
                        "that it is refused up front)";
  } catch (const std::exception& e) {
    status = 'E', out = e.what();
  } catch (...) {
    status = 'E', out = "an exception that is not a std::exception";
  }
  lines.flush_rest();
  std::cout.flush();
  std::fflush(nullptr);  // what the task printed (the parent's buffers were empty at the fork)
  const std::uint64_t n = out.size();
  char head[1 + sizeof n];
  head[0] = status;
  std::memcpy(head + 1, &n, sizeof n);
  const bool sent = write_all(fd, head, sizeof head) && write_all(fd, out.data(), out.size());
  _exit(sent ? 0 : 1);
}

int reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return status;
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  size_t task = 0;
  std::string got;
};

// Why a worker that ended with `status` and sent `got` has no result, after `name` ("" when it has one),
// and of which kind: 'I' the task's InputError, 'E' anything else.
std::string worker_failure(const Worker& x, int status, const std::string& name, char& kind) {
  kind = 'E';
  std::uint64_t n = 0;
  const bool whole = x.got.size() >= 1 + sizeof n && (std::memcpy(&n, x.got.data() + 1, sizeof n), x.got.size() - 1 - sizeof n == n);
  const std::string proc = name + ": its worker process (pid " + std::to_string(x.pid) + ") ";
  if (WIFSIGNALED(status))
    return proc + "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !whole || (x.got[0] != 'O' && x.got[0] != 'I' && x.got[0] != 'E'))
    return proc + "exited with status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + " without sending its result";
  kind = x.got[0];
  if (kind == 'O') return "";
  return name + (kind == 'I' ? ": " : " failed in its worker process: ") + x.got.substr(1 + sizeof n);  // 'I': its data after NULs
}

// The InputError of a worker's failure "NAME: MESSAGE\0FLAG\0VALUE\0FILE\0KEY[\0FLAG\0VALUE]..." (worker_main): the
// message with its data and mentions.
InputError worker_input_error(const std::string& failure) {
  std::vector<std::string> part;
  for (size_t at = 0;;) {
    const size_t nul = failure.find('\0', at);
    part.push_back(failure.substr(at, nul == std::string::npos ? std::string::npos : nul - at));
    if (nul == std::string::npos) break;
    at = nul + 1;
  }
  if (part.size() < 5 || part.size() % 2 == 0) return InputError(part[0]);
  InputError e = !part[1].empty() ? InputError(part[0], part[1], part[2]) : InputError::in_file(part[0], part[3], part[4]);
  for (size_t i = 5; i + 1 < part.size(); i += 2) e.mentioning(part[i], part[i + 1]);
  return e;
}
}  // namespace

int run_process(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') return -1;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::vector<std::string> run_in_workers(const std::vector<size_t>& order, size_t tasks, int jobs,
                                        const std::function<std::string(size_t)>& task,
                                        const std::function<std::string(size_t)>& name) {
  std::vector<std::string> out(tasks);
  std::vector<Worker> running;
  running.reserve(static_cast<size_t>(std::max(1, jobs)));  // a worker started is always tracked
  // However this returns or throws, no worker outlives it unreaped.
  struct Reaper {
    std::vector<Worker>& w;
    ~Reaper() {
      for (Worker& x : w) {
        ::kill(x.pid, SIGKILL);
        ::close(x.fd);
        reap(x.pid);
      }
    }
  } reaper{running};
  const pid_t parent = getpid();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);  // nothing buffered is written twice, by the parent and a worker
  size_t next = 0;
  std::string failure;
  char failure_kind = 'E';
  auto launch = [&](size_t i) {
    if (i >= tasks) throw std::logic_error("run_in_workers: task " + std::to_string(i) + " of " + std::to_string(tasks));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(name(i) + ": cannot create a pipe: " + std::strerror(errno));
    const pid_t pid = fork();
    if (pid < 0) {
      const int err = errno;
      ::close(fds[0]), ::close(fds[1]);
      throw std::runtime_error(name(i) + ": cannot start a worker process: " + std::strerror(err));
    }
    if (pid == 0) {
      ::close(fds[0]);
      for (const Worker& x : running) ::close(x.fd);
      worker_main(fds[1], parent, task, i);
    }
    ::close(fds[1]);
    running.push_back(Worker{pid, fds[0], i, {}});
  };
  while (!running.empty() || (failure.empty() && next < order.size())) {
    while (failure.empty() && next < order.size() && running.size() < static_cast<size_t>(std::max(1, jobs))) launch(order[next++]);
    std::vector<pollfd> fds;
    for (const Worker& x : running) fds.push_back(pollfd{x.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("run_in_workers: poll: ") + std::strerror(errno));
    }
    for (size_t k = fds.size(); k-- > 0;) {
      if (fds[k].revents == 0) continue;
      Worker& x = running[k];
      char buf[1 << 16];
      const ssize_t got = ::read(x.fd, buf, sizeof buf);
      if (got > 0) {
        x.got.append(buf, static_cast<size_t>(got));
        continue;
      }
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      Worker done = std::move(x);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      if (got < 0) ::kill(done.pid, SIGKILL);  // a pipe that cannot be read: the result is lost
      ::close(done.fd);
      const int status = reap(done.pid);
      char kind = 'E';
      const std::string why = worker_failure(done, status, name(done.task), kind);
      if (kind == 'O') {
        out[done.task] = done.got.substr(1 + sizeof(std::uint64_t));
      } else if (failure.empty()) {  // the first failure; the workers killed for it are not reported
        failure = why;
        failure_kind = kind;
        for (const Worker& o : running) ::kill(o.pid, SIGKILL);
      }
    }
  }
  if (failure_kind == 'I') throw worker_input_error(failure);
  if (!failure.empty()) throw std::runtime_error(failure);
  return out;
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

void check_plain_name(const std::string& what, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128 && name != "." && name != "..";
  for (char c : name) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!plain) ok = false;
  }
  if (!ok)
    throw InputError(what + " '" + name +
                     "': expected a plain name (letters, digits, '.', '_', '-'; at most 128 characters; not '.' or '..')", what.rfind("--", 0) == 0 ? what : std::string(), name);
}

}  // namespace xpu
