// File: core/profile_tensors.h
//
// Conversions between a profile's stored form (ProfileData: packed bits and
// fp16 arrays, layouts documented in core/profile_data.h) and tensors, in
// both directions, kept side by side so that what the trainer writes is
// exactly what serving reads.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_PROFILE_TENSORS_H_
#define MASKSERVE_CORE_PROFILE_TENSORS_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/profile_data.h"

namespace maskserve {

// fp16 bits <-> float32 CPU tensors of `shape`.
at::Tensor HalvesToTensor(const std::vector<uint16_t>& halves, at::IntArrayRef shape);
std::vector<uint16_t> TensorToHalves(const at::Tensor& t);

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

#endif  // MASKSERVE_CORE_PROFILE_TENSORS_H_
