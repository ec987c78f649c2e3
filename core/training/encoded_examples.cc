#include "core/training/encoded_examples.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "core/base/error.h"

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
  std::vector<const Encoding*> encodings;
  std::vector<int64_t> labels;
  encodings.reserve(rows.size());
  labels.reserve(rows.size());
  for (int64_t r : rows) {
    encodings.push_back(&encodings_.at(size_t(r)));
    labels.push_back(labels_[size_t(r)]);
  }
  ExampleBatch batch = PadEncodings(encodings, device);
  batch.labels = at::tensor(labels, at::kLong).to(device);
  return batch;
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
