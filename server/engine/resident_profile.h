// File: server/engine/resident_profile.h
//
// Turns a profile into a servable ResidentProfile: check it against the
// loaded backbone and banks and write its rows into the device pool
// (core/peft/profile_pool.h), once. The table's loader starts from the
// stored bytes (decode, then pool); a finished training job and an import
// start from the ProfileData they already hold, so nothing is decoded or
// pooled twice.
//
//   absl::StatusOr<ComposedForServing> c =
//       ComposeForServing(id, version, data, payload.size(), pool);
//   ProfileHandle h = MakeHandle(tenant, id, version, *c);
//
// Errors: FAILED_PRECONDITION when the profile was trained for another
// backbone or bank, DATA_LOSS when the payload is corrupt; the message
// names the profile.
//
// Thread safety: pure functions (the backbone and banks are read-only).
#ifndef MASKSERVE_SERVER_ENGINE_RESIDENT_PROFILE_H_
#define MASKSERVE_SERVER_ENGINE_RESIDENT_PROFILE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/peft/profile_pool.h"
#include "core/profile/profile_data.h"
#include "server/engine/profile_table.h"

namespace maskserve {

// A pooled profile and the memory it holds (its device rows + its bytes).
struct ComposedForServing {
  std::shared_ptr<const PooledProfile> pooled;
  int64_t bytes = 0;
};

// `payload_bytes`: the size of its encoding (counted in the table budget).
// `version` names the profile in errors ("profile 'p' v3: ..."); 0 when it
// has none yet (an import before it is stored).
absl::StatusOr<ComposedForServing> ComposeForServing(const std::string& profile_id,
                                                     uint64_t version, const ProfileData& profile,
                                                     size_t payload_bytes, ProfilePool& pool);

ProfileHandle MakeHandle(const std::string& tenant, const std::string& profile_id, uint64_t version,
                         const ComposedForServing& composed);

// Decodes `payload` (the profile codec), then pools it.
absl::StatusOr<ProfileHandle> MakeResidentProfile(const std::string& tenant,
                                                  const std::string& profile_id, uint64_t version,
                                                  const std::string& payload, ProfilePool& pool);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_RESIDENT_PROFILE_H_
