#include "core/adapter_bank.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/sha256.h"

namespace maskserve {

namespace {

void HashTensor(Sha256& hash, const at::Tensor& t) {
  at::Tensor cpu = t.to(at::kCPU, at::kFloat).contiguous();
  hash.Update(cpu.data_ptr(), size_t(cpu.numel()) * sizeof(float));
}

int64_t MetadataInt(const std::map<std::string, std::string>& metadata, const std::string& key,
                    const std::string& path) {
  auto it = metadata.find(key);
  if (it == metadata.end()) throw DataLoss(path + ": metadata key '" + key + "' is missing");
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw DataLoss(path + ": metadata key '" + key + "' is not an integer");
  }
}

void ExpectShape(const at::Tensor& t, at::IntArrayRef shape, const std::string& what) {
  if (t.sizes() != shape) {
    throw InvalidArgument(what + ": shape mismatch");
  }
}

void Positive(int64_t v, const char* field) {
  if (v <= 0) throw InvalidArgument(std::string("bank.") + field + ": must be positive");
}

}  // namespace

at::Tensor TopFractionMask(const at::Tensor& scores, double keep_fraction, int64_t slice_dims) {
  if (slice_dims < 0 || slice_dims >= scores.dim()) {
    throw InvalidArgument("TopFractionMask: slice_dims must be in 0.." +
                          std::to_string(scores.dim() - 1));
  }
  int64_t slices = 1;
  for (int64_t i = 0; i < slice_dims; ++i) slices *= scores.size(i);
  const int64_t numel = slices == 0 ? 0 : scores.numel() / slices;
  const int64_t keep = numel - int64_t(std::floor((1.0 - keep_fraction) * double(numel)));
  at::Tensor flat = scores.detach().abs().reshape({slices, numel});
  at::Tensor mask = at::zeros_like(flat);
  if (keep > 0 && slices > 0) mask.scatter_(1, std::get<1>(flat.topk(keep, 1)), 1.0);
  return mask.view(scores.sizes());
}

void AdapterBankConfig::Validate() const {
  Positive(num_layers, "num_layers");
  Positive(hidden_size, "hidden_size");
  Positive(bottleneck, "bottleneck");
  Positive(num_adapters, "num_adapters");
  if (top_k <= 0 || top_k > num_adapters) {
    throw InvalidArgument("bank.top_k: must be in 1..num_adapters (" +
                          std::to_string(num_adapters) + "), got " + std::to_string(top_k));
  }
}

AdapterBank AdapterBank::FromTensors(const AdapterBankConfig& config, const at::Tensor& down,
                                     const at::Tensor& down_bias, const at::Tensor& up,
                                     const at::Tensor& up_bias, const DeviceSpec& device,
                                     bool warm) {
  config.Validate();
  const int64_t L = config.num_layers, N = config.num_adapters, d = config.hidden_size,
                b = config.bottleneck;
  ExpectShape(down, {L, N, d, b}, "bank.down");
  ExpectShape(down_bias, {L, N, b}, "bank.down_bias");
  ExpectShape(up, {L, N, b, d}, "bank.up");
  ExpectShape(up_bias, {L, N, d}, "bank.up_bias");
  AdapterBank bank;
  bank.config_ = config;
  bank.device_ = device;
  bank.warm_ = warm;
  Sha256 hash;
  hash.Update("xpeft-bank:L=" + std::to_string(L) + ";N=" + std::to_string(N) + ";d=" +
              std::to_string(d) + ";b=" + std::to_string(b) + ";k=" + std::to_string(config.top_k) +
              ";");
  for (const at::Tensor* t : {&down, &down_bias, &up, &up_bias}) HashTensor(hash, *t);
  bank.fingerprint_ = hash.HexDigest();
  bank.down_cat_ = at::cat({down.reshape({L, N, d * b}), down_bias}, 2)
                       .to(device.device, device.dtype)
                       .contiguous();
  bank.up_cat_ =
      at::cat({up.reshape({L, N, b * d}), up_bias}, 2).to(device.device, device.dtype).contiguous();
  return bank;
}

