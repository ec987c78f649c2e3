// File: core/training/standardized_head.h
//
// A trainable linear classification head d -> C that sees the pooled
// features standardised with fixed statistics (mean and 1/std of the
// training split under the initial adapters):
//
//   logits = W ((x - mu) * s) + b
//
// A reparameterisation of a plain linear head that keeps optimisation
// well-conditioned whatever the backbone's feature scale and offset;
// FoldedWeight() / FoldedBias() give the equivalent plain head
// (W * s, b - (W * s) mu) that profiles store and serving applies.
//
// Not thread-safe: one trainer owns it.
#ifndef MASKSERVE_CORE_TRAINING_STANDARDIZED_HEAD_H_
#define MASKSERVE_CORE_TRAINING_STANDARDIZED_HEAD_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace maskserve {

class StandardizedHead {
 public:
  // `features`: float [n, d] pooled features to take the statistics from
  // (n >= 1). Weights are drawn N(0, 0.02) from `generator`, biases 0, on
  // the features' device.
  StandardizedHead(const at::Tensor& features, int64_t num_labels, at::Generator& generator);

  at::Tensor Logits(const at::Tensor& pooled) const;
  // The trainable tensors (weight, bias).
  std::vector<at::Tensor> parameters() const { return {weight_, bias_}; }

  // Remembers / restores the current weights (best-epoch selection).
  void Remember();
  void RestoreRemembered();

  // The equivalent head over raw pooled features: weight W * s (float
  // [C, d]) and bias b - weight_as_stored * mu (float [C]), where
  // `weight_as_stored` is FoldedWeight() after any rounding for storage, so
  // that the rounding error multiplies the centred features only.
  at::Tensor FoldedWeight() const;
  at::Tensor FoldedBias(const at::Tensor& weight_as_stored) const;

 private:
  at::Tensor mean_, scale_, weight_, bias_;
  at::Tensor remembered_weight_, remembered_bias_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_STANDARDIZED_HEAD_H_
