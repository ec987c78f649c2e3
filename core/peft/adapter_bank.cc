#include "core/peft/adapter_bank.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "core/base/error.h"
#include "core/base/sha256.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_hash.h"
#include "core/peft/bank_checks.h"

namespace maskserve {

void AdapterBankConfig::Validate() const {
  RequirePositive(num_layers, "num_layers");
  RequirePositive(hidden_size, "hidden_size");
  RequirePositive(bottleneck, "bottleneck");
  RequirePositive(num_adapters, "num_adapters");
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
  RequireShape(down, {L, N, d, b}, "bank.down");
  RequireShape(down_bias, {L, N, b}, "bank.down_bias");
  RequireShape(up, {L, N, b, d}, "bank.up");
  RequireShape(up_bias, {L, N, d}, "bank.up_bias");
  AdapterBank bank;
  bank.config_ = config;
  bank.device_ = device;
  bank.warm_ = warm;
  Sha256 hash;
  hash.Update("xpeft-bank:L=" + std::to_string(L) + ";N=" + std::to_string(N) +
              ";d=" + std::to_string(d) + ";b=" + std::to_string(b) +
              ";k=" + std::to_string(config.top_k) + ";");
  for (const at::Tensor* t : {&down, &down_bias, &up, &up_bias}) HashTensor(*t, &hash);
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
  WriteSafetensors(path,
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
  config.num_layers = reader.RequiredMetadataInt("num_layers");
  config.hidden_size = reader.RequiredMetadataInt("hidden_size");
  config.bottleneck = reader.RequiredMetadataInt("bottleneck");
  config.num_adapters = reader.RequiredMetadataInt("num_adapters");
  config.top_k = reader.RequiredMetadataInt("top_k");
  try {
    return FromTensors(config, reader.Load("down").to(at::kFloat),
                       reader.Load("down_bias").to(at::kFloat), reader.Load("up").to(at::kFloat),
                       reader.Load("up_bias").to(at::kFloat), device, true);
  } catch (const EngineError& e) {
    if (e.code() == ErrorCode::kInvalidArgument) throw DataLoss(path + ": " + e.what());
    throw;
  }
}

}  // namespace maskserve
