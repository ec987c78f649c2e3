// File: core/benchmarks/benchmark_eval.h
//
// Scoring shared by the quality benchmarks (personalization_benchmark,
// quality_benchmark):
//
// - ScoreServedProfile(): a trained profile scored the way the server
//   would serve it: encoded and decoded by the profile codec, composed
//   (ComposeProfile) and classified by ClassifyMixedBatch in batches of 64.
// - FitNaiveBayes() / ScoreNaiveBayes(): the bag-of-words naive Bayes floor
//   (core/benchmarks/naive_bayes.h) on the same examples (text and text_pair joined by
//   a space), scored by the same metrics (its loss is not meaningful).
//
// Thread safety: pure functions over immutable inputs.
#ifndef MASKSERVE_CORE_BENCHMARKS_BENCHMARK_EVAL_H_
#define MASKSERVE_CORE_BENCHMARKS_BENCHMARK_EVAL_H_

#include <cstdint>
#include <vector>

#include "core/benchmarks/naive_bayes.h"
#include "core/model/backbone.h"
#include "core/peft/composed_profile.h"
#include "core/profile/profile_data.h"
#include "core/training/classification_metrics.h"
#include "core/training/training_example.h"

namespace maskserve {

// Accuracy and macro-F1 (and loss) of `profile` on `examples`, whose labels
// index profile.labels; texts are cut to `max_length` tokens.
EvalResult ScoreServedProfile(const Backbone& backbone, const ServingBanks& banks,
                              const ProfileData& profile,
                              const std::vector<TrainingExample>& examples, int64_t max_length);

NaiveBayesClassifier FitNaiveBayes(const std::vector<TrainingExample>& train, int64_t num_labels);

// Accuracy and macro-F1 of `model`'s predictions on `examples`; the loss
// field is that of one-hot logits and means nothing.
EvalResult ScoreNaiveBayes(const NaiveBayesClassifier& model,
                           const std::vector<TrainingExample>& examples);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BENCHMARKS_BENCHMARK_EVAL_H_
