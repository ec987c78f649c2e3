// File: server/instrumented_store.h
//
// A ProfileStore decorator that times every call into the
// maskserve_store_read_seconds / maskserve_store_write_seconds histograms,
// labelled by operation. Everything else is forwarded unchanged.
//
// Thread safety: as the wrapped store.
#ifndef MASKSERVE_SERVER_INSTRUMENTED_STORE_H_
#define MASKSERVE_SERVER_INSTRUMENTED_STORE_H_

#include "server/server_metrics.h"
#include "storage/profile_store.h"

namespace maskserve {

class InstrumentedStore : public ProfileStore {
 public:
  InstrumentedStore(ProfileStore* store, ServerMetrics* metrics);

  // ProfileStore interface
  absl::StatusOr<v1::Profile> PublishProfile(std::string_view tenant, std::string_view profile_id,
                                             PublishProfileRequest request) override;
  absl::StatusOr<StoredProfile> GetProfile(std::string_view tenant,
                                           std::string_view profile_id) override;
  absl::StatusOr<uint64_t> DeleteProfile(std::string_view tenant, std::string_view profile_id,
                                         std::optional<uint64_t> expected_version) override;
  absl::StatusOr<ListProfilesResult> ListProfiles(std::string_view tenant,
                                                  const PageRequest& page) override;
  absl::StatusOr<uint64_t> CountProfiles(std::string_view tenant) override;
  absl::StatusOr<ExportedProfile> ExportProfile(std::string_view tenant,
                                                std::string_view profile_id) override;
  absl::StatusOr<v1::Profile> ImportProfile(std::string_view tenant, std::string_view profile_id,
                                            std::string_view data,
                                            const ImportProfileOptions& options) override;
  absl::StatusOr<v1::TrainingJob> CreateJob(std::string_view tenant,
                                            const v1::TrainProfileRequest& request,
                                            const v1::TrainingJob& initial) override;
  absl::StatusOr<StoredJob> GetJob(std::string_view tenant, std::string_view job_id) override;
  absl::StatusOr<v1::TrainingJob> UpdateJob(std::string_view tenant,
                                            const v1::TrainingJob& job) override;
  absl::StatusOr<ListJobsResult> ListJobs(std::string_view tenant, const JobFilter& filter,
                                          const PageRequest& page) override;
  absl::StatusOr<UnfinishedJobs> ListUnfinishedJobs() override;
  absl::StatusOr<StoredJob> ClaimJob(std::string_view tenant, std::string_view job_id,
                                     const JobLease& lease) override;
  absl::StatusOr<v1::TrainingJob> RenewJobLease(std::string_view tenant, std::string_view job_id,
                                                const JobLease& lease) override;
  absl::StatusOr<std::vector<uint64_t>> GetProfileVersions(
      std::string_view tenant, const std::vector<std::string>& profile_ids) override;
  absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> WatchProfileChanges(
      ProfileChangeSubscriber* subscriber) override;
  absl::Status CreateCheckpoint(const std::string& dir) override;
  absl::Status CheckWritable() override { return store_->CheckWritable(); }

 private:
  prometheus::Histogram& Read(const char* op);
  prometheus::Histogram& Write(const char* op);
  template <typename Fn>
  auto Timed(prometheus::Histogram& histogram, Fn&& fn);

  ProfileStore* const store_;
  ServerMetrics* const metrics_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_INSTRUMENTED_STORE_H_
