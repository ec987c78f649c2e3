// File: core/peft/prototype_bank.h
//
// ProPETL's shared, frozen parameters: one Pfeiffer adapter (down d->b,
// up b->d, with biases) shared by all layers, plus shared per-layer binary
// masks (used by PROPETL_HYBRID: m = m_layer OR m_task). Random from a seed
// (layer masks keep `layer_keep_fraction` of the weights) or loaded from a
// safetensors file written by Save() or maskserve_build_bank.
//
// The prototype carries a fingerprint: sha256 over its configuration and
// tensors. A profile trained against one fingerprint is never served with
// another.
//
// Thread safety: immutable after construction; share freely.
#ifndef MASKSERVE_CORE_PEFT_PROTOTYPE_BANK_H_
#define MASKSERVE_CORE_PEFT_PROTOTYPE_BANK_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/model/device.h"

namespace maskserve {

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
  const at::Tensor& down() const { return down_; }                          // [d, b]
  const at::Tensor& down_bias() const { return down_bias_; }                // [b]
  const at::Tensor& up() const { return up_; }                              // [b, d]
  const at::Tensor& up_bias() const { return up_bias_; }                    // [d]
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

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_PROTOTYPE_BANK_H_
