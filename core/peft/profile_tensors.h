// File: core/peft/profile_tensors.h
//
// Conversions between a profile's stored form (ProfileData: packed bits,
// fp16 and int8 arrays, layouts documented in core/profile/profile_data.h) and
// tensors, in
// both directions, kept side by side so that what the trainer writes is
// exactly what serving reads.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_PEFT_PROFILE_TENSORS_H_
#define MASKSERVE_CORE_PEFT_PROFILE_TENSORS_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/profile/profile_data.h"

namespace maskserve {

// fp16 bits <-> float32 CPU tensors of `shape`.
at::Tensor HalvesToTensor(const std::vector<uint16_t>& halves, at::IntArrayRef shape);
std::vector<uint16_t> TensorToHalves(const at::Tensor& t);

// Symmetric per-row int8 quantisation of a matrix [R, n]: row r is stored as
// values[r, :] * scales[r] with |values| <= 127 and scales[r] (fp16) =
// max|row r| / 127 rounded up to the next fp16 value, so that every element
// dequantises to within scales[r] / 2 of its value. An all-zero row gets
// scale 0; a row beyond fp16 range (max|row| > 127 * 65504) saturates.
// Throws Internal on NaN.
struct Int8Rows {
  std::vector<int8_t> values;    // [R, n], row-major
  std::vector<uint16_t> scales;  // [R], fp16 bits
};
Int8Rows QuantizeInt8Rows(const at::Tensor& matrix);
// values * scales as a float32 CPU tensor [R, n] (R = scales.size()).
at::Tensor DequantizeInt8Rows(const std::vector<int8_t>& values,
                              const std::vector<uint16_t>& scales, int64_t n);

// The head weight [C, d] as a float32 CPU tensor, from whichever form the
// profile stores (fp16 head_weight or int8 head_weight_int8 + scales).
at::Tensor HeadWeightTensor(const ProfileData& profile);
// Stores `weight` [C, d] as fp16 head_weight or, with `int8`, as
// head_weight_int8 + head_weight_scale (QuantizeInt8Rows); clears the other
// form.
void StoreHeadWeight(const at::Tensor& weight, bool int8, ProfileData* profile);

// X-PEFT masks as [L, 1, N] float tensors (A then B): hard masks are
// k-hot / k, soft masks the stored weights.
std::pair<at::Tensor, at::Tensor> XpeftMasks(const ProfileData& profile);
// Stores hard masks from logits [L, N] (A and B) as packed top-k bits.
void StoreXpeftHardMasks(const at::Tensor& logits_a, const at::Tensor& logits_b, int64_t k,
                         ProfileData* profile);
// Stores soft masks (softmax of the logits) as fp16.
void StoreXpeftSoftMasks(const at::Tensor& logits_a, const at::Tensor& logits_b,
                         ProfileData* profile);

// ProPETL masks as 0/1 float tensors: PROPETL_LAYER -> [L, 1, d, b] and
// [L, 1, b, d]; PROPETL_HYBRID -> the task masks [d, b] and [b, d].
std::pair<at::Tensor, at::Tensor> PropetlMasks(const ProfileData& profile);
// `down` [L, d, b] / [d, b] and `up` [L, b, d] / [b, d] 0/1 masks.
void StorePropetlMasks(const at::Tensor& down, const at::Tensor& up, ProfileData* profile);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_PROFILE_TENSORS_H_
