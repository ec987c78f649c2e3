// File: storage/crc32c.h
//
// CRC-32C (Castagnoli), the checksum RocksDB and leveldb use, computed with
// the SSE4.2 instruction where the CPU has it and a table otherwise. The
// store checks one over every value it reads, so flipped bytes are reported
// instead of parsed.
//
//   uint32_t crc = crc32c::Value(data, size);
//   uint32_t stored = crc32c::Mask(crc);   // what goes next to the data
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_CRC32C_H_
#define MASKSERVE_STORAGE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace maskserve {
namespace crc32c {

// Extends `crc` (the CRC-32C of some prefix, 0 for none) with `data`.
uint32_t Extend(uint32_t crc, const void* data, size_t size);

// The table-only implementation, whatever the CPU; for tests.
uint32_t ExtendPortableForTest(uint32_t crc, const void* data, size_t size);

inline uint32_t Value(const void* data, size_t size) { return Extend(0, data, size); }
inline uint32_t Value(std::string_view data) { return Value(data.data(), data.size()); }

// Masking (as in leveldb): a CRC stored inside data that is itself
// checksummed is rotated and offset, so that CRCs of CRCs stay strong.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace crc32c
}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_CRC32C_H_
