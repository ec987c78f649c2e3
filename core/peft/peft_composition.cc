#include "core/peft/peft_composition.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "core/base/error.h"

namespace maskserve {

at::Tensor XpeftHardMask(const at::Tensor& logits, int64_t k) {
  if (k <= 0 || k > logits.size(-1)) {
    throw InvalidArgument("xpeft_top_k: must be in 1.." + std::to_string(logits.size(-1)));
  }
  at::Tensor indices = std::get<1>(logits.detach().topk(k, -1));
  return at::zeros_like(logits).scatter_(-1, indices, 1.0 / double(k));
}

at::Tensor XpeftGumbelMask(const at::Tensor& logits, int64_t k, double noise, double temperature,
                           at::Generator& generator) {
  // Gumbel(0, 1) = -log(-log(U)), drawn on the CPU generator for
  // reproducibility and moved to the logits' device.
  at::Tensor uniform = at::rand(logits.sizes(), generator, at::TensorOptions().dtype(at::kFloat))
                           .clamp_(1e-10, 1.0 - 1e-7);
  at::Tensor gumbel = -at::log(-at::log(uniform)).to(logits.device(), logits.scalar_type());
  at::Tensor y_soft = at::softmax((logits + noise * gumbel) / temperature, -1);
  at::Tensor y_hard = XpeftHardMask(y_soft, k);
  return y_hard - y_soft.detach() + y_soft;
}

AdapterStack ComposeXpeft(const at::Tensor& mask_a, const at::Tensor& mask_b,
                          const AdapterBank& bank) {
  const AdapterBankConfig& c = bank.config();
  const int64_t L = c.num_layers, N = c.num_adapters, d = c.hidden_size, b = c.bottleneck;
  if (mask_a.dim() != 3 || mask_a.size(0) != L || mask_a.size(2) != N ||
      mask_b.sizes() != mask_a.sizes()) {
    throw InvalidArgument("xpeft masks: expected [L=" + std::to_string(L) +
                          ", P, N=" + std::to_string(N) + "]");
  }
  const int64_t P = mask_a.size(1);
  const auto dtype = bank.down_cat().scalar_type();
  at::Tensor down = at::bmm(mask_a.to(dtype), bank.down_cat());  // [L, P, d*b + b]
  at::Tensor up = at::bmm(mask_b.to(dtype), bank.up_cat());      // [L, P, b*d + d]
  AdapterStack s;
  s.down = down.narrow(2, 0, d * b).view({L, P, d, b});
  s.down_bias = down.narrow(2, d * b, b);
  s.up = up.narrow(2, 0, b * d).view({L, P, b, d});
  s.up_bias = up.narrow(2, b * d, d);
  return s;
}

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

at::Tensor PropetlMask(const at::Tensor& scores, double keep_fraction, int64_t slice_dims) {
  at::Tensor magnitude = scores.abs();
  at::Tensor hard = TopFractionMask(scores, keep_fraction, slice_dims);
  return (hard - magnitude).detach() + magnitude;
}

at::Tensor MaskOr(const at::Tensor& a, const at::Tensor& b) { return 1 - (1 - a) * (1 - b); }

AdapterStack ComposePropetl(const at::Tensor& down_masks, const at::Tensor& up_masks,
                            const PrototypeBank& prototype) {
  const PrototypeBankConfig& c = prototype.config();
  const int64_t L = c.num_layers, d = c.hidden_size, b = c.bottleneck;
  if (down_masks.dim() != 4 || down_masks.size(0) != L || down_masks.size(2) != d ||
      down_masks.size(3) != b || up_masks.dim() != 4 || up_masks.size(2) != b ||
      up_masks.size(3) != d || up_masks.size(1) != down_masks.size(1)) {
    throw InvalidArgument("propetl masks: expected [L, P, d, b] and [L, P, b, d]");
  }
  const int64_t P = down_masks.size(1);
  const auto dtype = prototype.down().scalar_type();
  AdapterStack s;
  s.down = down_masks.to(dtype) * prototype.down();
  s.up = up_masks.to(dtype) * prototype.up();
  s.down_bias = prototype.down_bias().expand({L, P, b});
  s.up_bias = prototype.up_bias().expand({L, P, d});
  return s;
}

}  // namespace maskserve
