// File: core/adapter_bank.h
//
// The shared, frozen PEFT parameters that profiles select from:
//
// - AdapterBank (X-PEFT): N Pfeiffer adapters per layer, each a down
//   projection d->b (+bias) and an up projection b->d (+bias). Random from a
//   seed (weights N(0, 0.02), biases 0) or loaded from a safetensors file
//   (a trained "warm" bank). Kept on the serving device as
//     down_cat [L, N, d*b + b]  (down weight row-major [d, b], then bias)
//     up_cat   [L, N, b*d + d]  (up weight row-major [b, d], then bias)
//   so that composing P profiles' masks M [L, P, N] is one batched GEMM per
//   projection: bmm(M, down_cat) -> [L, P, d*b + b].
//
// - PrototypeBank (ProPETL): one Pfeiffer adapter shared by all layers plus
//   shared per-layer binary masks (used by PROPETL_HYBRID: m = m_layer OR
//   m_task), random from a seed or loaded from safetensors.
//
// Both carry a fingerprint: sha256 over their configuration and tensors.
// A profile trained against one fingerprint is never served with another.
//
// Thread safety: immutable after construction; share freely.
#ifndef MASKSERVE_CORE_ADAPTER_BANK_H_
#define MASKSERVE_CORE_ADAPTER_BANK_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/device.h"

namespace maskserve {

struct AdapterBankConfig {
  int64_t num_layers = 0;     // L, the backbone's layer count
  int64_t hidden_size = 0;    // d
  int64_t bottleneck = 0;     // b (d/16 by default)
  int64_t num_adapters = 100; // N
  int64_t top_k = 50;         // default k of X-PEFT hard profiles

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

struct PrototypeBankConfig {
  int64_t num_layers = 0;
  int64_t hidden_size = 0;
  int64_t bottleneck = 0;
  // Density of the shared layer masks (ProPETL hybrid: 0.3).
  float layer_keep_fraction = 0.3f;

  void Validate() const;
};

class PrototypeBank {
 public:
  static PrototypeBank Random(const PrototypeBankConfig& config, const DeviceSpec& device,
                              uint64_t seed);
  static PrototypeBank Load(const std::string& path, const DeviceSpec& device);
  void Save(const std::string& path) const;
  // down [d,b], down_bias [b], up [b,d], up_bias [d], layer masks
  // [L,d,b] and [L,b,d] (0/1, any dtype), all fp32 on any device.
  static PrototypeBank FromTensors(const PrototypeBankConfig& config, const at::Tensor& down,
                                   const at::Tensor& down_bias, const at::Tensor& up,
                                   const at::Tensor& up_bias, const at::Tensor& layer_down_masks,
                                   const at::Tensor& layer_up_masks, const DeviceSpec& device,
                                   bool warm);

  const PrototypeBankConfig& config() const { return config_; }
  const std::string& fingerprint() const { return fingerprint_; }
  bool warm() const { return warm_; }
  const DeviceSpec& device() const { return device_; }
  // Serving dtype, on the device.
  const at::Tensor& down() const { return down_; }            // [d, b]
  const at::Tensor& down_bias() const { return down_bias_; }  // [b]
  const at::Tensor& up() const { return up_; }                // [b, d]
  const at::Tensor& up_bias() const { return up_bias_; }      // [d]
  const at::Tensor& layer_down_masks() const { return layer_down_masks_; }  // [L, d, b]
  const at::Tensor& layer_up_masks() const { return layer_up_masks_; }      // [L, b, d]

 private:
  PrototypeBank() = default;

  PrototypeBankConfig config_;
  DeviceSpec device_;
  bool warm_ = false;
  at::Tensor down_, down_bias_, up_, up_bias_, layer_down_masks_, layer_up_masks_;
  std::string fingerprint_;
};

// A mask with exactly numel - floor((1 - keep) * numel) ones at the largest
// |scores| (ProPETL's top-k% rule), as 0/1 in scores' dtype. The rule
// applies to each slice over the first `slice_dims` dimensions separately
// (e.g. slice_dims = 1 for per-layer masks stacked as [L, d, b]).
at::Tensor TopFractionMask(const at::Tensor& scores, double keep_fraction,
                           int64_t slice_dims = 0);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_ADAPTER_BANK_H_
