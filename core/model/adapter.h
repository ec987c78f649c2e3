// File: core/model/adapter.h
//
// A Pfeiffer bottleneck adapter applied with per-sequence weights, so that one
// batch may mix profiles: sequence i of the batch uses slice i of every
// tensor. Shapes (B = batch, d = hidden, b = bottleneck):
//
//   down [B, d, b]   down_bias [B, b]
//   mid_norm_weight / mid_norm_bias [B, b]  (optional; X-PEFT's LayerNorm
//                                           after the down projection)
//   up   [B, b, d]   up_bias   [B, d]
//
//   adapter(x) = up(relu(norm(down(x))))
//
// A weight may also have batch size 1, in which case it is shared by every
// sequence. Biases and the norm may be undefined tensors (treated as absent).
//
// Thread safety: value type; ApplyAdapter is a pure function.
#ifndef MASKSERVE_CORE_MODEL_ADAPTER_H_
#define MASKSERVE_CORE_MODEL_ADAPTER_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace maskserve {

struct AdapterWeights {
  at::Tensor down;
  at::Tensor down_bias;
  at::Tensor mid_norm_weight;
  at::Tensor mid_norm_bias;
  // Optional [B] 0/1: which sequences use the norm (a batch may mix profiles
  // with and without it). Undefined means all do.
  at::Tensor mid_norm_enabled;
  at::Tensor up;
  at::Tensor up_bias;

  bool defined() const { return down.defined() && up.defined(); }
};

// The bottleneck b used when none is configured: d / 16 (Pfeiffer's
// reduction factor), at least 1.
inline int64_t DefaultBottleneck(int64_t hidden_size) {
  return hidden_size / 16 > 0 ? hidden_size / 16 : 1;
}

// x: [B, T, d] -> [B, T, d]. Throws InvalidArgument on shape mismatch.
at::Tensor ApplyAdapter(const at::Tensor& x, const AdapterWeights& weights);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_ADAPTER_H_
