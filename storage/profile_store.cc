// ProfileStore: the default implementations (see profile_store.h).
#include "storage/profile_store.h"

#include "storage/ids.h"
#include "storage/job_records.h"
#include "storage/status_macros.h"

namespace maskserve {

absl::StatusOr<std::vector<uint64_t>> ProfileStore::GetProfileVersions(
    std::string_view tenant, const std::vector<std::string>& profile_ids) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  std::vector<uint64_t> versions;
  versions.reserve(profile_ids.size());
  for (const std::string& id : profile_ids) {
    absl::StatusOr<StoredProfile> stored = GetProfile(tenant, id);
    if (stored.ok()) {
      versions.push_back(stored->profile.version());
    } else if (stored.status().code() == absl::StatusCode::kNotFound ||
               stored.status().code() == absl::StatusCode::kDataLoss) {
      // Absent, deleted, or unreadable: nothing servable is there.
      versions.push_back(0);
    } else {
      return stored.status();
    }
  }
  return versions;
}

absl::StatusOr<StoredJob> ProfileStore::ClaimJob(std::string_view tenant, std::string_view job_id,
                                                 const JobLease& lease) {
  (void)lease;
  MASKSERVE_ASSIGN_OR_RETURN(StoredJob stored, GetJob(tenant, job_id));
  MASKSERVE_RETURN_IF_ERROR(CheckJobNotFinal(stored.job));
  return stored;
}

absl::StatusOr<v1::TrainingJob> ProfileStore::RenewJobLease(std::string_view tenant,
                                                            std::string_view job_id,
                                                            const JobLease& lease) {
  (void)lease;
  MASKSERVE_ASSIGN_OR_RETURN(StoredJob stored, GetJob(tenant, job_id));
  MASKSERVE_RETURN_IF_ERROR(CheckJobNotFinal(stored.job));
  return std::move(stored.job);
}

}  // namespace maskserve
