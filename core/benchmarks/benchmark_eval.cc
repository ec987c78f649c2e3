#include "core/benchmarks/benchmark_eval.h"

#include <ATen/ATen.h>

#include "core/peft/mixed_batch.h"
#include "core/profile/profile_codec.h"
#include "core/training/encoded_examples.h"

namespace maskserve {

namespace {

std::string NaiveBayesText(const TrainingExample& e) {
  return e.text_pair.empty() ? e.text : e.text + " " + e.text_pair;
}

}  // namespace

EvalResult ScoreServedProfile(const Backbone& backbone, const ServingBanks& banks,
                              const ProfileData& profile,
                              const std::vector<TrainingExample>& examples, int64_t max_length) {
  const int64_t num_labels = int64_t(profile.labels.size());
  ComposedProfile composed =
      ComposeProfile(DecodeProfile(EncodeProfile(profile)), *backbone.model, banks);
  EncodedExamples set(*backbone.tokenizer, examples, num_labels, max_length);
  std::vector<int64_t> rows(examples.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int64_t(i);
  std::vector<at::Tensor> logits;
  at::InferenceMode guard;
  for (const auto& chunk : Chunks(rows, 64)) {
    ExampleBatch batch = set.Batch(chunk, backbone.model->device().device);
    for (at::Tensor& l :
         ClassifyMixedBatch(*backbone.model, {&composed}, std::vector<int64_t>(chunk.size(), 0),
                            batch.ids, batch.mask, batch.types)) {
      logits.push_back(l.unsqueeze(0));
    }
  }
  if (logits.empty()) return EvalResult();
  return ClassificationMetrics(at::cat(logits), at::tensor(set.labels(), at::kLong), num_labels);
}

NaiveBayesClassifier FitNaiveBayes(const std::vector<TrainingExample>& train, int64_t num_labels) {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
  for (const TrainingExample& e : train) {
    texts.push_back(NaiveBayesText(e));
    labels.push_back(e.label);
  }
  NaiveBayesClassifier model;
  model.Fit(texts, labels, num_labels);
  return model;
}

EvalResult ScoreNaiveBayes(const NaiveBayesClassifier& model,
                           const std::vector<TrainingExample>& examples) {
  if (examples.empty()) return EvalResult();
  const int64_t n = int64_t(examples.size()), num_labels = model.num_labels();
  std::vector<float> one_hot(size_t(n * num_labels), 0.0f);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const TrainingExample& e = examples[size_t(i)];
    one_hot[size_t(i * num_labels + model.Predict(NaiveBayesText(e)))] = 1.0f;
    labels.push_back(e.label);
  }
  const at::Tensor logits = at::tensor(one_hot, at::kFloat).view({n, num_labels});
  return ClassificationMetrics(logits, at::tensor(labels, at::kLong), num_labels);
}

}  // namespace maskserve
