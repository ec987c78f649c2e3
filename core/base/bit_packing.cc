#include "core/base/bit_packing.h"

namespace maskserve {

std::vector<uint8_t> PackBitRows(const uint8_t* mask, size_t rows, size_t bits_per_row) {
  const size_t row_bytes = PackedBytes(bits_per_row);
  std::vector<uint8_t> packed(rows * row_bytes, 0);
  for (size_t r = 0; r < rows; ++r) {
    uint8_t* out = packed.data() + r * row_bytes;
    const uint8_t* in = mask + r * bits_per_row;
    for (size_t i = 0; i < bits_per_row; ++i) {
      if (in[i]) out[i / 8] |= uint8_t(1u << (i % 8));
    }
  }
  return packed;
}

std::vector<uint8_t> UnpackBitRows(const uint8_t* packed, size_t rows, size_t bits_per_row) {
  const size_t row_bytes = PackedBytes(bits_per_row);
  std::vector<uint8_t> mask(rows * bits_per_row);
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* in = packed + r * row_bytes;
    uint8_t* out = mask.data() + r * bits_per_row;
    for (size_t i = 0; i < bits_per_row; ++i) out[i] = (in[i / 8] >> (i % 8)) & 1u;
  }
  return mask;
}

size_t CountSetBits(const std::vector<uint8_t>& packed) {
  size_t n = 0;
  for (uint8_t byte : packed) n += size_t(__builtin_popcount(byte));
  return n;
}

}  // namespace maskserve
