// Ctrl-C and output folders: an interrupted run removes the temporary files it was writing, says so
// in one line and exits 130; the next run in a folder removes temporaries that dead processes left;
// two processes never write into one results folder at once.
#pragma once
#include <signal.h>

#include <string>
#include <system_error>

namespace xpu {

// SIGINT/SIGTERM: unlink the registered temporary files, print "xpusim: interrupted", exit 130 (SIGINT)
// or 143 (SIGTERM). Results are written to temporary names and renamed, so no partial result file stays.
void install_interrupt_handler();
// The line the handler prints instead of "no results written" once a command has written its results and goes on
// (compare drawing its report after the study's files): those files stay, so "no results written" would be false.
// At most 1 KiB (longer is cut); "" restores the default.
void set_interrupt_note(const std::string& line);

// Marks the results in `dir` as written and complete (StagedFiles::commit, once its set is in place): a signal from
// then on says so ("interrupted after writing its results to DIR"), not "no results written". A note set by
// set_interrupt_note still takes precedence. At most 1 KiB (a longer folder name is cut).
void note_results_written(const std::string& dir);

// The temporary name a result file `path` is written under until it is renamed into place: "<path>.tmp.<pid>", the
// form claim_output_dir recognizes (and removes when its process no longer runs).
std::string temporary_name(const std::string& path);

// Registers a temporary file for removal on interruption while it is being written.
class TempFile {
 public:
  explicit TempFile(const std::string& path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
  int m_slot = -1;
};

// SIGINT and SIGTERM held (blocked) while it lives, delivered when it ends: a set of renames that must happen all
// or none (StagedFiles::commit) is not cut between two of them.
class SignalsHeld {
 public:
  SignalsHeld();
  ~SignalsHeld();
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t m_old;
};

// Moves a finished temporary file to `path`; a failure names `path` (a folder in its way as such) and removes `tmp`.
// The one rename of every result file (write_file_atomic, HDF5 and Perfetto files, StagedFiles).
void rename_into(const std::string& tmp, const std::string& path);
// Throws the one message for a result file that cannot take its place at `path` (`ec` the reason; a folder of
// that name is named as such).
[[noreturn]] void cannot_place(const std::string& path, const std::error_code& ec);

// Prepares an output folder: removes "*.tmp.<pid>" files of processes that no longer run and takes
// an exclusive lock (flock on the folder) held until the process exits. InputError when
// another process holds it.
void claim_output_dir(const std::string& dir);

}  // namespace xpu
