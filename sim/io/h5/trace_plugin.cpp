// The HDF5 side of trace.h5 (sim/io/h5_plugin.h), built as libxpu_h5.so: the one file that includes
// HDF5, loaded by H5TraceWriter (sim/io/output.cpp) only when a run writes an HDF5 trace.
#include <hdf5.h>

#include <vector>

#include "sim/io/h5_plugin.h"

namespace xpu {
namespace {

// No modification times in object headers: the same run writes a byte-identical file.
int create_file(const char* path, H5TraceIds* ids) {
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, 0);
  ids->file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  return ids->file < 0 ? 1 : 0;
}

// An empty 1-D dataset of `type` that grows by chunks of `chunk_rows` (shuffle and deflate 1).
hid_t extendible(hid_t file, const char* name, hid_t type, std::size_t chunk_rows) {
  hsize_t n = 0, maxdims = H5S_UNLIMITED, chunk = chunk_rows;
  hid_t space = H5Screate_simple(1, &n, &maxdims);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0);
  H5Pset_chunk(dcpl, 1, &chunk);
  H5Pset_shuffle(dcpl);
  H5Pset_deflate(dcpl, 1);
  const hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(space);
  return d;
}

int create(const char* path, std::size_t chunk_records, H5TraceIds* ids) {
  if (create_file(path, ids) != 0) return 1;
  hid_t mem = H5Tcreate(H5T_COMPOUND, sizeof(TraceRecord));
  H5Tinsert(mem, "start_ps", HOFFSET(TraceRecord, start_ps), H5T_NATIVE_INT64);
  H5Tinsert(mem, "end_ps", HOFFSET(TraceRecord, end_ps), H5T_NATIVE_INT64);
  H5Tinsert(mem, "unit", HOFFSET(TraceRecord, unit), H5T_NATIVE_UINT32);
  H5Tinsert(mem, "kernel", HOFFSET(TraceRecord, kernel), H5T_NATIVE_UINT32);
  H5Tinsert(mem, "bytes", HOFFSET(TraceRecord, bytes), H5T_NATIVE_UINT64);
  H5Tinsert(mem, "flops", HOFFSET(TraceRecord, flops), H5T_NATIVE_UINT64);
  H5Tinsert(mem, "task", HOFFSET(TraceRecord, task), H5T_NATIVE_UINT32);
  H5Tinsert(mem, "kind", HOFFSET(TraceRecord, kind), H5T_NATIVE_UINT8);
  H5Tinsert(mem, "level", HOFFSET(TraceRecord, level), H5T_NATIVE_UINT8);
  ids->memtype = mem;
  hid_t disk = H5Tcopy(mem);
  H5Tpack(disk);
  ids->dataset = extendible(ids->file, "transactions", disk, chunk_records);
  H5Tclose(disk);
  return ids->dataset < 0 ? 2 : 0;
}

// Writes `n` rows of `memtype` after the first `first` of `dataset`, its extent set to first + n (a write of none
// only sets it); 0, or 1 when it failed.
int write_rows(hid_t dataset, hid_t memtype, std::uint64_t first, const void* rows, std::uint64_t n) {
  hsize_t count = n, start = first, total = first + n;
  if (H5Dset_extent(dataset, &total) < 0) return 1;
  if (n == 0) return 0;
  hid_t file_space = H5Dget_space(dataset);
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
  hid_t mem_space = H5Screate_simple(1, &count, nullptr);
  herr_t rc = H5Dwrite(dataset, memtype, mem_space, file_space, H5P_DEFAULT, rows);
  H5Sclose(mem_space);
  H5Sclose(file_space);
  return rc < 0 ? 1 : 0;
}

int append(const H5TraceIds* ids, std::uint64_t first, const TraceRecord* records, std::uint64_t n) {
  return write_rows(ids->dataset, ids->memtype, first, records, n);
}

// Variable-length UTF-8, so that h5py returns a str and HDFView shows the text.
hid_t utf8_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

void str_attr(hid_t obj, const char* name, const char* value) {
  hid_t t = utf8_type();
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, &value);
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
}

void names(hid_t file, const char* dname, const char* const* v, std::size_t n) {
  hid_t t = utf8_type();
  hsize_t cnt = n;
  hid_t s = H5Screate_simple(1, &cnt, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0);
  hid_t d = H5Dcreate2(file, dname, t, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  if (cnt) H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(d);
  H5Sclose(s);
  H5Tclose(t);
}

void attrs(std::int64_t file, const char* version, const char* chip, const char* config) {
  str_attr(file, "version", version);
  str_attr(file, "chip", chip);
  str_attr(file, "config", config);
}

void finish(const H5TraceIds* ids, const H5TraceMeta* m) {
  str_attr(ids->dataset, "kind_names", m->kind_names);
  if (m->level_names && *m->level_names) str_attr(ids->dataset, "level_names", m->level_names);
  attrs(ids->file, m->version, m->chip, m->config);
  names(ids->file, "units", m->units, m->n_units);
  names(ids->file, "kernels", m->kernels, m->n_kernels);
}

void close(H5TraceIds* ids) {
  if (ids->dataset >= 0) H5Dclose(ids->dataset);
  if (ids->memtype >= 0) H5Tclose(ids->memtype);
  if (ids->file >= 0) H5Fclose(ids->file);
  *ids = H5TraceIds();
}

std::int64_t table(std::int64_t file, const char* name, const char* const* cols, std::size_t n_cols, std::size_t chunk_rows) {
  hid_t t = H5Tcreate(H5T_COMPOUND, n_cols * sizeof(double));
  for (std::size_t c = 0; c < n_cols; ++c) H5Tinsert(t, cols[c], c * sizeof(double), H5T_NATIVE_DOUBLE);
  const hid_t d = extendible(file, name, t, chunk_rows);
  H5Tclose(t);
  return d;
}

int table_append(std::int64_t dataset, std::uint64_t first, const double* rows, std::uint64_t n) {
  hid_t type = H5Dget_type(dataset);  // native doubles, packed: the rows' own layout
  const int rc = write_rows(dataset, type, first, rows, n);
  H5Tclose(type);
  return rc;
}

void table_close(std::int64_t dataset) {
  if (dataset >= 0) H5Dclose(dataset);
}

const H5TraceApi kApi{create, append, finish, close, create_file, table, table_append, table_close, names, attrs};

}  // namespace
}  // namespace xpu

extern "C" __attribute__((visibility("default"))) const xpu::H5TraceApi* xpu_h5_trace_api() { return &xpu::kApi; }
