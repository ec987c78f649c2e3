// File: core/io/safetensors.h
//
// Reader and writer of the safetensors format: an 8-byte little-endian
// header length N, N bytes of JSON header mapping tensor names to
// {dtype, shape, data_offsets} (plus an optional "__metadata__" object of
// strings), then the raw little-endian tensor bytes.
//
// Every malformed input (truncated file, header length past the end, bad
// JSON, unknown dtype, offsets outside the data or overlapping, a byte size
// that disagrees with the shape) throws DataLoss naming the file and the
// tensor; a missing tensor throws NotFound. Nothing is trusted before it is
// checked, so hostile files never crash the process.
//
//   SafetensorsReader reader = SafetensorsReader::Open("model.safetensors");
//   at::Tensor w = reader.Load("pooler.dense.weight");   // CPU, own dtype
//
// Thread safety: a reader is immutable after Open(); Load() may run
// concurrently.
#ifndef MASKSERVE_CORE_IO_SAFETENSORS_H_
#define MASKSERVE_CORE_IO_SAFETENSORS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/io/safetensors_header.h"

namespace maskserve {

class SafetensorsReader {
 public:
  // Reads and validates the whole file.
  static SafetensorsReader Open(const std::string& path);
  // Validates an in-memory file; `source` names it in errors.
  static SafetensorsReader FromBytes(std::string bytes, std::string source);

  // Entries in header order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* Find(std::string_view name) const;
  // The metadata value of `key`; throws DataLoss naming the file and the
  // key when it is absent.
  const std::string& RequiredMetadata(const std::string& key) const;
  // RequiredMetadata() as a decimal integer >= 0 (at most 18 digits);
  // DataLoss otherwise.
  int64_t RequiredMetadataInt(const std::string& key) const;

  // A new CPU tensor (a copy) in the stored dtype. Throws NotFound.
  at::Tensor Load(std::string_view name) const;
  // Every tensor, by name.
  std::map<std::string, at::Tensor> LoadAll() const;

 private:
  SafetensorsReader() = default;
  void ParseHeader();

  std::string source_;
  std::string bytes_;
  uint64_t data_begin_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Encodes tensors (any device; F32/F16/BF16/F64/I64/I32/I16/I8/U8/BOOL) in
// name order with optional string metadata.
std::string SerializeSafetensors(const std::map<std::string, at::Tensor>& tensors,
                                 const std::map<std::string, std::string>& metadata = {});

// Writes SerializeSafetensors() to `path` atomically (temp file + rename).
void WriteSafetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a whole file; throws NotFound / DataLoss naming the path.
std::string ReadFileBytes(const std::string& path);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_IO_SAFETENSORS_H_
