#include "core/encoded_examples.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "core/error.h"

namespace maskserve {

EncodedExamples::EncodedExamples(const WordPieceTokenizer& tokenizer,
                                 const std::vector<TrainingExample>& examples, int64_t num_labels,
                                 int64_t max_length) {
  EncodeOptions options;
  options.max_length = max_length;
  encodings_.reserve(examples.size());
  labels_.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const TrainingExample& e = examples[i];
    if (e.label < 0 || e.label >= num_labels) {
      throw InvalidArgument("examples[" + std::to_string(i) + "].label: out of range");
    }
    encodings_.push_back(e.text_pair.empty() ? tokenizer.Encode(e.text, options)
                                             : tokenizer.EncodePair(e.text, e.text_pair, options));
    labels_.push_back(e.label);
  }
}

ExampleBatch EncodedExamples::Batch(const std::vector<int64_t>& rows,
                                    const at::Device& device) const {
  int64_t seq = 0;
  for (int64_t r : rows) {
    seq = std::max<int64_t>(seq, int64_t(encodings_.at(size_t(r)).input_ids.size()));
  }
  const int64_t n = int64_t(rows.size());
  std::vector<int64_t> ids(size_t(n * seq), 0), mask(size_t(n * seq), 0),
      types(size_t(n * seq), 0), labels;
  labels.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const Encoding& e = encodings_[size_t(rows[size_t(i)])];
    std::copy(e.input_ids.begin(), e.input_ids.end(), ids.begin() + i * seq);
    std::copy(e.attention_mask.begin(), e.attention_mask.end(), mask.begin() + i * seq);
    std::copy(e.token_type_ids.begin(), e.token_type_ids.end(), types.begin() + i * seq);
    labels.push_back(labels_[size_t(rows[size_t(i)])]);
  }
  auto make = [&](std::vector<int64_t>& v, std::vector<int64_t> shape) {
    return at::from_blob(v.data(), shape, at::kLong).clone().to(device);
  };
  return {make(ids, {n, seq}), make(mask, {n, seq}), make(types, {n, seq}), make(labels, {n})};
}

std::vector<std::vector<int64_t>> Chunks(const std::vector<int64_t>& rows, size_t chunk) {
  std::vector<std::vector<int64_t>> out;
  for (size_t start = 0; start < rows.size(); start += chunk) {
    out.emplace_back(rows.begin() + long(start),
                     rows.begin() + long(std::min(rows.size(), start + chunk)));
  }
  return out;
}

}  // namespace maskserve
