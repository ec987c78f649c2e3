// File: core/peft/mixed_batch.h
//
// One backbone forward for sequences that belong to different profiles (of
// any method), returning each sequence's logits, equal (within fp
// tolerance) to running each profile alone:
//
// - ClassifyPooledBatch(): the serving forward. The batch's adapters are
//   composed on the device from the pool's resident masks
//   (ProfilePool::ComposeBatch), every layer runs the fused adapter
//   sublayer, and the heads are one gather and one batched matmul.
// - ClassifyMixedBatch(): over profiles composed one by one
//   (ComposedProfile); training's evaluation scores through it, and it is
//   the reference the pooled path is tested against.
//
// Thread safety: reentrant (the backbone and profiles are read-only).
#ifndef MASKSERVE_CORE_PEFT_MIXED_BATCH_H_
#define MASKSERVE_CORE_PEFT_MIXED_BATCH_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/bert_model.h"
#include "core/model/cuda_graph_forward.h"
#include "core/peft/composed_profile.h"
#include "core/peft/profile_pool.h"

namespace maskserve {

// ids/mask/types: int64 [B, T]; profile_of[i] indexes `profiles` for
// sequence i. Returns B float32 CPU tensors of logits (shape [C_i]).
std::vector<at::Tensor> ClassifyMixedBatch(const BertModel& backbone,
                                           const std::vector<const ComposedProfile*>& profiles,
                                           const std::vector<int64_t>& profile_of,
                                           const at::Tensor& ids, const at::Tensor& mask,
                                           const at::Tensor& types);

// ids/mask/types: int64 [B, T]; profile_of[i] indexes `profiles` (the
// batch's distinct pooled profiles) for sequence i. Returns each sequence's
// logits (one per label of its profile). With `graphs` (and kAuto), the
// forward replays a captured CUDA graph when one fits the batch.
std::vector<std::vector<float>> ClassifyPooledBatch(
    const BertModel& backbone, const ProfilePool& pool,
    const std::vector<const PooledProfile*>& profiles, const std::vector<int64_t>& profile_of,
    const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types,
    SublayerKernel kernel = SublayerKernel::kAuto, CudaGraphForward* graphs = nullptr);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_MIXED_BATCH_H_
