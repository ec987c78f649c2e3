// File: core/model/padded_batch.h
//
// The backbone's input for a batch of tokenized sequences: ids, attention
// mask and token types as int64 [n, T], padded to the longest sequence (id
// 0, mask 0, type 0). Serving pads its prediction batches and the trainers
// their minibatches with the same PadEncodings().
//
// Thread safety: a pure function; ExampleBatch is a value type.
#ifndef MASKSERVE_CORE_MODEL_PADDED_BATCH_H_
#define MASKSERVE_CORE_MODEL_PADDED_BATCH_H_

#include <vector>

#include <ATen/core/Tensor.h>

#include "core/text/wordpiece_tokenizer.h"

namespace maskserve {

// int64 [n, T] ids / attention mask / token types, and [n] labels when the
// rows are labelled training examples (undefined otherwise).
struct ExampleBatch {
  at::Tensor ids, mask, types, labels;
};

// `rows` padded to their longest row on `device`; labels stay undefined.
ExampleBatch PadEncodings(const std::vector<const Encoding*>& rows, const at::Device& device);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_PADDED_BATCH_H_
