#include "server/engine/prediction.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace maskserve {

Prediction ScoreLogits(const std::vector<float>& logits, const std::vector<std::string>& labels,
                       uint32_t top_k, bool return_logits) {
  Prediction out;
  const size_t n = logits.size();
  if (n == 0) return out;
  // Softmax, shifted by the maximum for range (as at::softmax computes it).
  const float max = *std::max_element(logits.begin(), logits.end());
  out.probabilities.resize(n);
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += out.probabilities[i] = std::exp(logits[i] - max);
  for (float& p : out.probabilities) p /= sum;

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  const std::vector<float>& p = out.probabilities;
  std::stable_sort(order.begin(), order.end(), [&p](size_t a, size_t b) { return p[a] > p[b]; });
  out.label_index = uint32_t(order[0]);
  out.label = labels.at(order[0]);
  const size_t k = std::min<size_t>(n, std::max<uint32_t>(1, top_k));
  for (size_t i = 0; i < k; ++i) {
    out.top.push_back({labels.at(order[i]), uint32_t(order[i]), p[order[i]]});
  }
  if (return_logits) out.logits = logits;
  return out;
}

}  // namespace maskserve
