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
};

}  // namespace xpu

// The plugin's one exported symbol.
extern "C" const xpu::H5TraceApi* xpu_h5_trace_api();
