// File: core/io/safetensors_header.h
//
// Parsing and validation of a safetensors file's header, standard library
// only (the tensor side lives in core/io/safetensors.h). Layout: an 8-byte
// little-endian header length N, N bytes of JSON mapping tensor names to
// {dtype, shape, data_offsets} plus an optional "__metadata__" object of
// strings, then the data section.
//
// Nothing is trusted before it is checked: a truncated file, a header length
// past the end, bad JSON, an unknown dtype, a negative or overflowing shape,
// offsets outside the data section or overlapping, and a byte size that
// disagrees with shape x dtype all throw DataLoss naming the source and the
// tensor. This is the surface the fuzzers exercise.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_IO_SAFETENSORS_HEADER_H_
#define MASKSERVE_CORE_IO_SAFETENSORS_HEADER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace maskserve {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_begin = 0;                // offset of the data section in the file
  std::vector<SafetensorsEntry> entries;  // header order
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype name, or 0 when unsupported.
int64_t SafetensorsDtypeSize(std::string_view dtype);

// Validates `file` (the whole file's bytes) and returns its header.
SafetensorsHeader ParseSafetensorsHeader(std::string_view file, const std::string& source);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_IO_SAFETENSORS_HEADER_H_