AdapterBank AdapterBank::Random(const AdapterBankConfig& config, const DeviceSpec& device,
                                uint64_t seed) {
  config.Validate();
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t L = config.num_layers, N = config.num_adapters, d = config.hidden_size,
                b = config.bottleneck;
  at::Tensor down = at::normal(0.0, 0.02, {L, N, d, b}, gen);
  at::Tensor up = at::normal(0.0, 0.02, {L, N, b, d}, gen);
  return FromTensors(config, down, at::zeros({L, N, b}), up, at::zeros({L, N, d}), device, false);
}

void AdapterBank::Save(const std::string& path) const {
  const int64_t L = config_.num_layers, N = config_.num_adapters, d = config_.hidden_size,
                b = config_.bottleneck;
  at::Tensor down_cat = down_cat_.to(at::kCPU, at::kFloat);
  at::Tensor up_cat = up_cat_.to(at::kCPU, at::kFloat);
  WriteSafetensors(
      path,
      {{"down", down_cat.narrow(2, 0, d * b).reshape({L, N, d, b})},
       {"down_bias", down_cat.narrow(2, d * b, b)},
       {"up", up_cat.narrow(2, 0, b * d).reshape({L, N, b, d})},
       {"up_bias", up_cat.narrow(2, b * d, d)}},
      {{"kind", "xpeft-adapter-bank"},
       {"num_layers", std::to_string(L)},
       {"hidden_size", std::to_string(d)},
       {"bottleneck", std::to_string(b)},
       {"num_adapters", std::to_string(N)},
       {"top_k", std::to_string(config_.top_k)}});
}

AdapterBank AdapterBank::Load(const std::string& path, const DeviceSpec& device) {
  SafetensorsReader reader = SafetensorsReader::Open(path);
  const auto& meta = reader.metadata();
  auto kind = meta.find("kind");
  if (kind == meta.end() || kind->second != "xpeft-adapter-bank") {
    throw DataLoss(path + ": not an X-PEFT adapter bank (metadata kind)");
  }
  AdapterBankConfig config;
  config.num_layers = MetadataInt(meta, "num_layers", path);
  config.hidden_size = MetadataInt(meta, "hidden_size", path);
  config.bottleneck = MetadataInt(meta, "bottleneck", path);
  config.num_adapters = MetadataInt(meta, "num_adapters", path);
  config.top_k = MetadataInt(meta, "top_k", path);
  try {
    return FromTensors(config, reader.Load("down").to(at::kFloat),
                       reader.Load("down_bias").to(at::kFloat), reader.Load("up").to(at::kFloat),
                       reader.Load("up_bias").to(at::kFloat), device, true);
  } catch (const EngineError& e) {
    if (e.code() == ErrorCode::kInvalidArgument) throw DataLoss(path + ": " + e.what());
    throw;
  }
}

void PrototypeBankConfig::Validate() const {
  Positive(num_layers, "num_layers");
  Positive(hidden_size, "hidden_size");
  Positive(bottleneck, "bottleneck");
  if (!(layer_keep_fraction > 0.0f && layer_keep_fraction <= 1.0f)) {
    throw InvalidArgument("bank.layer_keep_fraction: must be in (0, 1]");
  }
}

PrototypeBank PrototypeBank::FromTensors(const PrototypeBankConfig& config, const at::Tensor& down,
                                         const at::Tensor& down_bias, const at::Tensor& up,
                                         const at::Tensor& up_bias,
                                         const at::Tensor& layer_down_masks,
                                         const at::Tensor& layer_up_masks,
                                         const DeviceSpec& device, bool warm) {
  config.Validate();
  const int64_t L = config.num_layers, d = config.hidden_size, b = config.bottleneck;
  ExpectShape(down, {d, b}, "prototype.down");
  ExpectShape(down_bias, {b}, "prototype.down_bias");
  ExpectShape(up, {b, d}, "prototype.up");
  ExpectShape(up_bias, {d}, "prototype.up_bias");
  ExpectShape(layer_down_masks, {L, d, b}, "prototype.layer_down_masks");
  ExpectShape(layer_up_masks, {L, b, d}, "prototype.layer_up_masks");
  PrototypeBank bank;
  bank.config_ = config;
  bank.device_ = device;
  bank.warm_ = warm;
  Sha256 hash;
  char keep[32];
  std::snprintf(keep, sizeof(keep), "%.6f", double(config.layer_keep_fraction));
  hash.Update("propetl-prototype:L=" + std::to_string(L) + ";d=" + std::to_string(d) + ";b=" +
              std::to_string(b) + ";keep=" + keep + ";");
  const at::Tensor down_mask01 = layer_down_masks.ne(0).to(at::kFloat);
  const at::Tensor up_mask01 = layer_up_masks.ne(0).to(at::kFloat);
  for (const at::Tensor* t : {&down, &down_bias, &up, &up_bias, &down_mask01, &up_mask01}) {
    HashTensor(hash, *t);
  }
  bank.fingerprint_ = hash.HexDigest();
  auto place = [&](const at::Tensor& t) { return t.to(device.device, device.dtype).contiguous(); };
  bank.down_ = place(down);
  bank.down_bias_ = place(down_bias);
  bank.up_ = place(up);
  bank.up_bias_ = place(up_bias);
  bank.layer_down_masks_ = place(down_mask01);
  bank.layer_up_masks_ = place(up_mask01);
  return bank;
}

