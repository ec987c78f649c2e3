#include "core/training/classification_metrics.h"

#include <ATen/ATen.h>

#include <cmath>

namespace maskserve {

EvalResult ClassificationMetrics(const at::Tensor& logits, const at::Tensor& labels,
                                 int64_t num_labels) {
  EvalResult r;
  r.examples = labels.size(0);
  if (r.examples == 0) return r;
  r.loss = at::cross_entropy_loss(logits.to(at::kFloat), labels).item<double>();
  at::Tensor predicted = logits.argmax(1);
  r.accuracy = predicted.eq(labels).to(at::kFloat).mean().item<double>();
  double f1_sum = 0;
  int64_t classes = 0;
  for (int64_t c = 0; c < num_labels; ++c) {
    const double tp = (predicted.eq(c) & labels.eq(c)).sum().item<double>();
    const double fp = (predicted.eq(c) & labels.ne(c)).sum().item<double>();
    const double fn = (predicted.ne(c) & labels.eq(c)).sum().item<double>();
    if (tp + fp + fn == 0) continue;  // class absent from both
    f1_sum += 2 * tp / (2 * tp + fp + fn);
    ++classes;
  }
  r.macro_f1 = classes ? f1_sum / double(classes) : 0;
  return r;
}

bool BetterEval(const EvalResult& a, const EvalResult& b) {
  return a.accuracy > b.accuracy + 1e-12 ||
         (std::abs(a.accuracy - b.accuracy) <= 1e-12 && a.loss < b.loss);
}

}  // namespace maskserve
