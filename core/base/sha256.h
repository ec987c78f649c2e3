// File: core/base/sha256.h
//
// SHA-256 (FIPS 180-4), streaming, std-only. Used for backbone and bank
// fingerprints.
//
//   Sha256 h; h.Update(data, n); std::string hex = h.HexDigest();
//
// Thread safety: one object per thread.
#ifndef MASKSERVE_CORE_BASE_SHA256_H_
#define MASKSERVE_CORE_BASE_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace maskserve {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view text) { Update(text.data(), text.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> Digest();
  std::string HexDigest();

 private:
  void Block(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BASE_SHA256_H_
