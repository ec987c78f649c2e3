// File: storage/ids.h
//
// Validation of the identifiers the store puts into keys. Tenants and
// profile ids follow the API rule (proto/maskserve/v1/maskserve.proto):
// 1..128 bytes of [A-Za-z0-9._:@-], not starting with '.'. Because '/' is not
// allowed, "<tenant>/<id>" keys never collide and a tenant's keys form one
// contiguous range. Errors are INVALID_ARGUMENT naming the field and showing
// (an escaped, shortened copy of) the bad value.
//
//   MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(id));
//   // "profile_id: must be 1..128 characters of [A-Za-z0-9._:@-] not
//   //  starting with '.'; \"a/b\" has '/' at offset 1"
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_IDS_H_
#define MASKSERVE_STORAGE_IDS_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace maskserve {

inline constexpr size_t kMaxIdLength = 128;

// Validates `id` as a key component; `field` names it in the error.
absl::Status ValidateId(std::string_view field, std::string_view id);

inline absl::Status ValidateTenant(std::string_view tenant) { return ValidateId("tenant", tenant); }
inline absl::Status ValidateProfileId(std::string_view profile_id) {
  return ValidateId("profile_id", profile_id);
}

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_IDS_H_
