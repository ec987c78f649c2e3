// File: core/training/profile_trainer.h
//
// Fits one profile's parameters (masks or adapter, plus its head) on
// labelled examples with the backbone and the banks frozen:
//
// - AdamW with two groups: mask logits / scores at `mask_learning_rate`
//   (no weight decay) and head, LayerNorms and adapter weights at
//   `head_learning_rate`; linear warm-up over `warmup_fraction` of the steps,
//   then linear decay to 0.
// - X-PEFT hard: Gumbel noise nu and temperature tau annealed linearly from
//   their start to their end values over training.
// - A validation split (`validation_fraction`, shuffled by `seed`; by
//   default only with enough examples, see TrainingOptions); after every
//   epoch the validation metrics are computed and the best epoch (by
//   accuracy, then loss) is kept; training stops early after
//   `early_stopping_patience` epochs without improvement. Without one the
//   last epoch is kept.
// - The published profile is scored on its own training examples through
//   the inference path (ProfileMetrics::train_*).
// - HEAD_ONLY computes the frozen pooled features once and trains the head
//   on them.
// - The head is exported with the standardisation folded in, as fp16 or,
//   with `head_int8`, as int8 with one fp16 scale per class
//   (core/peft/profile_tensors.h StoreHeadWeight).
// - With `shared_head` set, the named head of banks.heads is used frozen
//   (its labels must equal the given ones; HEAD_ONLY is refused) and the
//   profile stores only a reference to it.
// - Deterministic for a given seed on CPU. Progress is reported after every
//   step and epoch; `cancelled()` is polled every step (throws Cancelled).
//
//   ProfileTrainer trainer(backbone, banks);
//   ProfileData profile = trainer.Train(examples, labels, options, on_progress, never);
//
// Thread safety: Train() is const and may run concurrently with serving
// (the backbone is shared read-only).
#ifndef MASKSERVE_CORE_TRAINING_PROFILE_TRAINER_H_
#define MASKSERVE_CORE_TRAINING_PROFILE_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/model/backbone.h"
#include "core/peft/composed_profile.h"
#include "core/profile/profile_data.h"
#include "core/training/classification_metrics.h"
#include "core/training/training_example.h"
#include "core/training/training_options.h"

namespace maskserve {

struct TrainingProgress {
  int64_t epoch = 0;  // 1-based, the epoch in progress or just finished
  int64_t total_epochs = 0;
  int64_t step = 0;
  int64_t total_steps = 0;
  double train_loss = 0;  // mean over the epoch so far
  bool has_validation = false;
  EvalResult validation;       // after the last finished epoch
  EvalResult best_validation;  // of the epoch that will be published
};

class ProfileTrainer {
 public:
  ProfileTrainer(Backbone backbone, ServingBanks banks);

  // Throws InvalidArgument (bad options or examples, naming the field; an
  // unknown shared head or one with other labels names "shared_head" /
  // "label_names"), FailedPrecondition (the method's bank is not loaded) or
  // Cancelled.
  ProfileData Train(const std::vector<TrainingExample>& examples,
                    const std::vector<std::string>& labels, TrainingOptions options,
                    const std::function<void(const TrainingProgress&)>& on_progress,
                    const std::function<bool()>& cancelled) const;

 private:
  Backbone backbone_;
  ServingBanks banks_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_PROFILE_TRAINER_H_