PrototypeBank PrototypeBank::Random(const PrototypeBankConfig& config, const DeviceSpec& device,
                                    uint64_t seed) {
  config.Validate();
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t L = config.num_layers, d = config.hidden_size, b = config.bottleneck;
  at::Tensor down = at::normal(0.0, 0.02, {d, b}, gen);
  at::Tensor up = at::normal(0.0, 0.02, {b, d}, gen);
  std::vector<at::Tensor> down_masks, up_masks;
  for (int64_t l = 0; l < L; ++l) {
    down_masks.push_back(
        TopFractionMask(at::rand({d, b}, gen, at::TensorOptions()), config.layer_keep_fraction));
    up_masks.push_back(
        TopFractionMask(at::rand({b, d}, gen, at::TensorOptions()), config.layer_keep_fraction));
  }
  return FromTensors(config, down, at::zeros({b}), up, at::zeros({d}), at::stack(down_masks),
                     at::stack(up_masks), device, false);
}

void PrototypeBank::Save(const std::string& path) const {
  auto cpu = [](const at::Tensor& t) { return t.to(at::kCPU, at::kFloat); };
  WriteSafetensors(path,
                   {{"down", cpu(down_)},
                    {"down_bias", cpu(down_bias_)},
                    {"up", cpu(up_)},
                    {"up_bias", cpu(up_bias_)},
                    {"layer_down_masks", cpu(layer_down_masks_).to(at::kByte)},
                    {"layer_up_masks", cpu(layer_up_masks_).to(at::kByte)}},
                   {{"kind", "propetl-prototype"},
                    {"num_layers", std::to_string(config_.num_layers)},
                    {"hidden_size", std::to_string(config_.hidden_size)},
                    {"bottleneck", std::to_string(config_.bottleneck)},
                    {"layer_keep_permille",
                     std::to_string(int64_t(std::lround(config_.layer_keep_fraction * 1000)))}});
}

PrototypeBank PrototypeBank::Load(const std::string& path, const DeviceSpec& device) {
  SafetensorsReader reader = SafetensorsReader::Open(path);
  const auto& meta = reader.metadata();
  auto kind = meta.find("kind");
  if (kind == meta.end() || kind->second != "propetl-prototype") {
    throw DataLoss(path + ": not a ProPETL prototype (metadata kind)");
  }
  PrototypeBankConfig config;
  config.num_layers = MetadataInt(meta, "num_layers", path);
  config.hidden_size = MetadataInt(meta, "hidden_size", path);
  config.bottleneck = MetadataInt(meta, "bottleneck", path);
  config.layer_keep_fraction = float(MetadataInt(meta, "layer_keep_permille", path)) / 1000.0f;
  try {
    auto f = [&](const char* name) { return reader.Load(name).to(at::kFloat); };
    return FromTensors(config, f("down"), f("down_bias"), f("up"), f("up_bias"),
                       f("layer_down_masks"), f("layer_up_masks"), device, true);
  } catch (const EngineError& e) {
    if (e.code() == ErrorCode::kInvalidArgument) throw DataLoss(path + ": " + e.what());
    throw;
  }
}

}  // namespace maskserve
