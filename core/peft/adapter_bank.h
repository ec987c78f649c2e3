// File: core/peft/adapter_bank.h
//
// The shared, frozen X-PEFT parameters that profiles select from:
//
// - AdapterBank: N Pfeiffer adapters per layer, each a down
//   projection d->b (+bias) and an up projection b->d (+bias). Random from a
//   seed (weights N(0, 0.02), biases 0) or loaded from a safetensors file
//   (a trained "warm" bank). Kept on the serving device as
//     down_cat [L, N, d*b + b]  (down weight row-major [d, b], then bias)
//     up_cat   [L, N, b*d + d]  (up weight row-major [b, d], then bias)
//   so that composing P profiles' masks M [L, P, N] is one batched GEMM per
//   projection: bmm(M, down_cat) -> [L, P, d*b + b].
//
// (core/peft/prototype_bank.h is ProPETL's counterpart.)
//
// The bank carries a fingerprint: sha256 over its configuration and
// tensors. A profile trained against one fingerprint is never served with
// another.
//
// Thread safety: immutable after construction; share freely.
#ifndef MASKSERVE_CORE_PEFT_ADAPTER_BANK_H_
#define MASKSERVE_CORE_PEFT_ADAPTER_BANK_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/model/device.h"

namespace maskserve {

struct AdapterBankConfig {
  int64_t num_layers = 0;      // L, the backbone's layer count
  int64_t hidden_size = 0;     // d
  int64_t bottleneck = 0;      // b (d/16 by default)
  int64_t num_adapters = 100;  // N
  int64_t top_k = 50;          // default k of X-PEFT hard profiles

  // Throws InvalidArgument naming the field.
  void Validate() const;
};

class AdapterBank {
 public:
  static AdapterBank Random(const AdapterBankConfig& config, const DeviceSpec& device,
                            uint64_t seed);
  // Reads a bank written by Save(). Throws NotFound / DataLoss naming the
  // file and tensor.
  static AdapterBank Load(const std::string& path, const DeviceSpec& device);
  // Writes config (metadata) and tensors (fp32) as safetensors.
  void Save(const std::string& path) const;
  // Builds a bank from fp32 tensors down [L,N,d,b], down_bias [L,N,b],
  // up [L,N,b,d], up_bias [L,N,d] (e.g. after bank training).
  static AdapterBank FromTensors(const AdapterBankConfig& config, const at::Tensor& down,
                                 const at::Tensor& down_bias, const at::Tensor& up,
                                 const at::Tensor& up_bias, const DeviceSpec& device, bool warm);

  const AdapterBankConfig& config() const { return config_; }
  const std::string& fingerprint() const { return fingerprint_; }
  bool warm() const { return warm_; }
  const DeviceSpec& device() const { return device_; }
  const at::Tensor& down_cat() const { return down_cat_; }
  const at::Tensor& up_cat() const { return up_cat_; }

 private:
  AdapterBank() = default;

  AdapterBankConfig config_;
  DeviceSpec device_;
  bool warm_ = false;
  at::Tensor down_cat_, up_cat_;
  std::string fingerprint_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_ADAPTER_BANK_H_
