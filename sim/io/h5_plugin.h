// The HDF5 trace writer's entry points, built as a plugin of its own (libxpu_h5.so, sim/io/h5/) that
// the writer loads on first use: linking libhdf5 pulls some 30 libraries into every process (Debian's
// libhdf5_serial needs libcurl, and with it TLS, Kerberos and LDAP), about 20 ms of a run's start that
// only a traced run needs. A plain C table, so the plugin and the simulator share no C++ ABI.
#pragma once
#include <cstddef>
#include <cstdint>

#include "sim/base/trace.h"

namespace xpu {

// HDF5 handles of an open trace file (-1: none).
struct H5TraceIds {
  std::int64_t file = -1, dataset = -1, memtype = -1;
};

// Names and attributes written when the trace is finished.
struct H5TraceMeta {
  const char* version;
  const char* chip;
  const char* config;
  const char* const* units;
  std::size_t n_units;
  const char* const* kernels;
  std::size_t n_kernels;
  const char* kind_names;   // "0=dma_read,..." (TraceMeta::kind_names)
  const char* level_names;  // "0=global,..." or "" (none named)
};

struct H5TraceApi {
  // Creates `path` with the empty extendible dataset /transactions (chunks of `chunk` records, shuffle
  // and deflate 1, no modification times); 0, or 1 when the file cannot be created, 2 the dataset.
  int (*create)(const char* path, std::size_t chunk, H5TraceIds* ids);
  // Appends `n` records after the first `start`; 0, or non-zero when the write failed.
  int (*append)(const H5TraceIds* ids, std::uint64_t start, const TraceRecord* records, std::uint64_t n);
  // Adds the name lists (/units, /kernels) and the attributes (version, chip, config, kind_names, level_names).
  void (*finish)(const H5TraceIds* ids, const H5TraceMeta* meta);
  void (*close)(H5TraceIds* ids);  // closes what is open; the ids become -1
  // Tables of float64 columns (serve --trace's /iterations, /requests, /kv_transfers), in a file of their own:
  // create_file makes `path` with no dataset; table adds the empty extendible dataset `name` (a compound of
  // `n_cols` float64 fields named `cols`, chunks of `chunk` rows, shuffle and deflate 1) and returns its id (< 0:
  // failed); table_append writes `n` rows (row-major) after the first `start` and sets the extent to start + n
  // (so a restart from 0 shrinks it); table_close closes it; names writes a name list and attrs the file's
  // attributes (version, chip, config).
  int (*create_file)(const char* path, H5TraceIds* ids);
  std::int64_t (*table)(std::int64_t file, const char* name, const char* const* cols, std::size_t n_cols, std::size_t chunk);
  int (*table_append)(std::int64_t dataset, std::uint64_t start, const double* rows, std::uint64_t n);
  void (*table_close)(std::int64_t dataset);
  void (*names)(std::int64_t file, const char* name, const char* const* v, std::size_t n);
  void (*attrs)(std::int64_t file, const char* version, const char* chip, const char* config);
};

}  // namespace xpu

// The plugin's one exported symbol.
extern "C" const xpu::H5TraceApi* xpu_h5_trace_api();
