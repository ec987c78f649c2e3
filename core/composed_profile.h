// File: core/composed_profile.h
//
// A profile ready to serve: its per-layer adapter (composed once from the
// bank and its masks), its head and label names, as tensors on the serving
// device in the serving dtype. Built from the stored ProfileData by
// ComposeProfile(), which refuses profiles whose shared head is not loaded
// or has changed, and profiles trained for another backbone or
// bank (FAILED_PRECONDITION) or with other shapes.
//
// ClassifyMixedBatch() runs ONE backbone forward for sequences that belong
// to different profiles (of any method) and returns each sequence's logits,
// equal (within fp tolerance) to running each profile alone.
//
// Composition cost is paid once per profile version: callers cache
// ComposedProfile objects (the server's resident profile table does).
//
// Thread safety: a ComposedProfile is immutable; ClassifyMixedBatch is
// reentrant.
#ifndef MASKSERVE_CORE_COMPOSED_PROFILE_H_
#define MASKSERVE_CORE_COMPOSED_PROFILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/adapter_bank.h"
#include "core/bert_model.h"
#include "core/profile_data.h"
#include "core/shared_heads.h"

namespace maskserve {

// The banks a server (or trainer) has loaded; either may be null.
struct ServingBanks {
  std::shared_ptr<const AdapterBank> adapters;    // X-PEFT
  std::shared_ptr<const PrototypeBank> prototype; // ProPETL
  std::shared_ptr<const SharedHeadSet> heads;     // shared heads (may be null)
};

struct ComposedProfile {
  Method method = Method::kUnspecified;
  // [L, d, b], [L, b], [L, b, d], [L, d]; undefined for HEAD_ONLY.
  at::Tensor down, down_bias, up, up_bias;
  // [L, b] X-PEFT LayerNorm after the down projection, or undefined.
  at::Tensor norm_weight, norm_bias;
  // [C, d] (an int8 head is dequantised), [C]. A shared head's tensors are
  // those of the SharedHeadSet (no copy per profile).
  at::Tensor head_weight, head_bias;
  bool head_is_shared = false;
  std::vector<std::string> labels;

  bool has_adapter() const { return down.defined(); }
  // Bytes held on the device by this profile alone (for cache accounting;
  // a shared head is not counted).
  int64_t device_bytes() const;
};

ComposedProfile ComposeProfile(const ProfileData& profile, const BertModel& backbone,
                               const ServingBanks& banks);

// ids/mask/types: int64 [B, T]; profile_of[i] indexes `profiles` for
// sequence i. Returns B float32 CPU tensors of logits (shape [C_i]).
std::vector<at::Tensor> ClassifyMixedBatch(const BertModel& backbone,
                                           const std::vector<const ComposedProfile*>& profiles,
                                           const std::vector<int64_t>& profile_of,
                                           const at::Tensor& ids, const at::Tensor& mask,
                                           const at::Tensor& types);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_COMPOSED_PROFILE_H_
