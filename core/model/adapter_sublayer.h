// File: core/model/adapter_sublayer.h
//
// The FFN output sublayer of a post-LN BERT layer, with an optional
// per-sequence Pfeiffer adapter (AdapterHub `seq_bn`), as serving runs it:
//
//   s = h + r;  x = LN(s)                     (stock: out = x)
//   z = relu(midnorm(x down_p + down_bias_p)); a = z up_p + up_bias_p
//   out = LN(a + s)                           (with sequence i's adapter p)
//
// BatchAdapters holds one forward's adapters for all layers: P composed
// adapters (core/peft/profile_pool.h composes them per batch from the
// resident masks) and each sequence's index among them, -1 for a sequence
// without an adapter. The mid LayerNorm (X-PEFT) has no affine of its own,
// eps 1e-5, then * norm_weight_p + norm_bias_p.
//
// AdapterSublayer() runs the fused CUDA kernel (core/cuda/) on a CUDA
// device when this build has it, and the ATen reference otherwise (the CPU
// path, and what the kernel is tested against). The bare forward runs the
// same function without adapters, so bare and mixed compare fairly.
//
// Thread safety: value type; AdapterSublayer is a pure function.
#ifndef MASKSERVE_CORE_MODEL_ADAPTER_SUBLAYER_H_
#define MASKSERVE_CORE_MODEL_ADAPTER_SUBLAYER_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace maskserve {

struct BatchAdapters {
  at::Tensor down;       // [L, P, d, b]
  at::Tensor down_bias;  // [L, P, b]
  at::Tensor up;         // [L, P, b, d]
  at::Tensor up_bias;    // [L, P, d]
  // [L, P, b] or undefined (no mid norm in this batch).
  at::Tensor norm_weight, norm_bias;
  // [P] uint8: 1 where adapter p uses the mid norm; undefined = all do.
  at::Tensor norm_enabled;
  // [B] int32 on the device: sequence i's adapter, or -1 for none.
  at::Tensor adapter_of;
  // Optional, derived from adapter_of once per batch for the ATen path
  // (computed per layer when undefined): [B] int64 adapter_of clamped at 0,
  // and [B, 1, 1] 1/0 in the serving dtype (undefined when every sequence
  // has an adapter).
  at::Tensor gather_index, keep;

  bool defined() const { return down.defined(); }
};

// Which implementation AdapterSublayer uses.
enum class SublayerKernel {
  kAuto,  // the fused CUDA kernel where it applies, else ATen
  kAten,  // always the ATen reference
};

// h (FFN output), residual (attention output): [B, T, d]; ln_*: [d].
// `adapters` null or undefined runs the stock sublayer. Throws
// InvalidArgument on shape mismatch.
at::Tensor AdapterSublayer(const at::Tensor& h, const at::Tensor& residual,
                           const at::Tensor& ln_weight, const at::Tensor& ln_bias, double eps,
                           const BatchAdapters* adapters, int64_t layer,
                           SublayerKernel kernel = SublayerKernel::kAuto);

// True when this build links the fused CUDA kernel (it runs only on CUDA
// tensors of float16 or float32).
bool HasFusedAdapterKernel();

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_ADAPTER_SUBLAYER_H_
