#include "server/instrumented_store.h"

#include "absl/time/clock.h"

namespace maskserve {

InstrumentedStore::InstrumentedStore(ProfileStore* store, ServerMetrics* metrics)
    : store_(store), metrics_(metrics) {}

prometheus::Histogram& InstrumentedStore::Read(const char* op) { return metrics_->StoreRead(op); }

prometheus::Histogram& InstrumentedStore::Write(const char* op) { return metrics_->StoreWrite(op); }

template <typename Fn>
auto InstrumentedStore::Timed(prometheus::Histogram& histogram, Fn&& fn) {
  const absl::Time start = absl::Now();
  auto result = fn();
  histogram.Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return result;
}

absl::StatusOr<v1::Profile> InstrumentedStore::PublishProfile(std::string_view tenant,
                                                              std::string_view profile_id,
                                                              PublishProfileRequest request) {
  return Timed(Write("publish_profile"),
               [&] { return store_->PublishProfile(tenant, profile_id, std::move(request)); });
}

absl::StatusOr<StoredProfile> InstrumentedStore::GetProfile(std::string_view tenant,
                                                            std::string_view profile_id) {
  return Timed(Read("get_profile"), [&] { return store_->GetProfile(tenant, profile_id); });
}

absl::StatusOr<uint64_t> InstrumentedStore::DeleteProfile(std::string_view tenant,
                                                          std::string_view profile_id,
                                                          std::optional<uint64_t> expected) {
  return Timed(Write("delete_profile"),
               [&] { return store_->DeleteProfile(tenant, profile_id, expected); });
}

absl::StatusOr<ListProfilesResult> InstrumentedStore::ListProfiles(std::string_view tenant,
                                                                   const PageRequest& page) {
  return Timed(Read("list_profiles"), [&] { return store_->ListProfiles(tenant, page); });
}

absl::StatusOr<uint64_t> InstrumentedStore::CountProfiles(std::string_view tenant) {
  return Timed(Read("count_profiles"), [&] { return store_->CountProfiles(tenant); });
}

absl::StatusOr<ExportedProfile> InstrumentedStore::ExportProfile(std::string_view tenant,
                                                                 std::string_view profile_id) {
  return Timed(Read("export_profile"), [&] { return store_->ExportProfile(tenant, profile_id); });
}

absl::StatusOr<v1::Profile> InstrumentedStore::ImportProfile(std::string_view tenant,
                                                             std::string_view profile_id,
                                                             std::string_view data,
                                                             const ImportProfileOptions& options) {
  return Timed(Write("import_profile"),
               [&] { return store_->ImportProfile(tenant, profile_id, data, options); });
}

absl::StatusOr<v1::TrainingJob> InstrumentedStore::CreateJob(std::string_view tenant,
                                                             const v1::TrainProfileRequest& request,
                                                             const v1::TrainingJob& initial) {
  return Timed(Write("create_job"), [&] { return store_->CreateJob(tenant, request, initial); });
}

absl::StatusOr<StoredJob> InstrumentedStore::GetJob(std::string_view tenant,
                                                    std::string_view job_id) {
  return Timed(Read("get_job"), [&] { return store_->GetJob(tenant, job_id); });
}

absl::StatusOr<v1::TrainingJob> InstrumentedStore::UpdateJob(std::string_view tenant,
                                                             const v1::TrainingJob& job) {
  return Timed(Write("update_job"), [&] { return store_->UpdateJob(tenant, job); });
}

absl::StatusOr<ListJobsResult> InstrumentedStore::ListJobs(std::string_view tenant,
                                                           const JobFilter& filter,
                                                           const PageRequest& page) {
  return Timed(Read("list_jobs"), [&] { return store_->ListJobs(tenant, filter, page); });
}

absl::StatusOr<UnfinishedJobs> InstrumentedStore::ListUnfinishedJobs() {
  return Timed(Read("list_unfinished_jobs"), [&] { return store_->ListUnfinishedJobs(); });
}

absl::StatusOr<StoredJob> InstrumentedStore::ClaimJob(std::string_view tenant,
                                                      std::string_view job_id,
                                                      const JobLease& lease) {
  return Timed(Write("claim_job"), [&] { return store_->ClaimJob(tenant, job_id, lease); });
}

absl::StatusOr<v1::TrainingJob> InstrumentedStore::RenewJobLease(std::string_view tenant,
                                                                 std::string_view job_id,
                                                                 const JobLease& lease) {
  return Timed(Write("renew_job_lease"),
               [&] { return store_->RenewJobLease(tenant, job_id, lease); });
}

absl::StatusOr<std::vector<uint64_t>> InstrumentedStore::GetProfileVersions(
    std::string_view tenant, const std::vector<std::string>& profile_ids) {
  return Timed(Read("get_profile_versions"),
               [&] { return store_->GetProfileVersions(tenant, profile_ids); });
}

absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> InstrumentedStore::WatchProfileChanges(
    ProfileChangeSubscriber* subscriber) {
  return store_->WatchProfileChanges(subscriber);
}

absl::Status InstrumentedStore::CreateCheckpoint(const std::string& dir) {
  return Timed(Write("checkpoint"), [&] { return store_->CreateCheckpoint(dir); });
}

}  // namespace maskserve
