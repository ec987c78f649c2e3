#include "core/io/tensor_hash.h"

#include <ATen/ATen.h>

namespace maskserve {

void HashTensor(const at::Tensor& tensor, Sha256* hash) {
  const at::Tensor values = tensor.to(at::kCPU, at::kFloat).contiguous();
  hash->Update(values.data_ptr(), static_cast<size_t>(values.numel()) * sizeof(float));
}

}  // namespace maskserve
