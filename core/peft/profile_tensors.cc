#include "core/peft/profile_tensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/bit_packing.h"
#include "core/base/error.h"
#include "core/base/fp16.h"

namespace maskserve {

at::Tensor HalvesToTensor(const std::vector<uint16_t>& halves, at::IntArrayRef shape) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kHalf));
  if (size_t(t.numel()) != halves.size()) throw Internal("fp16 array does not match its shape");
  if (!halves.empty()) std::memcpy(t.data_ptr(), halves.data(), halves.size() * 2);
  return t.to(at::kFloat);
}

std::vector<uint16_t> TensorToHalves(const at::Tensor& t) {
  at::Tensor h = t.detach().to(at::kCPU, at::kHalf).contiguous();
  std::vector<uint16_t> out(size_t(h.numel()));
  if (!out.empty()) std::memcpy(out.data(), h.data_ptr(), out.size() * 2);
  return out;
}

Int8Rows QuantizeInt8Rows(const at::Tensor& matrix) {
  if (matrix.dim() != 2) throw Internal("QuantizeInt8Rows: expected a matrix");
  at::Tensor m = matrix.detach().to(at::kCPU, at::kFloat).contiguous();
  const int64_t rows = m.size(0), n = m.size(1);
  const float* data = m.data_ptr<float>();
  Int8Rows out;
  out.values.resize(size_t(rows * n));
  out.scales.resize(size_t(rows));
  constexpr uint16_t kMaxFiniteHalf = 0x7bff;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = data + r * n;
    float max_abs = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (std::isnan(row[j])) throw Internal("QuantizeInt8Rows: NaN in row " + std::to_string(r));
      max_abs = std::max(max_abs, std::abs(row[j]));
    }
    // Round the scale up so that no value needs more than 127 steps; a
    // row too large for fp16 saturates at the largest finite half.
    const float wanted = max_abs / 127.0f;
    uint16_t bits = FloatToHalf(wanted);
    if (HalfToFloat(bits) < wanted && bits < kMaxFiniteHalf) ++bits;
    if (bits > kMaxFiniteHalf) bits = kMaxFiniteHalf;
    out.scales[size_t(r)] = bits;
    const float scale = HalfToFloat(bits);
    int8_t* q = out.values.data() + r * n;
    for (int64_t j = 0; j < n; ++j) {
      const float steps = scale > 0 ? std::nearbyint(row[j] / scale) : 0.0f;
      q[j] = int8_t(std::clamp(steps, -127.0f, 127.0f));
    }
  }
  return out;
}

at::Tensor DequantizeInt8Rows(const std::vector<int8_t>& values,
                              const std::vector<uint16_t>& scales, int64_t n) {
  const int64_t rows = int64_t(scales.size());
  if (int64_t(values.size()) != rows * n) throw Internal("int8 array does not match its shape");
  at::Tensor q = at::empty({rows, n}, at::TensorOptions().dtype(at::kChar));
  if (!values.empty()) std::memcpy(q.data_ptr(), values.data(), values.size());
  return q.to(at::kFloat) * HalvesToTensor(scales, {rows, 1});
}

at::Tensor HeadWeightTensor(const ProfileData& p) {
  const int64_t C = int64_t(p.labels.size()), d = p.shape.hidden_size;
  if (p.has_int8_head()) return DequantizeInt8Rows(p.head_weight_int8, p.head_weight_scale, d);
  return HalvesToTensor(p.head_weight, {C, d});
}

void StoreHeadWeight(const at::Tensor& weight, bool int8, ProfileData* p) {
  if (int8) {
    Int8Rows q = QuantizeInt8Rows(weight);
    p->head_weight_int8 = std::move(q.values);
    p->head_weight_scale = std::move(q.scales);
    p->head_weight.clear();
  } else {
    p->head_weight = TensorToHalves(weight);
    p->head_weight_int8.clear();
    p->head_weight_scale.clear();
  }
}

