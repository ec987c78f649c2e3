// File: core/io/tensor_hash.h
//
// Feeds a tensor's values into a running SHA-256, as fp32 in row-major
// order, whatever its device, dtype or strides: the one rule every
// fingerprint (backbone, adapter bank, prototype, shared heads) hashes
// tensors by, so equal values give equal fingerprints everywhere.
//
// Thread safety: a pure function of its inputs.
#ifndef MASKSERVE_CORE_IO_TENSOR_HASH_H_
#define MASKSERVE_CORE_IO_TENSOR_HASH_H_

#include <ATen/core/Tensor.h>

#include "core/base/sha256.h"

namespace maskserve {

void HashTensor(const at::Tensor& tensor, Sha256* hash);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_IO_TENSOR_HASH_H_
