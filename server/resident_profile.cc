#include "server/resident_profile.h"

#include "absl/strings/str_cat.h"
#include "core/profile/profile_codec.h"
#include "server/status_util.h"

namespace maskserve {

absl::StatusOr<ProfileHandle> MakeResidentProfile(const std::string& tenant,
                                                  const std::string& profile_id, uint64_t version,
                                                  const std::string& payload,
                                                  const Backbone& backbone,
                                                  const ServingBanks& banks) {
  auto resident = std::make_shared<ResidentProfile>();
  absl::Status status = CatchEngineErrors([&] {
    ProfileData data = DecodeProfile(payload);
    auto composed = std::make_shared<ComposedProfile>(ComposeProfile(data, *backbone.model, banks));
    resident->bytes = composed->device_bytes() + int64_t(payload.size());
    resident->composed = std::move(composed);
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("profile '", profile_id, "' v", version, ": ",
                                                    status.message()));
  }
  resident->tenant = tenant;
  resident->profile_id = profile_id;
  resident->version = version;
  return ProfileHandle(std::move(resident));
}

}  // namespace maskserve