namespace {

// rows of packed bits -> float 0/1 tensor [rows, bits].
at::Tensor UnpackRows(const std::vector<uint8_t>& packed, int64_t rows, int64_t bits) {
  std::vector<uint8_t> mask = UnpackBitRows(packed.data(), size_t(rows), size_t(bits));
  return at::from_blob(mask.data(), {rows, bits}, at::kByte).to(at::kFloat);
}

std::vector<uint8_t> PackRows(const at::Tensor& mask01, int64_t rows, int64_t bits) {
  at::Tensor bytes = mask01.detach().ne(0).to(at::kCPU, at::kByte).contiguous().view({rows, bits});
  return PackBitRows(bytes.data_ptr<uint8_t>(), size_t(rows), size_t(bits));
}

}  // namespace

std::pair<at::Tensor, at::Tensor> XpeftMasks(const ProfileData& p) {
  const int64_t L = p.shape.num_layers, N = p.shape.num_adapters;
  at::Tensor masks;  // [2, L, N]
  if (p.method == Method::kXpeftHard) {
    masks = UnpackRows(p.mask_bits, 2 * L, N).view({2, L, N}) / double(p.shape.top_k);
  } else if (p.method == Method::kXpeftSoft) {
    masks = HalvesToTensor(p.mask_weights, {2, L, N});
  } else {
    throw Internal("XpeftMasks: not an X-PEFT profile");
  }
  return {masks[0].unsqueeze(1), masks[1].unsqueeze(1)};
}

void StoreXpeftHardMasks(const at::Tensor& logits_a, const at::Tensor& logits_b, int64_t k,
                         ProfileData* p) {
  const int64_t L = logits_a.size(0), N = logits_a.size(1);
  at::Tensor logits = at::stack({logits_a.detach(), logits_b.detach()}).to(at::kCPU);
  at::Tensor khot = at::zeros_like(logits).scatter_(-1, std::get<1>(logits.topk(k, -1)), 1.0);
  p->mask_bits = PackRows(khot, 2 * L, N);
  p->shape.top_k = uint32_t(k);
}

void StoreXpeftSoftMasks(const at::Tensor& logits_a, const at::Tensor& logits_b, ProfileData* p) {
  p->mask_weights = TensorToHalves(
      at::softmax(at::stack({logits_a.detach(), logits_b.detach()}).to(at::kFloat), -1));
}

std::pair<at::Tensor, at::Tensor> PropetlMasks(const ProfileData& p) {
  const int64_t L = p.shape.num_layers, d = p.shape.hidden_size, b = p.shape.bottleneck;
  if (p.method == Method::kPropetlLayer) {
    at::Tensor rows = UnpackRows(p.mask_bits, 2 * L, d * b).view({L, 2, d * b});
    return {rows.select(1, 0).reshape({L, 1, d, b}), rows.select(1, 1).reshape({L, 1, b, d})};
  }
  if (p.method == Method::kPropetlHybrid) {
    at::Tensor rows = UnpackRows(p.mask_bits, 2, d * b);
    return {rows[0].reshape({d, b}), rows[1].reshape({b, d})};
  }
  throw Internal("PropetlMasks: not a ProPETL profile");
}

void StorePropetlMasks(const at::Tensor& down, const at::Tensor& up, ProfileData* p) {
  if (down.dim() == 3) {  // per layer: interleave each layer's down and up rows
    const int64_t L = down.size(0), n = down.size(1) * down.size(2);
    at::Tensor rows = at::stack({down.reshape({L, n}), up.reshape({L, n})}, 1).reshape({2 * L, n});
    p->mask_bits = PackRows(rows, 2 * L, n);
  } else {
    const int64_t n = down.numel();
    p->mask_bits = PackRows(at::stack({down.reshape({n}), up.reshape({n})}), 2, n);
  }
}

}  // namespace maskserve
