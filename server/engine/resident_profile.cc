#include "server/engine/resident_profile.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/peft/composed_profile.h"
#include "core/profile/profile_codec.h"
#include "server/engine/engine_errors.h"

namespace maskserve {

namespace {

absl::Status Named(const std::string& profile_id, uint64_t version, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("profile '", profile_id, "'",
                                                  version > 0 ? absl::StrCat(" v", version) : "",
                                                  ": ", status.message()));
}

}  // namespace

absl::StatusOr<ComposedForServing> ComposeForServing(const std::string& profile_id,
                                                     uint64_t version, const ProfileData& profile,
                                                     size_t payload_bytes, const Backbone& backbone,
                                                     const ServingBanks& banks) {
  ComposedForServing out;
  absl::Status status = CatchEngineErrors([&] {
    auto composed =
        std::make_shared<const ComposedProfile>(ComposeProfile(profile, *backbone.model, banks));
    out.bytes = composed->device_bytes() + int64_t(payload_bytes);
    out.composed = std::move(composed);
    return absl::OkStatus();
  });
  if (!status.ok()) return Named(profile_id, version, status);
  return out;
}

ProfileHandle MakeHandle(const std::string& tenant, const std::string& profile_id, uint64_t version,
                         const ComposedForServing& composed) {
  auto resident = std::make_shared<ResidentProfile>();
  resident->tenant = tenant;
  resident->profile_id = profile_id;
  resident->version = version;
  resident->composed = composed.composed;
  resident->bytes = composed.bytes;
  resident->batch_shape = composed.composed->has_adapter() ? composed.composed->down.size(2) : 0;
  return resident;
}

absl::StatusOr<ProfileHandle> MakeResidentProfile(const std::string& tenant,
                                                  const std::string& profile_id, uint64_t version,
                                                  const std::string& payload,
                                                  const Backbone& backbone,
                                                  const ServingBanks& banks) {
  ProfileData data;
  absl::Status decoded = CatchEngineErrors([&] {
    data = DecodeProfile(payload);
    return absl::OkStatus();
  });
  if (!decoded.ok()) return Named(profile_id, version, decoded);
  absl::StatusOr<ComposedForServing> composed =
      ComposeForServing(profile_id, version, data, payload.size(), backbone, banks);
  if (!composed.ok()) return composed.status();
  return MakeHandle(tenant, profile_id, version, *composed);
}

}  // namespace maskserve
