// File: core/encoded_examples.h
//
// Labelled examples tokenized once and padded per batch, for the trainers
// (per-profile training and bank building; PadEncodings also pads the
// server's prediction batches):
//
//   EncodedExamples set(tokenizer, examples, num_labels, /*max_length=*/128);
//   ExampleBatch batch = set.Batch({3, 0, 7}, device);  // padded to its longest row
//
// The constructor checks every label (InvalidArgument naming
// "examples[i].label"). Thread safety: immutable after construction.
#ifndef MASKSERVE_CORE_ENCODED_EXAMPLES_H_
#define MASKSERVE_CORE_ENCODED_EXAMPLES_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/training_example.h"
#include "core/wordpiece_tokenizer.h"

namespace maskserve {

// int64 [n, T] ids / attention mask / token types and [n] labels.
struct ExampleBatch {
  at::Tensor ids, mask, types, labels;
};

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

// `rows` padded to their longest row (id 0, type 0, attention mask 0) as
// int64 [n, T] ids / mask / types on `device`; labels stay undefined.
ExampleBatch PadEncodings(const std::vector<const Encoding*>& rows, const at::Device& device);

// Splits [0, n) into consecutive chunks of at most `chunk` indices taken
// from `rows` (for evaluation passes).
std::vector<std::vector<int64_t>> Chunks(const std::vector<int64_t>& rows, size_t chunk);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_ENCODED_EXAMPLES_H_
