// File: core/training/trainable_profile.h
//
// The trainable parameters of one profile for each PEFT method (the head is
// handled by the trainer, since every method has one):
//
//   XPEFT_HARD / XPEFT_SOFT  logits S_A, S_B [L, N] (+ the b-dim LayerNorm
//                            after the down projection)
//   PROPETL_LAYER            scores per layer for the prototype's down and
//                            up weights, init U(+-1/sqrt(fan_in))
//   PROPETL_HYBRID           one task score tensor per projection; masks are
//                            OR-ed with the prototype's shared layer masks
//   ADAPTER                  a full Pfeiffer adapter per layer (up init 0)
//   HEAD_ONLY                nothing
//
// TrainingAdapters() is what a training step runs (stochastic for X-PEFT
// hard); InferenceAdapters() is what serving will compose from the exported
// ProfileData. Not thread-safe: one trainer owns it.
#ifndef MASKSERVE_CORE_TRAINING_TRAINABLE_PROFILE_H_
#define MASKSERVE_CORE_TRAINING_TRAINABLE_PROFILE_H_

#include <memory>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "core/model/adapter.h"
#include "core/peft/composed_profile.h"
#include "core/profile/profile_data.h"

namespace maskserve {

// Where a training step stands in the noise / temperature schedules.
struct StepSchedule {
  double gumbel_noise = 1.0;  // nu
  double temperature = 1.0;   // tau
};

struct TrainableProfileOptions {
  Method method = Method::kXpeftHard;
  int64_t xpeft_top_k = 50;
  bool xpeft_layer_norm = true;
  double propetl_keep_fraction = 0.5;
};

class TrainableProfile {
 public:
  virtual ~TrainableProfile() = default;

  // Parameters of the mask group (high learning rate, no weight decay) and
  // of the weight group (LayerNorms, adapter weights).
  virtual std::vector<at::Tensor> mask_parameters() = 0;
  virtual std::vector<at::Tensor> weight_parameters() = 0;
  // One entry per layer, batch size 1; empty for HEAD_ONLY.
  virtual std::vector<AdapterWeights> TrainingAdapters(const StepSchedule& schedule,
                                                       at::Generator& generator) = 0;
  virtual std::vector<AdapterWeights> InferenceAdapters() = 0;
  // Writes method-specific payload and shape fields.
  virtual void Export(ProfileData* profile) const = 0;

  // Copies of every parameter, and their restoration (best-epoch selection).
  std::vector<at::Tensor> Snapshot();
  void Restore(const std::vector<at::Tensor>& snapshot);
};

// `backbone` gives L, d, the device and dtype; `banks` must hold the bank
// the method needs (else FailedPrecondition). Initialisation draws from
// `generator`.
std::unique_ptr<TrainableProfile> MakeTrainableProfile(const TrainableProfileOptions& options,
                                                       const BertModel& backbone,
                                                       const ServingBanks& banks,
                                                       at::Generator& generator);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_TRAINABLE_PROFILE_H_
