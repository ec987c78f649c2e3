// File: core/training/classification_metrics.h
//
// Loss, accuracy and macro-F1 of logits against labels, as reported in
// training progress and stored with every profile.
//
// Thread safety: pure function.
#ifndef MASKSERVE_CORE_TRAINING_CLASSIFICATION_METRICS_H_
#define MASKSERVE_CORE_TRAINING_CLASSIFICATION_METRICS_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace maskserve {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  int64_t examples = 0;
};

// logits [n, C] (float), labels int64 [n]. Macro-F1 averages over the
// classes present in the labels or the predictions. All zero for n = 0.
EvalResult ClassificationMetrics(const at::Tensor& logits, const at::Tensor& labels,
                                 int64_t num_labels);

// True when `a` is better than `b`: higher accuracy, then lower loss.
bool BetterEval(const EvalResult& a, const EvalResult& b);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_CLASSIFICATION_METRICS_H_
