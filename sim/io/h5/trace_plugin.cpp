// The HDF5 side of trace.h5 (sim/io/h5_plugin.h), built as libxpu_h5.so: the one file that includes
// HDF5, loaded by H5TraceWriter (sim/io/output.cpp) only when a run writes an HDF5 trace.
#include <hdf5.h>

#include <vector>

#include "sim/io/h5_plugin.h"

namespace xpu {
namespace {

int create(const char* path, std::size_t chunk_records, H5TraceIds* ids) {
  // No modification times in object headers: the same run writes a byte-identical file.
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, 0);
  ids->file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  if (ids->file < 0) return 1;
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
  hsize_t n = 0, maxdims = H5S_UNLIMITED, chunk = chunk_records;
  hid_t space = H5Screate_simple(1, &n, &maxdims);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0);
  H5Pset_chunk(dcpl, 1, &chunk);
  H5Pset_shuffle(dcpl);
  H5Pset_deflate(dcpl, 1);
  ids->dataset = H5Dcreate2(ids->file, "transactions", disk, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(disk);
  return ids->dataset < 0 ? 2 : 0;
}

int append(const H5TraceIds* ids, std::uint64_t first, const TraceRecord* records, std::uint64_t n) {
  hsize_t count = n, start = first, total = first + n;
  H5Dset_extent(ids->dataset, &total);
  hid_t file_space = H5Dget_space(ids->dataset);
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
  hid_t mem_space = H5Screate_simple(1, &count, nullptr);
  herr_t rc = H5Dwrite(ids->dataset, ids->memtype, mem_space, file_space, H5P_DEFAULT, records);
  H5Sclose(mem_space);
  H5Sclose(file_space);
  return rc < 0 ? 1 : 0;
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

void finish(const H5TraceIds* ids, const H5TraceMeta* m) {
  str_attr(ids->dataset, "kind_names", m->kind_names);
  if (m->level_names && *m->level_names) str_attr(ids->dataset, "level_names", m->level_names);
  str_attr(ids->file, "version", m->version);
  str_attr(ids->file, "chip", m->chip);
  str_attr(ids->file, "config", m->config);
  names(ids->file, "units", m->units, m->n_units);
  names(ids->file, "kernels", m->kernels, m->n_kernels);
}

void close(H5TraceIds* ids) {
  if (ids->dataset >= 0) H5Dclose(ids->dataset);
  if (ids->memtype >= 0) H5Tclose(ids->memtype);
  if (ids->file >= 0) H5Fclose(ids->file);
  *ids = H5TraceIds();
}

const H5TraceApi kApi{create, append, finish, close};

}  // namespace
}  // namespace xpu

extern "C" __attribute__((visibility("default"))) const xpu::H5TraceApi* xpu_h5_trace_api() { return &xpu::kApi; }
