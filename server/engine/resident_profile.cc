#include "server/engine/resident_profile.h"

#include <utility>

#include "absl/strings/str_cat.h"
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
                                                     size_t payload_bytes, ProfilePool& pool) {
  ComposedForServing out;
  absl::Status status = CatchEngineErrors([&] {
    out.pooled = pool.Insert(profile);
    out.bytes = out.pooled->device_bytes() + int64_t(payload_bytes);
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
  resident->pooled = composed.pooled;
  resident->bytes = composed.bytes;
  resident->batch_shape = composed.pooled->bottleneck();
  return resident;
}

absl::StatusOr<ProfileHandle> MakeResidentProfile(const std::string& tenant,
                                                  const std::string& profile_id, uint64_t version,
                                                  const std::string& payload, ProfilePool& pool) {
  ProfileData data;
  absl::Status decoded = CatchEngineErrors([&] {
    data = DecodeProfile(payload);
    return absl::OkStatus();
  });
  if (!decoded.ok()) return Named(profile_id, version, decoded);
  absl::StatusOr<ComposedForServing> composed =
      ComposeForServing(profile_id, version, data, payload.size(), pool);
  if (!composed.ok()) return composed.status();
  return MakeHandle(tenant, profile_id, version, *composed);
}

}  // namespace maskserve
