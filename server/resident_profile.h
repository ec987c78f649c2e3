// File: server/resident_profile.h
//
// Turns a stored profile (metadata + codec payload) into a servable
// ResidentProfile: decode, check against the loaded backbone and banks,
// compose on the serving device. Used by the table's loader and by the
// trainer's hot swap, so both produce identical handles.
#ifndef MASKSERVE_SERVER_RESIDENT_PROFILE_H_
#define MASKSERVE_SERVER_RESIDENT_PROFILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/model/backbone.h"
#include "core/peft/composed_profile.h"
#include "server/profile_table.h"

namespace maskserve {

// FAILED_PRECONDITION when the profile was trained for another backbone or
// bank, DATA_LOSS when the payload is corrupt.
absl::StatusOr<ProfileHandle> MakeResidentProfile(const std::string& tenant,
                                                  const std::string& profile_id, uint64_t version,
                                                  const std::string& payload,
                                                  const Backbone& backbone,
                                                  const ServingBanks& banks);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_RESIDENT_PROFILE_H_
