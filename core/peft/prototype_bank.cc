#include "core/peft/prototype_bank.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/base/error.h"
#include "core/base/sha256.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_hash.h"
#include "core/peft/bank_checks.h"
#include "core/peft/peft_composition.h"

namespace maskserve {

void PrototypeBankConfig::Validate() const {
  RequirePositive(num_layers, "num_layers");
  RequirePositive(hidden_size, "hidden_size");
  RequirePositive(bottleneck, "bottleneck");
  if (!(layer_keep_fraction > 0.0f && layer_keep_fraction <= 1.0f)) {
    throw InvalidArgument("bank.layer_keep_fraction: must be in (0, 1]");
  }
}

PrototypeBank PrototypeBank::FromTensors(const PrototypeBankConfig& config, const at::Tensor& down,
                                         const at::Tensor& down_bias, const at::Tensor& up,
                                         const at::Tensor& up_bias,
                                         const at::Tensor& layer_down_masks,
                                         const at::Tensor& layer_up_masks, const DeviceSpec& device,
                                         bool warm) {
  config.Validate();
  const int64_t L = config.num_layers, d = config.hidden_size, b = config.bottleneck;
  RequireShape(down, {d, b}, "prototype.down");
  RequireShape(down_bias, {b}, "prototype.down_bias");
  RequireShape(up, {b, d}, "prototype.up");
  RequireShape(up_bias, {d}, "prototype.up_bias");
  RequireShape(layer_down_masks, {L, d, b}, "prototype.layer_down_masks");
  RequireShape(layer_up_masks, {L, b, d}, "prototype.layer_up_masks");
  PrototypeBank bank;
  bank.config_ = config;
  bank.device_ = device;
  bank.warm_ = warm;
  Sha256 hash;
  char keep[32];
  std::snprintf(keep, sizeof(keep), "%.6f", double(config.layer_keep_fraction));
  hash.Update("propetl-prototype:L=" + std::to_string(L) + ";d=" + std::to_string(d) +
              ";b=" + std::to_string(b) + ";keep=" + keep + ";");
  const at::Tensor down_mask01 = layer_down_masks.ne(0).to(at::kFloat);
  const at::Tensor up_mask01 = layer_up_masks.ne(0).to(at::kFloat);
  for (const at::Tensor* t : {&down, &down_bias, &up, &up_bias, &down_mask01, &up_mask01}) {
    HashTensor(*t, &hash);
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
  config.num_layers = reader.RequiredMetadataInt("num_layers");
  config.hidden_size = reader.RequiredMetadataInt("hidden_size");
  config.bottleneck = reader.RequiredMetadataInt("bottleneck");
  config.layer_keep_fraction = float(reader.RequiredMetadataInt("layer_keep_permille")) / 1000.0f;
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
