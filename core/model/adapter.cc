#include "core/model/adapter.h"

#include <ATen/ATen.h>

#include <string>

#include "core/base/error.h"

namespace maskserve {

namespace {
std::string Shape(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

// [B, n] (or [1, n]) -> [B, 1, n] for broadcasting over tokens.
at::Tensor PerSequence(const at::Tensor& t) { return t.unsqueeze(1); }

at::Tensor BatchedMatmul(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  // x [B, T, in], w [B or 1, in, out].
  if (w.size(0) == 1) {  // one adapter for the whole batch: a plain GEMM
    at::Tensor y = at::matmul(x, w[0]);
    return bias.defined() ? y + bias[0] : y;
  }
  at::Tensor weight = w.size(0) == x.size(0) ? w : w.expand({x.size(0), w.size(1), w.size(2)});
  if (bias.defined()) {
    at::Tensor b = PerSequence(bias).expand({x.size(0), x.size(1), w.size(2)});
    return at::baddbmm(b, x, weight);
  }
  return at::bmm(x, weight);
}
}  // namespace

at::Tensor ApplyAdapter(const at::Tensor& x, const AdapterWeights& w) {
  if (x.dim() != 3 || w.down.dim() != 3 || w.up.dim() != 3) {
    throw InvalidArgument("adapter: expected x [B,T,d], down [B,d,b], up [B,b,d]; got x " +
                          Shape(x) + ", down " + Shape(w.down) + ", up " + Shape(w.up));
  }
  const int64_t batch = x.size(0), d = x.size(2), b = w.down.size(2);
  auto batch_ok = [batch](const at::Tensor& t) { return t.size(0) == batch || t.size(0) == 1; };
  if (!batch_ok(w.down) || !batch_ok(w.up) || w.down.size(1) != d || w.up.size(1) != b ||
      w.up.size(2) != d) {
    throw InvalidArgument("adapter: shape mismatch: x " + Shape(x) + ", down " + Shape(w.down) +
                          ", up " + Shape(w.up));
  }
  at::Tensor h = BatchedMatmul(x, w.down, w.down_bias);
  if (w.mid_norm_weight.defined()) {
    at::Tensor normed = at::layer_norm(h, {b}, {}, {}, 1e-5) * PerSequence(w.mid_norm_weight);
    if (w.mid_norm_bias.defined()) normed = normed + PerSequence(w.mid_norm_bias);
    h = w.mid_norm_enabled.defined()
            ? at::where(w.mid_norm_enabled.view({-1, 1, 1}).to(at::kBool), normed, h)
            : normed;
  }
  h = at::relu(h);
  return BatchedMatmul(h, w.up, w.up_bias);
}

}  // namespace maskserve
