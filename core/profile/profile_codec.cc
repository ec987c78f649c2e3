#include "core/profile/profile_codec.h"

#include <cmath>
#include <cstring>

#include "core/base/bit_packing.h"
#include "core/base/crc32.h"
#include "core/base/error.h"
#include "core/base/fp16.h"

namespace maskserve {

namespace {

constexpr char kMagic[4] = {'M', 'S', 'K', 'P'};
constexpr uint16_t kTrailerTag = 0xffff;

// Sanity bounds that keep size arithmetic far from overflow.
constexpr uint32_t kMaxLayers = 1024;
constexpr uint32_t kMaxHidden = 65536;
constexpr uint32_t kMaxAdapters = 1u << 20;
constexpr size_t kMaxLabels = 1u << 20;
constexpr size_t kMaxLabelBytes = 4096;

enum Tag : uint16_t {
  kTagMethod = 1,
  kTagBackboneFingerprint = 2,
  kTagBankFingerprint = 3,
  kTagShape = 4,
  kTagLabels = 5,
  kTagMaskBits = 6,
  kTagMaskWeights = 7,
  kTagNormParams = 8,
  kTagAdapterParams = 9,
  kTagHeadWeight = 10,
  kTagHeadBias = 11,
  kTagMetrics = 12,
  kTagHeadWeightInt8 = 13,
  kTagHeadWeightScale = 14,
  kTagSharedHead = 15,
  kTagSharedHeadFingerprint = 16,
  kTagTrainMetrics = 17,
};

// --- little-endian writer -------------------------------------------------

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(char(v)); }
  void U16(uint16_t v) {
    for (int i = 0; i < 2; ++i) out_.push_back(char((v >> (8 * i)) & 0xff));
  }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(char((v >> (8 * i)) & 0xff));
  }
  void F32(float f) {
    uint32_t v;
    std::memcpy(&v, &f, 4);
    U32(v);
  }
  void Bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }

  // Starts a record; returns the offset of its length field.
  size_t Begin(uint16_t tag) {
    U16(tag);
    const size_t at = out_.size();
    U32(0);
    return at;
  }
  void End(size_t length_at) {
    const uint32_t length = uint32_t(out_.size() - length_at - 4);
    for (int i = 0; i < 4; ++i) out_[length_at + i] = char((length >> (8 * i)) & 0xff);
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

// --- bounds-checked reader ------------------------------------------------

class Reader {
 public:
  Reader(std::string_view data, const char* what) : data_(data), what_(what) {}
  bool done() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }

  void Need(size_t n) const {
    if (remaining() < n) {
      throw DataLoss(std::string("profile: truncated ") + what_ + " (needs " + std::to_string(n) +
                     " more bytes, " + std::to_string(remaining()) + " left)");
    }
  }
  uint8_t U8() {
    Need(1);
    return uint8_t(data_[pos_++]);
  }
  uint16_t U16() {
    Need(2);
    uint16_t v = uint16_t(uint8_t(data_[pos_]) | (uint8_t(data_[pos_ + 1]) << 8));
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    Need(4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | uint8_t(data_[pos_ + i]);
    pos_ += 4;
    return v;
  }
  float F32() {
    uint32_t v = U32();
    float f;
    std::memcpy(&f, &v, 4);
    return f;
  }
  std::string_view Take(size_t n) {
    Need(n);
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  std::string_view data_;
  const char* what_;
  size_t pos_ = 0;
};

template <typename T>
void WriteArray(Writer& w, uint16_t tag, const std::vector<T>& values) {
  if (values.empty()) return;
  size_t at = w.Begin(tag);
  for (T v : values) {
    if constexpr (sizeof(T) == 1)
      w.U8(uint8_t(v));
    else
      w.U16(v);
  }
  w.End(at);
}

template <typename T>
std::vector<T> ReadArray(std::string_view value, const char* field) {
  if (value.size() % sizeof(T) != 0) {
    throw DataLoss(std::string("profile: ") + field + ": length " + std::to_string(value.size()) +
                   " is not a multiple of " + std::to_string(sizeof(T)));
  }
  std::vector<T> out(value.size() / sizeof(T));
  Reader r(value, field);
  for (T& v : out) {
    if constexpr (sizeof(T) == 1)
      v = T(r.U8());
    else
      v = r.U16();
  }
  return out;
}

void ExpectSize(const char* field, size_t got, uint64_t expected) {
  if (got != expected) {
    throw DataLoss(std::string("profile: ") + field + " has " + std::to_string(got) +
                   " elements, expected " + std::to_string(expected));
  }
}

void ExpectEmpty(const char* field, size_t got, Method method) {
  if (got != 0) {
    throw DataLoss(std::string("profile: ") + field + " must be empty for " + MethodName(method));
  }
}

bool IsHexFingerprint(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A reference to a shared head and no head of its own.
void ValidateSharedHeadReference(const ProfileData& p) {
  if (!IsValidSharedHeadName(p.shared_head)) {
    throw DataLoss("profile: shared_head must be 1-64 of [A-Za-z0-9_.-]");
  }
  if (!IsHexFingerprint(p.shared_head_fingerprint)) {
    throw DataLoss("profile: shared_head_fingerprint must be 64 lowercase hex digits");
  }
  if (p.method == Method::kHeadOnly) {
    throw DataLoss("profile: a HEAD_ONLY profile cannot use a shared head");
  }
  if (!p.head_weight.empty() || !p.head_weight_int8.empty() || !p.head_weight_scale.empty() ||
      !p.head_bias.empty()) {
    throw DataLoss("profile: a profile with a shared head stores no head weights");
  }
}

// Exactly one head weight form (fp16, or int8 with finite per-row scales)
// and an fp16 bias, or a shared head reference.
void ValidateHead(const ProfileData& p, uint64_t C, uint64_t d) {
  if (p.has_shared_head() || !p.shared_head_fingerprint.empty()) {
    ValidateSharedHeadReference(p);
    return;
  }
  const bool fp16 = !p.head_weight.empty();
  const bool int8 = !p.head_weight_int8.empty() || !p.head_weight_scale.empty();
  if (fp16 && int8) {
    throw DataLoss(
        "profile: head_weight (fp16) and head_weight_int8/head_weight_scale are both set; "
        "expected one form");
  }
  if (!fp16 && !int8) {
    throw DataLoss("profile: head_weight missing (neither fp16 head_weight nor head_weight_int8)");
  }
  if (fp16) {
    ExpectSize("head_weight", p.head_weight.size(), C * d);
  } else {
    ExpectSize("head_weight_int8", p.head_weight_int8.size(), C * d);
    ExpectSize("head_weight_scale", p.head_weight_scale.size(), C);
    for (size_t row = 0; row < p.head_weight_scale.size(); ++row) {
      const float scale = HalfToFloat(p.head_weight_scale[row]);
      if (!std::isfinite(scale) || scale < 0) {
        throw DataLoss("profile: head_weight_scale[" + std::to_string(row) +
                       "] must be finite and non-negative");
      }
    }
  }
  ExpectSize("head_bias", p.head_bias.size(), C);
}

}  // namespace

void ValidateProfileData(const ProfileData& p) {
  const ProfileShape& s = p.shape;
  if (p.method == Method::kUnspecified || uint8_t(p.method) > uint8_t(Method::kAdapter)) {
    throw DataLoss("profile: unknown method " + std::to_string(int(p.method)));
  }
  if (s.num_layers == 0 || s.num_layers > kMaxLayers || s.hidden_size == 0 ||
      s.hidden_size > kMaxHidden || s.bottleneck > s.hidden_size || s.num_adapters > kMaxAdapters) {
    throw DataLoss("profile: shape out of range (L=" + std::to_string(s.num_layers) +
                   ", d=" + std::to_string(s.hidden_size) + ", b=" + std::to_string(s.bottleneck) +
                   ", N=" + std::to_string(s.num_adapters) + ")");
  }
  if (!IsHexFingerprint(p.backbone_fingerprint)) {
    throw DataLoss("profile: backbone_fingerprint must be 64 lowercase hex digits");
  }
  const bool uses_bank = IsXpeft(p.method) || IsPropetl(p.method);
  if (uses_bank ? !IsHexFingerprint(p.bank_fingerprint) : !p.bank_fingerprint.empty()) {
    throw DataLoss(std::string("profile: bank_fingerprint must be ") +
                   (uses_bank ? "64 lowercase hex digits" : "empty") + " for " +
                   MethodName(p.method));
  }
  if (p.labels.empty() || p.labels.size() > kMaxLabels) {
    throw DataLoss("profile: labels: expected 1.." + std::to_string(kMaxLabels) + " labels, got " +
                   std::to_string(p.labels.size()));
  }
  for (size_t i = 0; i < p.labels.size(); ++i) {
    if (p.labels[i].empty() || p.labels[i].size() > kMaxLabelBytes) {
      throw DataLoss("profile: labels[" + std::to_string(i) + "]: must be 1.." +
                     std::to_string(kMaxLabelBytes) + " bytes");
    }
  }
  const uint64_t L = s.num_layers, d = s.hidden_size, b = s.bottleneck, N = s.num_adapters;
  const uint64_t C = p.labels.size();
  ValidateHead(p, C, d);

  if (uses_bank || p.method == Method::kAdapter) {
    if (b == 0) throw DataLoss("profile: bottleneck must be positive");
  }
  if (IsXpeft(p.method)) {
    if (N == 0) throw DataLoss("profile: num_adapters must be positive");
    if (!p.norm_params.empty()) ExpectSize("norm_params", p.norm_params.size(), 2 * L * b);
    ExpectEmpty("adapter_params", p.adapter_params.size(), p.method);
  } else {
    ExpectEmpty("norm_params", p.norm_params.size(), p.method);
  }
  switch (p.method) {
    case Method::kXpeftHard: {
      if (s.top_k == 0 || s.top_k > N) {
        throw DataLoss("profile: top_k must be in 1..N, got " + std::to_string(s.top_k));
      }
      const size_t row_bytes = PackedBytes(N);
      ExpectSize("mask_bits", p.mask_bits.size(), 2 * L * row_bytes);
      ExpectEmpty("mask_weights", p.mask_weights.size(), p.method);
      for (uint64_t row = 0; row < 2 * L; ++row) {
        std::vector<uint8_t> bytes(p.mask_bits.begin() + row * row_bytes,
                                   p.mask_bits.begin() + (row + 1) * row_bytes);
        if (N % 8 != 0 && (bytes.back() >> (N % 8)) != 0) {
          throw DataLoss("profile: mask_bits row " + std::to_string(row) + " has padding bits set");
        }
        if (CountSetBits(bytes) != s.top_k) {
          throw DataLoss("profile: mask_bits row " + std::to_string(row) + " has " +
                         std::to_string(CountSetBits(bytes)) + " adapters selected, expected " +
                         std::to_string(s.top_k));
        }
      }
      break;
    }
    case Method::kXpeftSoft:
      ExpectSize("mask_weights", p.mask_weights.size(), 2 * L * N);
      ExpectEmpty("mask_bits", p.mask_bits.size(), p.method);
      break;
    case Method::kPropetlLayer:
    case Method::kPropetlHybrid: {
      if (!(s.keep_fraction > 0.0f && s.keep_fraction <= 1.0f)) {
        throw DataLoss("profile: keep_fraction must be in (0, 1]");
      }
      const uint64_t rows = p.method == Method::kPropetlLayer ? 2 * L : 2;
      ExpectSize("mask_bits", p.mask_bits.size(), rows * PackedBytes(d * b));
      ExpectEmpty("mask_weights", p.mask_weights.size(), p.method);
      ExpectEmpty("adapter_params", p.adapter_params.size(), p.method);
      break;
    }
    case Method::kHeadOnly:
      ExpectEmpty("mask_bits", p.mask_bits.size(), p.method);
      ExpectEmpty("mask_weights", p.mask_weights.size(), p.method);
      ExpectEmpty("adapter_params", p.adapter_params.size(), p.method);
      break;
    case Method::kAdapter:
      ExpectSize("adapter_params", p.adapter_params.size(), L * (2 * d * b + b + d));
      ExpectEmpty("mask_bits", p.mask_bits.size(), p.method);
      ExpectEmpty("mask_weights", p.mask_weights.size(), p.method);
      break;
    case Method::kUnspecified:
      break;
  }
}

std::string EncodeProfile(const ProfileData& p) {
  ValidateProfileData(p);
  Writer w;
  w.Bytes(kMagic, 4);
  w.U16(kProfileFormatVersion);
  size_t at = w.Begin(kTagMethod);
  w.U8(uint8_t(p.method));
  w.End(at);
  at = w.Begin(kTagBackboneFingerprint);
  w.Bytes(p.backbone_fingerprint.data(), p.backbone_fingerprint.size());
  w.End(at);
  if (!p.bank_fingerprint.empty()) {
    at = w.Begin(kTagBankFingerprint);
    w.Bytes(p.bank_fingerprint.data(), p.bank_fingerprint.size());
    w.End(at);
  }
  at = w.Begin(kTagShape);
  w.U32(p.shape.num_layers);
  w.U32(p.shape.hidden_size);
  w.U32(p.shape.bottleneck);
  w.U32(p.shape.num_adapters);
  w.U32(p.shape.top_k);
  w.F32(p.shape.keep_fraction);
  w.End(at);
  at = w.Begin(kTagLabels);
  w.U32(uint32_t(p.labels.size()));
  for (const std::string& label : p.labels) {
    w.U32(uint32_t(label.size()));
    w.Bytes(label.data(), label.size());
  }
  w.End(at);
  WriteArray(w, kTagMaskBits, p.mask_bits);
  WriteArray(w, kTagMaskWeights, p.mask_weights);
  WriteArray(w, kTagNormParams, p.norm_params);
  WriteArray(w, kTagAdapterParams, p.adapter_params);
  WriteArray(w, kTagHeadWeight, p.head_weight);
  WriteArray(w, kTagHeadWeightInt8, p.head_weight_int8);
  WriteArray(w, kTagHeadWeightScale, p.head_weight_scale);
  WriteArray(w, kTagHeadBias, p.head_bias);
  if (p.has_shared_head()) {
    at = w.Begin(kTagSharedHead);
    w.Bytes(p.shared_head.data(), p.shared_head.size());
    w.End(at);
    at = w.Begin(kTagSharedHeadFingerprint);
    w.Bytes(p.shared_head_fingerprint.data(), p.shared_head_fingerprint.size());
    w.End(at);
  }
  at = w.Begin(kTagMetrics);
  w.F32(p.metrics.validation_accuracy);
  w.F32(p.metrics.validation_loss);
  w.F32(p.metrics.validation_macro_f1);
  w.U32(p.metrics.validation_examples);
  w.U32(p.metrics.train_examples);
  w.End(at);
  at = w.Begin(kTagTrainMetrics);
  w.F32(p.metrics.train_accuracy);
  w.F32(p.metrics.train_loss);
  w.F32(p.metrics.train_macro_f1);
  w.End(at);
  const uint32_t crc = Crc32(w.str().data(), w.str().size());
  at = w.Begin(kTrailerTag);
  w.U32(crc);
  w.End(at);
  return std::move(w.str());
}

namespace {

// Which of the required records a decode has seen.
struct RequiredRecords {
  bool method = false, shape = false, labels = false;
};

// Reads one (non-trailer) record into `p`; records of unknown tags (a newer
// writer's optional ones) are skipped.
void ReadRecord(uint16_t tag, std::string_view value, ProfileData* p, RequiredRecords* seen) {
  switch (tag) {
    case kTagMethod: {
      Reader v(value, "method");
      p->method = Method(v.U8());
      seen->method = true;
      break;
    }
    case kTagBackboneFingerprint:
      p->backbone_fingerprint = std::string(value);
      break;
    case kTagBankFingerprint:
      p->bank_fingerprint = std::string(value);
      break;
    case kTagShape: {
      Reader v(value, "shape");
      p->shape.num_layers = v.U32();
      p->shape.hidden_size = v.U32();
      p->shape.bottleneck = v.U32();
      p->shape.num_adapters = v.U32();
      p->shape.top_k = v.U32();
      p->shape.keep_fraction = v.F32();
      seen->shape = true;
      break;
    }
    case kTagLabels: {
      Reader v(value, "labels");
      const uint32_t count = v.U32();
      if (count > kMaxLabels || count > v.remaining() / 4) {
        throw DataLoss("profile: labels: bad count " + std::to_string(count));
      }
      p->labels.reserve(count);
      for (uint32_t i = 0; i < count; ++i) {
        const uint32_t n = v.U32();
        p->labels.emplace_back(v.Take(n));
      }
      seen->labels = true;
      break;
    }
    case kTagMaskBits:
      p->mask_bits = ReadArray<uint8_t>(value, "mask_bits");
      break;
    case kTagMaskWeights:
      p->mask_weights = ReadArray<uint16_t>(value, "mask_weights");
      break;
    case kTagNormParams:
      p->norm_params = ReadArray<uint16_t>(value, "norm_params");
      break;
    case kTagAdapterParams:
      p->adapter_params = ReadArray<uint16_t>(value, "adapter_params");
      break;
    case kTagHeadWeight:
      p->head_weight = ReadArray<uint16_t>(value, "head_weight");
      break;
    case kTagHeadWeightInt8:
      p->head_weight_int8 = ReadArray<int8_t>(value, "head_weight_int8");
      break;
    case kTagHeadWeightScale:
      p->head_weight_scale = ReadArray<uint16_t>(value, "head_weight_scale");
      break;
    case kTagHeadBias:
      p->head_bias = ReadArray<uint16_t>(value, "head_bias");
      break;
    case kTagSharedHead:
      p->shared_head = std::string(value);
      break;
    case kTagSharedHeadFingerprint:
      p->shared_head_fingerprint = std::string(value);
      break;
    case kTagMetrics: {
      Reader v(value, "metrics");
      p->metrics.validation_accuracy = v.F32();
      p->metrics.validation_loss = v.F32();
      p->metrics.validation_macro_f1 = v.F32();
      p->metrics.validation_examples = v.U32();
      p->metrics.train_examples = v.U32();
      break;
    }
    case kTagTrainMetrics: {
      Reader v(value, "train_metrics");
      p->metrics.train_accuracy = v.F32();
      p->metrics.train_loss = v.F32();
      p->metrics.train_macro_f1 = v.F32();
      break;
    }
    default:
      break;  // a newer writer's optional record
  }
}

}  // namespace

ProfileData DecodeProfile(std::string_view bytes) {
  Reader r(bytes, "header");
  if (r.Take(4) != std::string_view(kMagic, 4))
    throw DataLoss("profile: bad magic (not a profile)");
  const uint16_t version = r.U16();
  if (version == 0 || version > kProfileFormatVersion) {
    throw DataLoss("profile: unknown format version " + std::to_string(version) +
                   " (this server reads up to " + std::to_string(kProfileFormatVersion) + ")");
  }
  ProfileData p;
  RequiredRecords seen;
  bool have_trailer = false;
  while (!r.done()) {
    const size_t record_start = bytes.size() - r.remaining();
    const uint16_t tag = r.U16();
    const uint32_t length = r.U32();
    std::string_view value = r.Take(length);
    if (tag == kTrailerTag) {
      if (length != 4 || !r.done()) throw DataLoss("profile: malformed checksum trailer");
      const uint32_t stored = Reader(value, "checksum").U32();
      if (Crc32(bytes.data(), record_start) != stored) {
        throw DataLoss("profile: checksum mismatch (corrupted bytes)");
      }
      have_trailer = true;
      break;
    }
    ReadRecord(tag, value, &p, &seen);
  }
  if (!have_trailer) throw DataLoss("profile: truncated (no checksum trailer)");
  if (!seen.method || !seen.shape || !seen.labels) {
    throw DataLoss("profile: missing required records (method, shape, labels)");
  }
  ValidateProfileData(p);
  return p;
}

ProfileBytes MeasureProfile(const ProfileData& p) {
  return MeasureProfile(p, EncodeProfile(p).size());
}

ProfileBytes MeasureProfile(const ProfileData& p, size_t encoded_bytes) {
  ProfileBytes size;
  size.masks = p.mask_bits.size() + 2 * (p.mask_weights.size() + p.adapter_params.size());
  size.head = 2 * (p.head_weight.size() + p.head_bias.size() + p.norm_params.size()) +
              p.head_weight_int8.size() + 2 * p.head_weight_scale.size();
  size.total = encoded_bytes;
  size.metadata = size.total - size.masks - size.head;
  return size;
}

}  // namespace maskserve
