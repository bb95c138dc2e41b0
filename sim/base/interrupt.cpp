// Interruption handling, temporary-file cleanup and output-folder locks.
#include "sim/base/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "sim/base/error.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {
// Fixed storage: the handler may only touch what is async-signal-safe (no allocation, no locks).
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
char g_paths[kSlots][kPathMax];
std::atomic<bool> g_used[kSlots];
std::mutex g_slot_mutex;
char g_note[1024];
std::atomic<size_t> g_note_size{0};
char g_written[1024];  // the line for a signal after a commit (note_results_written)
std::atomic<size_t> g_written_size{0};

// Copies `line` into a handler's fixed buffer: the size drops to 0 first, so the handler never reads a half-copied line.
void store_line(char (&buffer)[1024], std::atomic<size_t>& size, const std::string& line) {
  size.store(0);
  const size_t n = std::min(line.size(), sizeof buffer);
  std::memcpy(buffer, line.data(), n);
  size.store(n);
}

void on_signal(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i].load()) ::unlink(g_paths[i]);
  const char msg[] = "xpusim: interrupted: no results written (temporary files removed)\n";
  const size_t note = g_note_size.load(), written = g_written_size.load();
  ssize_t ignored = note ? ::write(2, g_note, note) : written ? ::write(2, g_written, written) : ::write(2, msg, sizeof msg - 1);
  (void)ignored;
  // exit_group through syscall(2), not _exit: a signal can land while a SystemC coroutine runs, on a stack
  // AddressSanitizer does not know, and ASan's hook before every [[noreturn]] call (_exit is one) then
  // prints a three-line warning after our one line. syscall() is not [[noreturn]], so no hook runs; the
  // process ends exactly as _exit would end it (no atexit handlers, no stdio flush).
  ::syscall(SYS_exit_group, 128 + sig);
}
}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void set_interrupt_note(const std::string& line) { store_line(g_note, g_note_size, line); }

void note_results_written(const std::string& dir) {
  store_line(g_written, g_written_size, "xpusim: interrupted after writing its results to " + dir + " (they are complete)\n");
}

std::string temporary_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

TempFile::TempFile(const std::string& path) : m_path(path) {
  if (path.size() >= kPathMax) return;
  std::lock_guard<std::mutex> lock(g_slot_mutex);
  for (int i = 0; i < kSlots; ++i)
    if (!g_used[i].load()) {
      std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
      g_used[i].store(true);
      m_slot = i;
      return;
    }
}

TempFile::~TempFile() {
  if (m_slot < 0) return;
  std::lock_guard<std::mutex> lock(g_slot_mutex);
  g_used[m_slot].store(false);
}

void claim_output_dir(const std::string& dir) {
  static std::set<std::string> claimed;  // the lock stays with the process (its fd is never closed)
  std::error_code ec;
  const std::string canon = fs::weakly_canonical(dir, ec).string();
  if (claimed.count(canon)) return;
  // The folder itself is locked (flock works on a directory's descriptor): no lock file to leave behind.
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw InputError(dir + ": --out: cannot open the folder (" + std::strerror(errno) + ")", "--out", dir);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw InputError(dir + ": --out: another xpusim process is writing results into this folder (wait for it, or "
                           "choose another folder)", "--out", dir);
  }
  claimed.insert(canon);
  // Temporaries "<name>.tmp.<pid>" of processes that died (killed, out of power) are removed.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    auto pos = name.rfind(".tmp.");
    if (pos == std::string::npos || pos + 5 >= name.size()) continue;
    const std::string digits = name.substr(pos + 5);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH)) fs::remove(e.path(), ec);
  }
}

SignalsHeld::SignalsHeld() {
  sigset_t held;
  sigemptyset(&held);
  sigaddset(&held, SIGINT);
  sigaddset(&held, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &held, &m_old);
}

SignalsHeld::~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &m_old, nullptr); }

void cannot_place(const std::string& path, const std::error_code& ec) {
  std::error_code own;  // its own code: the rename's reason is the message (it had read "(Success)")
  const bool folder = fs::is_directory(path, own);
  throw InputError::in_file(path + ": cannot write (" + (folder ? std::string("a folder of that name is in the way") : ec.message()) + ")", path, "");
}

void rename_into(const std::string& tmp, const std::string& path) {
  std::error_code ec, removed;
  fs::rename(tmp, path, ec);
  if (!ec) return;
  fs::remove(tmp, removed);
  cannot_place(path, ec);
}

}  // namespace xpu
