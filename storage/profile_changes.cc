#include "storage/profile_changes.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/absl_compat.h"
#include "storage/ids.h"

namespace maskserve {
namespace {

constexpr std::string_view kFormat = "1";

absl::Status BadPayload(std::string_view payload, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("profile change \"", Sv(payload.substr(0, 300)), "\": ", Sv(why)));
}

}  // namespace

std::string EncodeProfileChange(const ProfileChange& change) {
  return absl::StrCat(Sv(kFormat), " ", change.deleted ? "d" : "p", " ", change.version, " ",
                      absl::ToUnixMicros(change.time), " ", change.tenant, " ", change.profile_id);
}

absl::StatusOr<ProfileChange> DecodeProfileChange(std::string_view payload) {
  const std::vector<std::string> parts = absl::StrSplit(Sv(payload), ' ');
  if (parts.size() != 6) return BadPayload(payload, "not 6 space-separated fields");
  if (parts[0] != kFormat) return BadPayload(payload, "unknown format");
  ProfileChange change;
  if (parts[1] != "p" && parts[1] != "d") return BadPayload(payload, "kind is not p or d");
  change.deleted = parts[1] == "d";
  int64_t micros = 0;
  if (!absl::SimpleAtoi(parts[2], &change.version)) return BadPayload(payload, "bad version");
  if (!absl::SimpleAtoi(parts[3], &micros)) return BadPayload(payload, "bad time");
  change.time = absl::FromUnixMicros(micros);
  if (!ValidateTenant(parts[4]).ok()) return BadPayload(payload, "bad tenant");
  if (!ValidateProfileId(parts[5]).ok()) return BadPayload(payload, "bad profile id");
  change.tenant = parts[4];
  change.profile_id = parts[5];
  return change;
}

}  // namespace maskserve
