// File: core/training/training_options.h
//
// The options of one profile's training run (core/training/profile_trainer.h), with
// their defaults and validation.
//
// Thread safety: plain value type.
#ifndef MASKSERVE_CORE_TRAINING_TRAINING_OPTIONS_H_
#define MASKSERVE_CORE_TRAINING_TRAINING_OPTIONS_H_

#include <cstdint>
#include <string>

#include "core/peft/composed_profile.h"
#include "core/profile/profile_data.h"

namespace maskserve {

// A profile's training options. Fields at 0 (and validation_fraction < 0)
// mean "the default for this method and data size", filled in by
// ResolveDefaults (the resolved values are what a job reports):
// - validation: 20% held out for best-epoch selection and early stopping
//   when there are at least kMinExamplesForValidation examples; fewer are
//   all trained on, and the model after the last epoch is published (a
//   handful of held-out examples picks epochs by noise, and the rest are too
//   few to fit).
// - batch size, epochs and learning rates per method (see
//   core/training/training_options.cc, chosen on held-out training data): epochs
//   are set so that training takes at least a method-specific number of
//   optimiser steps, within a range of epochs.
struct TrainingOptions {
  Method method = Method::kXpeftHard;
  int64_t epochs = 0;             // 0: method default for the data size
  int64_t batch_size = 0;         // 0: method default
  double mask_learning_rate = 0;  // 0: method default
  double head_learning_rate = 0;  // 0: method default
  double weight_decay = 0.01;
  double warmup_fraction = 0.1;
  int64_t max_sequence_length = 128;
  int64_t early_stopping_patience = 5;  // 0 = never stop early
  int64_t xpeft_top_k = 0;              // 0: the bank's default k
  double gumbel_noise_start = 1.0, gumbel_noise_end = 0.0;
  double temperature_start = 1.0, temperature_end = 0.1;
  double propetl_keep_fraction = 0;  // 0: 0.3 for hybrid, 0.5 for layer masks
  bool xpeft_layer_norm = true;      // off with a shared head (trained without one)
  bool head_int8 = false;            // store the head weight as int8 + per-row scale
  std::string shared_head;           // name of a frozen shared head; "" = own head
  double validation_fraction = -1;   // < 0: 0.2 from kMinExamplesForValidation on, else 0
  uint64_t seed = 0;

  // Examples held out for validation out of `num_examples` at `fraction`:
  // floor(fraction * n), but at least 1 when fraction > 0 and n >= 2.
  static int64_t NumValidationExamples(double fraction, int64_t num_examples);

  // Fewest examples for which a validation split is held out by default.
  static constexpr int64_t kMinExamplesForValidation = 100;

  // Fills the defaults above for `num_examples` training examples (`banks`
  // gives the bank's k). Idempotent.
  void ResolveDefaults(const ServingBanks& banks, int64_t num_examples);
  // Throws InvalidArgument naming the field ("hyper_parameters.epochs: ...").
  void Validate() const;
  // Validate(), then what depends on the loaded banks: the method's bank is
  // loaded (FailedPrecondition naming "method") and X-PEFT's k is within
  // the bank's N.
  void Validate(const ServingBanks& banks) const;
};

// X-PEFT's k must be in 1..N of `bank`: InvalidArgument naming
// "hyper_parameters.xpeft_top_k" otherwise.
void ValidateXpeftTopK(int64_t k, const AdapterBank& bank);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_TRAINING_OPTIONS_H_
