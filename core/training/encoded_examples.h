// File: core/training/encoded_examples.h
//
// Labelled examples tokenized once and padded per batch (PadEncodings), for
// the trainers (per-profile training and bank building):
//
//   EncodedExamples set(tokenizer, examples, num_labels, /*max_length=*/128);
//   ExampleBatch batch = set.Batch({3, 0, 7}, device);  // padded to its longest row
//
// The constructor checks every label (InvalidArgument naming
// "examples[i].label"). Thread safety: immutable after construction.
#ifndef MASKSERVE_CORE_TRAINING_ENCODED_EXAMPLES_H_
#define MASKSERVE_CORE_TRAINING_ENCODED_EXAMPLES_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/padded_batch.h"
#include "core/text/wordpiece_tokenizer.h"
#include "core/training/training_example.h"

namespace maskserve {

class EncodedExamples {
 public:
  EncodedExamples(const WordPieceTokenizer& tokenizer, const std::vector<TrainingExample>& examples,
                  int64_t num_labels, int64_t max_length);

  int64_t size() const { return int64_t(labels_.size()); }
  const std::vector<int64_t>& labels() const { return labels_; }

  // Rows `rows` (indices into the examples), padded to their longest row.
  ExampleBatch Batch(const std::vector<int64_t>& rows, const at::Device& device) const;

 private:
  std::vector<Encoding> encodings_;
  std::vector<int64_t> labels_;
};

// Splits [0, n) into consecutive chunks of at most `chunk` indices taken
// from `rows` (for evaluation passes).
std::vector<std::vector<int64_t>> Chunks(const std::vector<int64_t>& rows, size_t chunk);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_ENCODED_EXAMPLES_H_
