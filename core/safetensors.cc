#include "core/safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/json.h"

namespace maskserve {

namespace {

// Largest header we accept; real headers are a few hundred KB at most.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2}, {"I8", at::kChar, 1}, {"U8", at::kByte, 1}, {"BOOL", at::kBool, 1},
};

const DtypeInfo* FindDtype(std::string_view name) {
  for (const DtypeInfo& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* FindDtype(at::ScalarType type) {
  for (const DtypeInfo& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

uint64_t ReadLittleEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string EscapeJson(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw NotFound(path + ": cannot open (" + std::strerror(errno) + ")");
  std::streamsize size = in.tellg();
  if (size < 0) throw DataLoss(path + ": cannot determine the file size");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) throw DataLoss(path + ": read failed");
  return bytes;
}

SafetensorsReader SafetensorsReader::Open(const std::string& path) {
  return FromBytes(ReadFileBytes(path), path);
}

SafetensorsReader SafetensorsReader::FromBytes(std::string bytes, std::string source) {
  SafetensorsReader reader;
  reader.source_ = std::move(source);
  reader.bytes_ = std::move(bytes);
  reader.ParseHeader();
  return reader;
}

void SafetensorsReader::ParseHeader() {
  const uint64_t file_size = bytes_.size();
  if (file_size < 8) {
    throw DataLoss(source_ + ": truncated: " + std::to_string(file_size) +
                   " bytes, need at least the 8-byte header length");
  }
  const uint64_t header_size = ReadLittleEndian64(bytes_.data());
  if (header_size > kMaxHeaderBytes || header_size > file_size - 8) {
    throw DataLoss(source_ + ": header length " + std::to_string(header_size) +
                   " runs past the end of the file (" + std::to_string(file_size) + " bytes)");
  }
  data_begin_ = 8 + header_size;
  const uint64_t data_size = file_size - data_begin_;
  JsonValue header =
      JsonValue::Parse(std::string_view(bytes_.data() + 8, header_size), source_ + " header");
  if (!header.is_object()) throw DataLoss(source_ + ": header is not a JSON object");

  for (const JsonValue& member : header.items()) {
    const std::string& name = member.key();
    if (name == "__metadata__") {
      if (!member.is_object()) throw DataLoss(source_ + ": __metadata__ is not an object");
      for (const JsonValue& m : member.items()) {
        if (!m.is_string()) {
          throw DataLoss(source_ + ": __metadata__ value '" + m.key() + "' is not a string");
        }
        metadata_[m.key()] = m.AsString();
      }
      continue;
    }
    const std::string where = source_ + ": tensor '" + name + "'";
    try {
      if (!member.is_object()) throw DataLoss(where + ": entry is not an object");
      SafetensorsEntry entry;
      entry.name = name;
      entry.dtype = member.GetString("dtype");
      const DtypeInfo* dtype = FindDtype(entry.dtype);
      if (dtype == nullptr) throw DataLoss(where + ": unsupported dtype '" + entry.dtype + "'");
      const JsonValue& shape = member.At("shape");
      if (!shape.is_array() || shape.size() > 16) throw DataLoss(where + ": bad shape");
      uint64_t numel = 1;
      for (const JsonValue& dim : shape.items()) {
        int64_t n = dim.AsInt64();
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
      int64_t begin = offsets[0].AsInt64(), end = offsets[1].AsInt64();
      if (begin < 0 || end < begin || uint64_t(end) > data_size) {
        throw DataLoss(where + ": data_offsets [" + std::to_string(begin) + ", " +
                       std::to_string(end) + "] outside the " + std::to_string(data_size) +
                       "-byte data section (truncated file?)");
      }
      entry.begin = uint64_t(begin);
      entry.end = uint64_t(end);
      if (entry.end - entry.begin != numel * uint64_t(dtype->size)) {
        throw DataLoss(where + ": " + std::to_string(entry.end - entry.begin) +
                       " bytes do not match its shape and dtype (" +
                       std::to_string(numel * uint64_t(dtype->size)) + " bytes expected)");
      }
      entries_.push_back(std::move(entry));
    } catch (const EngineError& e) {
      if (e.code() == ErrorCode::kDataLoss &&
          std::string_view(e.what()).rfind(where, 0) == 0) {
        throw;
      }
      throw DataLoss(where + ": " + e.what());
    }
  }

  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      throw DataLoss(source_ + ": tensors '" + by_offset[i - 1]->name + "' and '" +
                     by_offset[i]->name + "' overlap");
    }
  }
}

const SafetensorsEntry* SafetensorsReader::Find(std::string_view name) const {
  for (const SafetensorsEntry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

at::Tensor SafetensorsReader::Load(std::string_view name) const {
  const SafetensorsEntry* entry = Find(name);
  if (entry == nullptr) {
    throw NotFound(source_ + ": missing tensor '" + std::string(name) + "'");
  }
  at::Tensor t = at::empty(entry->shape, at::TensorOptions().dtype(FindDtype(entry->dtype)->type));
  if (entry->end > entry->begin) {
    std::memcpy(t.data_ptr(), bytes_.data() + data_begin_ + entry->begin, entry->end - entry->begin);
  }
  return t;
}

std::map<std::string, at::Tensor> SafetensorsReader::LoadAll() const {
  std::map<std::string, at::Tensor> out;
  for (const SafetensorsEntry& e : entries_) out[e.name] = Load(e.name);
  return out;
}

std::string SerializeSafetensors(const std::map<std::string, at::Tensor>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += (first ? "\"" : ",\"") + EscapeJson(k) + "\":\"" + EscapeJson(v) + "\"";
      first = false;
    }
    header += "}";
  }
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  bool first = metadata.empty();
  for (const auto& [name, tensor] : tensors) {
    const DtypeInfo* dtype = FindDtype(tensor.scalar_type());
    if (dtype == nullptr) {
      throw InvalidArgument("safetensors: tensor '" + name + "' has unsupported dtype " +
                            std::string(c10::toString(tensor.scalar_type())));
    }
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t size = uint64_t(cpu.numel()) * uint64_t(dtype->size);
    header += (first ? "\"" : ",\"") + EscapeJson(name) + "\":{\"dtype\":\"" + dtype->name +
              "\",\"shape\":[";
    for (int64_t i = 0; i < cpu.dim(); ++i) header += (i ? "," : "") + std::to_string(cpu.size(i));
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + size) + "]}";
    offset += size;
    first = false;
    contiguous.push_back(cpu);
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';  // align the data section
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  out += header;
  for (const at::Tensor& t : contiguous) {
    out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  }
  return out;
}

void WriteSafetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string bytes = SerializeSafetensors(tensors, metadata);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw NotFound(tmp + ": cannot create (" + std::strerror(errno) + ")");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw Internal(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Internal(path + ": rename failed (" + std::strerror(errno) + ")");
  }
}

}  // namespace maskserve
