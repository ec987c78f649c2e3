#include "core/training/standardized_head.h"

#include <ATen/ATen.h>

#include "core/base/error.h"

namespace maskserve {

StandardizedHead::StandardizedHead(const at::Tensor& features, int64_t num_labels,
                                   at::Generator& generator) {
  if (features.dim() != 2 || features.size(0) < 1) {
    throw InvalidArgument("head features: expected [n >= 1, d]");
  }
  at::NoGradGuard no_grad;
  at::Tensor f = features.detach().to(at::kFloat);
  mean_ = f.mean(0);
  at::Tensor std = f.size(0) > 1 ? f.std(0) : at::ones_like(mean_);
  scale_ = 1.0 / at::clamp_min(std, std.mean().item<double>() * 1e-2 + 1e-6);
  const int64_t d = f.size(1);
  weight_ =
      at::normal(0.0, 0.02, {num_labels, d}, generator).to(f.device()).set_requires_grad(true);
  bias_ = at::zeros({num_labels}, f.options()).set_requires_grad(true);
}

at::Tensor StandardizedHead::Logits(const at::Tensor& pooled) const {
  return at::linear((pooled.to(at::kFloat) - mean_) * scale_, weight_, bias_);
}

void StandardizedHead::Remember() {
  remembered_weight_ = weight_.detach().clone();
  remembered_bias_ = bias_.detach().clone();
}

void StandardizedHead::RestoreRemembered() {
  if (!remembered_weight_.defined()) return;
  at::NoGradGuard no_grad;
  weight_.copy_(remembered_weight_);
  bias_.copy_(remembered_bias_);
}

at::Tensor StandardizedHead::FoldedWeight() const {
  at::NoGradGuard no_grad;
  return weight_.detach() * scale_;
}

at::Tensor StandardizedHead::FoldedBias(const at::Tensor& weight_as_stored) const {
  at::NoGradGuard no_grad;
  return bias_.detach() - at::mv(weight_as_stored.to(mean_.device(), at::kFloat), mean_);
}

}  // namespace maskserve
