// A trace.h5 streamed while a run goes (H5TraceWriter's /transactions, ServeTraceFiles' tables): the one owner of its
// temporary-file lifecycle. open() makes the folder, creates the file under "<path>.tmp.<pid>" (registered for removal
// on Ctrl-C) with the caller's HDF5 call, anew on each open (a restarted run replaces the first); commit() closes it
// and renames it into place; a file never committed (an error, an interrupted run) is closed and removed.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "sim/base/interrupt.h"
#include "sim/io/h5_plugin.h"

namespace xpu {

class StreamedH5File {
 public:
  explicit StreamedH5File(std::string path);
  ~StreamedH5File();
  StreamedH5File(const StreamedH5File&) = delete;
  StreamedH5File& operator=(const StreamedH5File&) = delete;
  // Creates the temporary file (closing one open before): `create` makes it with the plugin's calls and returns their
  // code, 0 for done; 1 (the file could not be created) is an InputError naming the file, another code one saying
  // "cannot create <what_else>".
  void open(const std::function<int(const H5TraceApi&, const char* tmp, H5TraceIds*)>& create, const std::string& what_else);
  bool is_open() const { return m_ids.file >= 0; }
  const H5TraceApi& api() const { return *m_api; }
  H5TraceIds& ids() { return m_ids; }
  const std::string& path() const { return m_path; }
  // Closes the file and renames it into place.
  void commit();

 private:
  void close();
  std::string m_path, m_tmp;
  const H5TraceApi* m_api = nullptr;
  H5TraceIds m_ids;
  std::unique_ptr<TempFile> m_guard;
};

}  // namespace xpu
