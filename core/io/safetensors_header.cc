#include "core/io/safetensors_header.h"

#include <algorithm>
#include <limits>

#include "core/base/error.h"
#include "core/base/json.h"

namespace maskserve {

namespace {

// Largest header we accept; real headers are a few hundred KB at most.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

uint64_t ReadLittleEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

SafetensorsEntry ParseEntry(const JsonValue& member, uint64_t data_size, const std::string& where) {
  if (!member.is_object()) throw DataLoss(where + ": entry is not an object");
  SafetensorsEntry entry;
  entry.name = member.key();
  entry.dtype = member.GetString("dtype");
  const int64_t element_size = SafetensorsDtypeSize(entry.dtype);
  if (element_size == 0) throw DataLoss(where + ": unsupported dtype '" + entry.dtype + "'");
  const JsonValue& shape = member.At("shape");
  if (!shape.is_array() || shape.size() > 16) throw DataLoss(where + ": bad shape");
  uint64_t numel = 1;
  for (const JsonValue& dim : shape.items()) {
    const int64_t n = dim.AsInt64();
    if (n < 0) throw DataLoss(where + ": negative dimension");
    entry.shape.push_back(n);
    if (n != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / uint64_t(n)) {
      throw DataLoss(where + ": shape is too large");
    }
    numel *= uint64_t(n);
  }
  const JsonValue& offsets = member.At("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) {
    throw DataLoss(where + ": data_offsets must be [begin, end]");
  }
  const int64_t begin = offsets[0].AsInt64(), end = offsets[1].AsInt64();
  if (begin < 0 || end < begin || uint64_t(end) > data_size) {
    throw DataLoss(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] outside the " + std::to_string(data_size) +
                   "-byte data section (truncated file?)");
  }
  entry.begin = uint64_t(begin);
  entry.end = uint64_t(end);
  if (entry.end - entry.begin != numel * uint64_t(element_size)) {
    throw DataLoss(where + ": " + std::to_string(entry.end - entry.begin) +
                   " bytes do not match its shape and dtype (" +
                   std::to_string(numel * uint64_t(element_size)) + " bytes expected)");
  }
  return entry;
}

}  // namespace

int64_t SafetensorsDtypeSize(std::string_view dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

SafetensorsHeader ParseSafetensorsHeader(std::string_view file, const std::string& source) {
  const uint64_t file_size = file.size();
  if (file_size < 8) {
    throw DataLoss(source + ": truncated: " + std::to_string(file_size) +
                   " bytes, need at least the 8-byte header length");
  }
  const uint64_t header_size = ReadLittleEndian64(file.data());
  if (header_size > kMaxHeaderBytes || header_size > file_size - 8) {
    throw DataLoss(source + ": header length " + std::to_string(header_size) +
                   " runs past the end of the file (" + std::to_string(file_size) + " bytes)");
  }
  SafetensorsHeader header;
  header.data_begin = 8 + header_size;
  const uint64_t data_size = file_size - header.data_begin;
  const JsonValue json = JsonValue::Parse(file.substr(8, header_size), source + " header");
  if (!json.is_object()) throw DataLoss(source + ": header is not a JSON object");

  for (const JsonValue& member : json.items()) {
    if (member.key() == "__metadata__") {
      if (!member.is_object()) throw DataLoss(source + ": __metadata__ is not an object");
      for (const JsonValue& m : member.items()) {
        if (!m.is_string()) {
          throw DataLoss(source + ": __metadata__ value '" + m.key() + "' is not a string");
        }
        header.metadata[m.key()] = m.AsString();
      }
      continue;
    }
    const std::string where = source + ": tensor '" + member.key() + "'";
    try {
      header.entries.push_back(ParseEntry(member, data_size, where));
    } catch (const EngineError& e) {
      // Errors from the JSON accessors (missing key, wrong type) get the
      // tensor's name in front and become DataLoss like the rest.
      if (e.code() == ErrorCode::kDataLoss && std::string_view(e.what()).rfind(where, 0) == 0) {
        throw;
      }
      throw DataLoss(where + ": " + e.what());
    }
  }

  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : header.entries) by_offset.push_back(&e);
  std::sort(
      by_offset.begin(), by_offset.end(),
      [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      throw DataLoss(source + ": tensors '" + by_offset[i - 1]->name + "' and '" +
                     by_offset[i]->name + "' overlap");
    }
  }
  return header;
}

}  // namespace maskserve
