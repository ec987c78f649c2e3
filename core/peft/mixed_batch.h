// File: core/peft/mixed_batch.h
//
// ClassifyMixedBatch() runs ONE backbone forward for sequences that belong
// to different composed profiles (of any method) and returns each
// sequence's logits, equal (within fp tolerance) to running each profile
// alone. The serving batcher's forward is this call.
//
// Thread safety: reentrant (the backbone and profiles are read-only).
#ifndef MASKSERVE_CORE_PEFT_MIXED_BATCH_H_
#define MASKSERVE_CORE_PEFT_MIXED_BATCH_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/bert_model.h"
#include "core/peft/composed_profile.h"

namespace maskserve {

// ids/mask/types: int64 [B, T]; profile_of[i] indexes `profiles` for
// sequence i. Returns B float32 CPU tensors of logits (shape [C_i]).
std::vector<at::Tensor> ClassifyMixedBatch(const BertModel& backbone,
                                           const std::vector<const ComposedProfile*>& profiles,
                                           const std::vector<int64_t>& profile_of,
                                           const at::Tensor& ids, const at::Tensor& mask,
                                           const at::Tensor& types);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_MIXED_BATCH_H_
