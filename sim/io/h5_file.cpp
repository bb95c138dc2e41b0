#include "sim/io/h5_file.h"

#include <filesystem>

#include "sim/base/error.h"
#include "sim/io/output.h"

namespace fs = std::filesystem;

namespace xpu {

StreamedH5File::StreamedH5File(std::string path) : m_path(std::move(path)), m_tmp(temporary_name(m_path)) {}

StreamedH5File::~StreamedH5File() {
  if (!is_open()) return;
  close();
  std::error_code ec;
  fs::remove(m_tmp, ec);
}

void StreamedH5File::close() {
  if (m_api) m_api->close(&m_ids);
}

void StreamedH5File::open(const std::function<int(const H5TraceApi&, const char*, H5TraceIds*)>& create, const std::string& what_else) {
  close();
  if (!m_api) m_api = load_h5_api();
  // The folder is made (and claimed) only now, once the run has passed its size checks: a refused run leaves nothing
  // behind, and claiming it first keeps the claim from removing this temporary.
  make_output_dir(fs::path(m_path).parent_path().string());
  m_guard = std::make_unique<TempFile>(m_tmp);  // removed if the run is interrupted
  const int rc = create(*m_api, m_tmp.c_str(), &m_ids);
  if (rc == 1) throw InputError::in_file(m_path + ": cannot create HDF5 file", m_path, "");
  if (rc != 0) throw InputError::in_file(m_path + ": cannot create " + what_else, m_path, "");
}

void StreamedH5File::commit() {
  close();
  rename_into(m_tmp, m_path);  // a failure named as every result file's (sim/io/output.h)
  m_guard.reset();
}

}  // namespace xpu
