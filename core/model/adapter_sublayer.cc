#include "core/model/adapter_sublayer.h"

#include <ATen/ATen.h>

#include <string>

#include "core/base/error.h"

#if defined(MASKSERVE_WITH_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/cuda/fused_adapter_kernel.h"
#endif

namespace maskserve {

namespace {

void CheckShapes(const at::Tensor& h, const at::Tensor& residual, const BatchAdapters& a,
                 int64_t layer) {
  const int64_t batch = h.size(0), d = h.size(2);
  const bool ok = h.dim() == 3 && residual.sizes() == h.sizes() && a.down.dim() == 4 &&
                  layer >= 0 && layer < a.down.size(0) && a.down.size(2) == d && a.up.dim() == 4 &&
                  a.up.size(3) == d && a.up.size(2) == a.down.size(3) &&
                  a.up.size(1) == a.down.size(1) && a.adapter_of.dim() == 1 &&
                  a.adapter_of.size(0) == batch;
  if (!ok) {
    throw InvalidArgument("adapter sublayer: shape mismatch (layer " + std::to_string(layer) + ")");
  }
}

// x = LN(s), s = h + residual: the ATen reference of the adapter part.
at::Tensor AtenAdapter(const at::Tensor& x, const at::Tensor& s, const at::Tensor& ln_weight,
                       const at::Tensor& ln_bias, double eps, const BatchAdapters& a,
                       int64_t layer) {
  const int64_t batch = x.size(0), d = x.size(2), b = a.down.size(3);
  at::Tensor row = a.gather_index, keep = a.keep;
  if (!row.defined()) {
    const at::Tensor index = a.adapter_of.to(at::kLong);
    row = index.clamp_min(0);
    keep = index.ge(0).view({batch, 1, 1}).to(x.scalar_type());
  }
  auto per_sequence = [&](const at::Tensor& stacked) {
    return stacked[layer].index_select(0, row);
  };
  const int64_t T = x.size(1);
  at::Tensor z = at::baddbmm(per_sequence(a.down_bias).unsqueeze(1).expand({batch, T, b}), x,
                             per_sequence(a.down));
  if (a.norm_weight.defined()) {
    at::Tensor normed =
        at::layer_norm(z, {b}, {}, {}, 1e-5) * per_sequence(a.norm_weight).unsqueeze(1) +
        per_sequence(a.norm_bias).unsqueeze(1);
    z = a.norm_enabled.defined()
            ? at::where(a.norm_enabled.index_select(0, row).view({batch, 1, 1}).to(at::kBool),
                        normed, z)
            : normed;
  }
  z.relu_();
  at::Tensor up_bias = per_sequence(a.up_bias);
  // Sequences without an adapter add exactly zero: LN(0 + s) = LN(s).
  if (keep.defined()) {
    z.mul_(keep);
    up_bias = up_bias * keep.view({batch, 1});
  }
  // a + s in one GEMM pass: (s + up_bias) + z up.
  at::Tensor sum = at::baddbmm(s + up_bias.unsqueeze(1), z, per_sequence(a.up));
  return at::layer_norm(sum, {d}, ln_weight, ln_bias, eps);
}

#if defined(MASKSERVE_WITH_CUDA_KERNELS)
// The kernel has no backward: it runs only where nothing needs gradients.
bool KernelApplies(const at::Tensor& h, const at::Tensor& residual, const BatchAdapters* a) {
  if (!h.is_cuda() || (h.scalar_type() != at::kHalf && h.scalar_type() != at::kFloat)) {
    return false;
  }
  if (h.requires_grad() || residual.requires_grad()) return false;
  if (a != nullptr && a->defined()) {
    for (const at::Tensor* t :
         {&a->down, &a->down_bias, &a->up, &a->up_bias, &a->norm_weight, &a->norm_bias}) {
      if (t->defined() && (t->requires_grad() || !t->is_contiguous() ||
                           t->scalar_type() != h.scalar_type() || t->device() != h.device())) {
        return false;  // the ATen reference handles any layout
      }
    }
    if (a->down.size(3) > 256) return false;
  }
  return h.size(2) % 8 == 0 && h.size(2) <= 1024;
}

const void* LayerPtr(const at::Tensor& stacked, int64_t layer) {
  return stacked.defined() ? stacked[layer].data_ptr() : nullptr;
}

at::Tensor FusedSublayer(const at::Tensor& h, const at::Tensor& residual,
                         const at::Tensor& ln_weight, const at::Tensor& ln_bias, double eps,
                         const BatchAdapters* adapters, int64_t layer) {
  const at::Tensor hc = h.contiguous(), rc = residual.contiguous();
  at::Tensor out = at::empty_like(hc);
  cuda::FusedAdapterArgs args;
  args.type =
      h.scalar_type() == at::kHalf ? cuda::ElementType::kFloat16 : cuda::ElementType::kFloat32;
  args.batch = h.size(0);
  args.seq_len = h.size(1);
  args.hidden = h.size(2);
  args.eps = float(eps);
  args.h = hc.data_ptr();
  args.residual = rc.data_ptr();
  args.ln_weight = ln_weight.data_ptr();
  args.ln_bias = ln_bias.data_ptr();
  args.out = out.data_ptr();
  at::Tensor adapter_of, norm_enabled;
  args.adapters_enabled = adapters != nullptr && adapters->defined();
  if (args.adapters_enabled) {
    const BatchAdapters& a = *adapters;
    adapter_of = a.adapter_of.to(at::kInt).contiguous();
    args.bottleneck = a.down.size(3);
    args.num_profiles = a.down.size(1);
    args.profile_of = adapter_of.data_ptr<int32_t>();
    args.down = LayerPtr(a.down, layer);
    args.down_bias = LayerPtr(a.down_bias, layer);
    args.up = LayerPtr(a.up, layer);
    args.up_bias = LayerPtr(a.up_bias, layer);
    args.norm_weight = LayerPtr(a.norm_weight, layer);
    args.norm_bias = LayerPtr(a.norm_bias, layer);
    if (a.norm_enabled.defined()) {
      norm_enabled = a.norm_enabled.to(at::kByte).contiguous();
      args.norm_enabled = norm_enabled.data_ptr<uint8_t>();
    }
  }
  // On the tensors' device and its current stream (a server on cuda:1 has
  // not made that device current on this thread).
  const c10::cuda::CUDAGuard guard(h.device());
  const std::string error = cuda::LaunchFusedAdapterSublayer(
      args, c10::cuda::getCurrentCUDAStream(h.device().index()).stream());
  if (!error.empty()) throw Internal("fused adapter kernel: " + error);
  return out;
}
#endif

}  // namespace

bool HasFusedAdapterKernel() {
#if defined(MASKSERVE_WITH_CUDA_KERNELS)
  return true;
#else
  return false;
#endif
}

at::Tensor AdapterSublayer(const at::Tensor& h, const at::Tensor& residual,
                           const at::Tensor& ln_weight, const at::Tensor& ln_bias, double eps,
                           const BatchAdapters* adapters, int64_t layer, SublayerKernel kernel) {
  const bool with_adapters = adapters != nullptr && adapters->defined();
  if (with_adapters) CheckShapes(h, residual, *adapters, layer);
#if defined(MASKSERVE_WITH_CUDA_KERNELS)
  if (kernel == SublayerKernel::kAuto && KernelApplies(h, residual, adapters)) {
    return FusedSublayer(h, residual, ln_weight, ln_bias, eps, adapters, layer);
  }
#else
  (void)kernel;
#endif
  const int64_t d = h.size(2);
  at::Tensor s = h + residual;
  at::Tensor x = at::layer_norm(s, {d}, ln_weight, ln_bias, eps);
  if (!with_adapters) return x;
  return AtenAdapter(x, s, ln_weight, ln_bias, eps, *adapters, layer);
}

}  // namespace maskserve
