// File: core/peft/peft_composition.h
//
// The differentiable building blocks shared by training and serving, so that
// both compose adapters the same way:
//
// - X-PEFT masks over N bank adapters: soft (softmax), hard at inference
//   (noise-free k-hot/k of the top-k logits) and hard in training (Gumbel
//   top-k with the straight-through estimator, Algorithm 1 of the paper):
//     y_soft = softmax((S + nu*g) / tau); y_hard = khot(topk(y_soft)) / k
//     M = y_hard - sg(y_soft) + y_soft
// - ComposeXpeft: A_hat = sum_i M_A[i] A_i (weights and biases), one batched
//   GEMM per projection over the bank.
// - ProPETL masks: the top k% of |score| (exact count) with the
//   straight-through estimator whose score gradient is mask grad * sign(s);
//   ComposePropetl multiplies the prototype's weights (never its biases) by
//   per-layer masks.
//
// Shapes use L layers, P profiles, N adapters, d hidden, b bottleneck.
// Thread safety: pure functions over tensors.
#ifndef MASKSERVE_CORE_PEFT_PEFT_COMPOSITION_H_
#define MASKSERVE_CORE_PEFT_PEFT_COMPOSITION_H_

#include <cstdint>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "core/peft/adapter_bank.h"
#include "core/peft/prototype_bank.h"

namespace maskserve {

// Per-layer adapter weights with leading dims [L, P]: down [L,P,d,b],
// down_bias [L,P,b], up [L,P,b,d], up_bias [L,P,d]; norm_* [L,P,b] or
// undefined.
struct AdapterStack {
  at::Tensor down, down_bias, up, up_bias, norm_weight, norm_bias;
};

// logits [..., N] -> k-hot / k over the last dim (no gradient).
at::Tensor XpeftHardMask(const at::Tensor& logits, int64_t k);
// Gumbel top-k straight-through mask; `noise` is nu, `temperature` tau.
at::Tensor XpeftGumbelMask(const at::Tensor& logits, int64_t k, double noise, double temperature,
                           at::Generator& generator);

// masks [L, P, N] (A: down projections, B: up projections) -> [L, P, ...].
AdapterStack ComposeXpeft(const at::Tensor& mask_a, const at::Tensor& mask_b,
                          const AdapterBank& bank);

// A mask with exactly numel - floor((1 - keep) * numel) ones at the largest
// |scores| (ProPETL's top-k% rule), as 0/1 in scores' dtype. The rule
// applies to each slice over the first `slice_dims` dimensions separately
// (e.g. slice_dims = 1 for per-layer masks stacked as [L, d, b]).
at::Tensor TopFractionMask(const at::Tensor& scores, double keep_fraction, int64_t slice_dims = 0);

// Straight-through top-k% mask of `scores` (forward: exact top count of
// |scores| in each slice over the first `slice_dims` dimensions, see
// TopFractionMask; backward: grad * sign(scores)).
at::Tensor PropetlMask(const at::Tensor& scores, double keep_fraction, int64_t slice_dims = 0);

// down_masks [L, P, d, b], up_masks [L, P, b, d] in {0,1} (or straight-
// through) -> the masked prototype per layer and profile.
AdapterStack ComposePropetl(const at::Tensor& down_masks, const at::Tensor& up_masks,
                            const PrototypeBank& prototype);

// m_layer OR m_task for 0/1 (or straight-through) masks; differentiable in
// both.
at::Tensor MaskOr(const at::Tensor& a, const at::Tensor& b);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_PEFT_COMPOSITION_H_
