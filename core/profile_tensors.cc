#include "core/profile_tensors.h"

#include <ATen/ATen.h>

#include <cstring>

#include "core/bit_packing.h"
#include "core/error.h"

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
