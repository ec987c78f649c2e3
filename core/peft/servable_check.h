// File: core/peft/servable_check.h
//
// CheckServable() is the one gate a stored profile passes before anything
// serves it (ComposeProfile for training's evaluation, ProfilePool for the
// server): it must have been trained for the loaded backbone and bank (by
// fingerprint and shape), its shared head must be loaded and unchanged,
// and an ADAPTER profile must have this server's bottleneck
// (ServingBanks::AdapterBottleneck). Violations are FailedPrecondition
// naming what differs.
//
// RequireFiniteValues() refuses NaN or infinite weights (DataLoss): a
// diverged fit or a doctored payload would serve NaN probabilities.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_PEFT_SERVABLE_CHECK_H_
#define MASKSERVE_CORE_PEFT_SERVABLE_CHECK_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "core/model/bert_model.h"
#include "core/peft/serving_banks.h"
#include "core/profile/profile_data.h"

namespace maskserve {

// What a servable profile draws on besides its own payload.
struct ServableParts {
  const SharedHead* shared_head = nullptr;   // null for a profile's own head
  const AdapterBank* bank = nullptr;         // X-PEFT
  const PrototypeBank* prototype = nullptr;  // ProPETL
  // The bottleneck its adapter runs with; 0 for HEAD_ONLY.
  int64_t bottleneck = 0;
};

ServableParts CheckServable(const ProfileData& profile, const BertModel& backbone,
                            const ServingBanks& banks);

// Throws DataLoss naming `part` ("head", "adapter") when `t` holds a NaN or
// an infinity.
void RequireFiniteValues(const at::Tensor& t, const char* part);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_SERVABLE_CHECK_H_
