// File: core/peft/composed_profile.h
//
// A profile ready to serve: its per-layer adapter (composed once from the
// bank and its masks), its head and label names, as tensors on the serving
// device in the serving dtype. Built from the stored ProfileData by
// ComposeProfile(), which refuses profiles whose shared head is not loaded
// or has changed, profiles trained for another backbone or bank and
// ADAPTER profiles of another bottleneck than the server's
// (ServingBanks::AdapterBottleneck) (FAILED_PRECONDITION), and profiles
// with NaN or infinite weights (DATA_LOSS).
//
// core/peft/mixed_batch.h runs one forward for sequences of many profiles.
//
// Composition cost is paid once per profile version: callers cache
// ComposedProfile objects (the server's resident profile table does).
//
// Thread safety: a ComposedProfile is immutable.
#ifndef MASKSERVE_CORE_PEFT_COMPOSED_PROFILE_H_
#define MASKSERVE_CORE_PEFT_COMPOSED_PROFILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/bert_model.h"
#include "core/peft/serving_banks.h"
#include "core/profile/profile_data.h"

namespace maskserve {

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

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_COMPOSED_PROFILE_H_
