#include "core/model/padded_batch.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>

namespace maskserve {

ExampleBatch PadEncodings(const std::vector<const Encoding*>& rows, const at::Device& device) {
  int64_t seq = 0;
  for (const Encoding* e : rows) seq = std::max<int64_t>(seq, int64_t(e->input_ids.size()));
  const int64_t n = int64_t(rows.size());
  std::vector<int64_t> ids(size_t(n * seq), 0), mask(size_t(n * seq), 0), types(size_t(n * seq), 0);
  for (int64_t i = 0; i < n; ++i) {
    const Encoding& e = *rows[size_t(i)];
    std::copy(e.input_ids.begin(), e.input_ids.end(), ids.begin() + i * seq);
    std::copy(e.attention_mask.begin(), e.attention_mask.end(), mask.begin() + i * seq);
    std::copy(e.token_type_ids.begin(), e.token_type_ids.end(), types.begin() + i * seq);
  }
  auto make = [&](std::vector<int64_t>& v) {
    return at::from_blob(v.data(), {n, seq}, at::kLong).clone().to(device);
  };
  return {make(ids), make(mask), make(types), at::Tensor()};
}

}  // namespace maskserve
