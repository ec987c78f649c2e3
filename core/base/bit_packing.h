// File: core/base/bit_packing.h
//
// Packs boolean masks into bytes, least significant bit first within a byte
// (bit i of the mask is byte i/8, bit i%8). Each packed row starts on a byte
// boundary, so an X-PEFT mask over N adapters takes exactly ceil(N/8) bytes.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_BASE_BIT_PACKING_H_
#define MASKSERVE_CORE_BASE_BIT_PACKING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace maskserve {

inline size_t PackedBytes(size_t bits) { return (bits + 7) / 8; }

// `rows` rows of `bits_per_row` booleans (row-major, any non-zero = 1) ->
// rows * PackedBytes(bits_per_row) bytes. Padding bits are zero.
std::vector<uint8_t> PackBitRows(const uint8_t* mask, size_t rows, size_t bits_per_row);

// The inverse: writes rows * bits_per_row 0/1 bytes. `packed` must hold
// exactly rows * PackedBytes(bits_per_row) bytes (checked by the caller).
std::vector<uint8_t> UnpackBitRows(const uint8_t* packed, size_t rows, size_t bits_per_row);

// Number of set bits in `packed`.
size_t CountSetBits(const std::vector<uint8_t>& packed);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BASE_BIT_PACKING_H_
