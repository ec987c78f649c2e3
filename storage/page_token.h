// File: storage/page_token.h
//
// Opaque continuation tokens for paged listings, and page-size bounds.
//
// A token is the web-safe base64 of a checksummed frame holding the listing
// it belongs to ("profiles", "jobs"), the tenant, and the last id returned.
// Clients must treat it as opaque. A token that was altered, truncated, or
// issued for another listing or tenant is INVALID_ARGUMENT ("page_token:
// ..."), never a silent jump to some other position.
//
//   std::string token = EncodePageToken("profiles", tenant, last_id);
//   absl::StatusOr<std::string> after = DecodePageToken("profiles", tenant, token);
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_PAGE_TOKEN_H_
#define MASKSERVE_STORAGE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace maskserve {

inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;

// 0 -> kDefaultPageSize; above kMaxPageSize -> kMaxPageSize (clamped, as
// mature list APIs do, rather than refused).
inline uint32_t EffectivePageSize(uint32_t requested) {
  if (requested == 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

std::string EncodePageToken(std::string_view listing, std::string_view tenant,
                            std::string_view last_id);

// The last id of the previous page. An empty token is not a valid input.
absl::StatusOr<std::string> DecodePageToken(std::string_view listing, std::string_view tenant,
                                            std::string_view token);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_PAGE_TOKEN_H_
