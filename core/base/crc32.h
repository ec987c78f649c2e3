// File: core/base/crc32.h
//
// CRC-32 (IEEE 802.3 polynomial, as zlib's crc32), standard library only.
// Guards profile encodings against corruption.
//
// Thread safety: pure function.
#ifndef MASKSERVE_CORE_BASE_CRC32_H_
#define MASKSERVE_CORE_BASE_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace maskserve {

// Continues `crc` (0 to start) over `size` bytes.
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BASE_CRC32_H_
