#include "core/io/safetensors.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/base/error.h"

namespace maskserve {

namespace {

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8},    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8},  {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},     {"I8", at::kChar, 1},   {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
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
  SafetensorsHeader header = ParseSafetensorsHeader(bytes_, source_);
  data_begin_ = header.data_begin;
  entries_ = std::move(header.entries);
  metadata_ = std::move(header.metadata);
}

const SafetensorsEntry* SafetensorsReader::Find(std::string_view name) const {
  for (const SafetensorsEntry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const std::string& SafetensorsReader::RequiredMetadata(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) throw DataLoss(source_ + ": metadata key '" + key + "' is missing");
  return it->second;
}

int64_t SafetensorsReader::RequiredMetadataInt(const std::string& key) const {
  const std::string& v = RequiredMetadata(key);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    throw DataLoss(source_ + ": metadata key '" + key + "' is not a non-negative integer");
  }
  return std::stoll(v);
}

at::Tensor SafetensorsReader::Load(std::string_view name) const {
  const SafetensorsEntry* entry = Find(name);
  if (entry == nullptr) {
    throw NotFound(source_ + ": missing tensor '" + std::string(name) + "'");
  }
  at::Tensor t = at::empty(entry->shape, at::TensorOptions().dtype(FindDtype(entry->dtype)->type));
  if (entry->end > entry->begin) {
    std::memcpy(t.data_ptr(), bytes_.data() + data_begin_ + entry->begin,
                entry->end - entry->begin);
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
