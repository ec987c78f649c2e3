// InMemoryProfileStore: the ProfileStore contract on maps under one mutex.
// The checks and their order follow storage/rocksdb_profile_store_*.cc.
#include "storage/testing/in_memory_profile_store.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/job_state.h"
#include "storage/absl_compat.h"
#include "storage/ids.h"
#include "storage/job_records.h"
#include "storage/page_token.h"
#include "storage/profile_export.h"
#include "storage/record_codec.h"
#include "storage/status_macros.h"
#include "storage/store_requests.h"
#include "storage/time_util.h"

namespace maskserve {
namespace {

std::string Quoted(std::string_view id) { return absl::StrCat("\"", Sv(id), "\""); }

absl::Status ProfileNotFound(std::string_view profile_id) {
  return absl::NotFoundError(
      absl::StrCat("profile_id: profile ", Quoted(profile_id), " not found"));
}

StoredJob ToStoredJob(const storage::v1::JobRecord& record) {
  StoredJob out;
  out.tenant = record.tenant();
  out.job = record.job();
  out.request = record.request();
  return out;
}

InMemoryProfileStore::Options WithDefaults(InMemoryProfileStore::Options options) {
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return options;
}

}  // namespace

std::string_view InMemoryProfileStore::OperationName(Operation op) {
  switch (op) {
    case Operation::kPublishProfile:
      return "PublishProfile";
    case Operation::kGetProfile:
      return "GetProfile";
    case Operation::kDeleteProfile:
      return "DeleteProfile";
    case Operation::kListProfiles:
      return "ListProfiles";
    case Operation::kCountProfiles:
      return "CountProfiles";
    case Operation::kExportProfile:
      return "ExportProfile";
    case Operation::kImportProfile:
      return "ImportProfile";
    case Operation::kCreateJob:
      return "CreateJob";
    case Operation::kGetJob:
      return "GetJob";
    case Operation::kUpdateJob:
      return "UpdateJob";
    case Operation::kListJobs:
      return "ListJobs";
    case Operation::kListUnfinishedJobs:
      return "ListUnfinishedJobs";
    case Operation::kCreateCheckpoint:
      return "CreateCheckpoint";
  }
  return "unknown operation";
}

InMemoryProfileStore::InMemoryProfileStore() : InMemoryProfileStore(Options()) {}

InMemoryProfileStore::InMemoryProfileStore(Options options)
    : options_(WithDefaults(std::move(options))), job_ids_(options_.job_id_seed, options_.clock) {}

// Test hooks.

void InMemoryProfileStore::FailNext(Operation op, absl::Status status, int times) {
  const size_t index = static_cast<size_t>(op);
  if (index >= kNumOperations) return;
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < times; ++i) failures_[index].push_back(status);
}

void InMemoryProfileStore::ClearFailures() {
  absl::MutexLock lock(&mu_);
  for (std::deque<absl::Status>& queue : failures_) queue.clear();
}

int InMemoryProfileStore::pending_failures(Operation op) const {
  const size_t index = static_cast<size_t>(op);
  if (index >= kNumOperations) return 0;
  absl::MutexLock lock(&mu_);
  return static_cast<int>(failures_[index].size());
}

int64_t InMemoryProfileStore::calls(Operation op) const {
  const size_t index = static_cast<size_t>(op);
  if (index >= kNumOperations) return 0;
  absl::MutexLock lock(&mu_);
  return calls_[index];
}

void InMemoryProfileStore::ResetCalls() {
  absl::MutexLock lock(&mu_);
  calls_.fill(0);
}

absl::Status InMemoryProfileStore::BeginCall(Operation op) {
  const size_t index = static_cast<size_t>(op);
  ++calls_[index];
  std::deque<absl::Status>& queue = failures_[index];
  if (queue.empty()) return absl::OkStatus();
  absl::Status status = std::move(queue.front());
  queue.pop_front();
  return status;
}

// Lookups.

const InMemoryProfileStore::TenantData* InMemoryProfileStore::FindTenant(
    std::string_view tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : &it->second;
}

InMemoryProfileStore::TenantData* InMemoryProfileStore::FindTenant(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : &it->second;
}

absl::StatusOr<StoredProfile> InMemoryProfileStore::GetLocked(std::string_view tenant,
                                                              std::string_view profile_id) const {
  const TenantData* data = FindTenant(tenant);
  if (data == nullptr) return ProfileNotFound(profile_id);
  auto it = data->profiles.find(profile_id);
  if (it == data->profiles.end() || it->second.deleted) return ProfileNotFound(profile_id);
  return it->second.stored;
}

absl::StatusOr<storage::v1::JobRecord*> InMemoryProfileStore::FindJob(std::string_view tenant,
                                                                      std::string_view job_id) {
  TenantData* data = FindTenant(tenant);
  if (data != nullptr) {
    auto it = data->jobs.find(job_id);
    if (it != data->jobs.end()) return &it->second;
  }
  return absl::NotFoundError(absl::StrCat("job_id: job ", Quoted(job_id), " not found"));
}

// Checks (as RocksDbProfileStore's).

absl::Status InMemoryProfileStore::CheckBank(const v1::Profile& profile) const {
  return CheckProfileBank(profile, options_.bank_fingerprints);
}

absl::Status InMemoryProfileStore::CheckQuota(std::string_view tenant,
                                              uint64_t live_profiles) const {
  if (options_.max_profiles_per_tenant > 0 && live_profiles >= options_.max_profiles_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant ", Quoted(tenant), " has ", live_profiles, " profiles, its quota is ",
        options_.max_profiles_per_tenant, "; delete profiles before creating new ones"));
  }
  return absl::OkStatus();
}

// Profiles.

absl::StatusOr<v1::Profile> InMemoryProfileStore::PublishProfile(std::string_view tenant,
                                                                 std::string_view profile_id,
                                                                 PublishProfileRequest request) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kPublishProfile));
  MASKSERVE_RETURN_IF_ERROR(CheckPublicationIds(tenant, profile_id, request));
  MASKSERVE_RETURN_IF_ERROR(CheckBank(request.profile));
  PublishCheck check;
  check.expected_version = request.expected_version;
  return PublishLocked(tenant, profile_id, std::move(request), check);
}

absl::StatusOr<v1::Profile> InMemoryProfileStore::PublishLocked(std::string_view tenant,
                                                                std::string_view profile_id,
                                                                PublishProfileRequest request,
                                                                const PublishCheck& check) {
  MASKSERVE_RETURN_IF_ERROR(CheckPayloadSize(request, options_.max_payload_bytes));
  const TenantData* data = FindTenant(tenant);
  const ProfileEntry* entry = nullptr;
  if (data != nullptr) {
    auto it = data->profiles.find(profile_id);
    if (it != data->profiles.end()) entry = &it->second;
  }
  const bool live = entry != nullptr && !entry->deleted;
  // Live or tombstone: versions continue after the last one.
  const uint64_t last_version = entry != nullptr ? entry->stored.profile.version() : 0;
  if (check.must_not_exist && live) {
    return absl::AlreadyExistsError(absl::StrCat("profile_id: profile ", Quoted(profile_id),
                                                 " already exists (version ", last_version,
                                                 "); set overwrite to replace it"));
  }
  if (check.expected_version.has_value()) {
    const uint64_t current = live ? last_version : 0;
    if (*check.expected_version != current) {
      return absl::FailedPreconditionError(
          absl::StrCat("expected_version: profile ", Quoted(profile_id), " is at version ", current,
                       live ? "" : " (it does not exist)", ", not ", *check.expected_version));
    }
  }
  const absl::Time now = Now();
  if (!live) {
    MASKSERVE_RETURN_IF_ERROR(CheckQuota(tenant, data != nullptr ? data->live_profiles : 0));
  }

  ProfileEntry updated;
  v1::Profile& profile = updated.stored.profile;
  profile = std::move(request.profile);
  profile.set_profile_id(std::string(profile_id));
  profile.set_version(last_version + 1);
  if (live) {
    *profile.mutable_create_time() = entry->stored.profile.create_time();
  } else {
    SetTimestamp(now, profile.mutable_create_time());
  }
  SetTimestamp(now, profile.mutable_update_time());
  updated.stored.payload = std::move(request.payload);

  std::optional<storage::v1::JobRecord> job_record;
  if (request.finished_job.has_value()) {
    const v1::TrainingJob& finished = *request.finished_job;
    MASKSERVE_ASSIGN_OR_RETURN(const storage::v1::JobRecord* stored_job,
                               FindJob(tenant, finished.job_id()));
    MASKSERVE_RETURN_IF_ERROR(CheckJobCanFinish(stored_job->job(), profile_id));
    job_record = *stored_job;
    ApplyJobUpdate(finished, v1::SUCCEEDED, now, &*job_record);
    job_record->mutable_job()->set_published_version(profile.version());
    if (profile.training_job_id().empty()) profile.set_training_job_id(finished.job_id());
  }

  // Every check passed: apply the profile, the counter and the job together.
  v1::Profile result = profile;
  TenantData& target = tenants_[std::string(tenant)];
  if (job_record.has_value()) {
    target.jobs[job_record->job().job_id()] = *std::move(job_record);
  }
  target.profiles[std::string(profile_id)] = std::move(updated);
  if (!live) ++target.live_profiles;
  return result;
}

absl::StatusOr<StoredProfile> InMemoryProfileStore::GetProfile(std::string_view tenant,
                                                               std::string_view profile_id) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kGetProfile));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  return GetLocked(tenant, profile_id);
}

absl::StatusOr<uint64_t> InMemoryProfileStore::DeleteProfile(
    std::string_view tenant, std::string_view profile_id,
    std::optional<uint64_t> expected_version) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kDeleteProfile));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  TenantData* data = FindTenant(tenant);
  if (data == nullptr) return ProfileNotFound(profile_id);
  auto it = data->profiles.find(profile_id);
  if (it == data->profiles.end() || it->second.deleted) return ProfileNotFound(profile_id);
  ProfileEntry& entry = it->second;
  const uint64_t version = entry.stored.profile.version();
  if (expected_version.has_value() && *expected_version != version) {
    return absl::FailedPreconditionError(absl::StrCat("expected_version: profile ",
                                                      Quoted(profile_id), " is at version ",
                                                      version, ", not ", *expected_version));
  }
  // The tombstone keeps the id and the last version only.
  entry.stored = StoredProfile();
  entry.stored.profile.set_profile_id(std::string(profile_id));
  entry.stored.profile.set_version(version);
  entry.deleted = true;
  if (data->live_profiles > 0) --data->live_profiles;
  return version;
}

absl::StatusOr<ListProfilesResult> InMemoryProfileStore::ListProfiles(std::string_view tenant,
                                                                      const PageRequest& page) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kListProfiles));
  MASKSERVE_ASSIGN_OR_RETURN(const ListingPage listing,
                             StartListing(kProfilesListing, tenant, page));
  const uint32_t page_size = listing.size;
  const std::string& after = listing.after;
  ListProfilesResult result;
  const TenantData* data = FindTenant(tenant);
  if (data == nullptr) return result;
  result.total_count = data->live_profiles;
  auto it = after.empty() ? data->profiles.begin() : data->profiles.upper_bound(after);
  for (; it != data->profiles.end(); ++it) {
    if (it->second.deleted) continue;
    if (result.profiles.size() == page_size) {
      result.next_page_token =
          EncodePageToken(kProfilesListing, tenant, result.profiles.back().profile_id());
      break;
    }
    result.profiles.push_back(it->second.stored.profile);
  }
  return result;
}

absl::StatusOr<uint64_t> InMemoryProfileStore::CountProfiles(std::string_view tenant) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kCountProfiles));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  const TenantData* data = FindTenant(tenant);
  return data == nullptr ? 0 : data->live_profiles;
}

absl::StatusOr<ExportedProfile> InMemoryProfileStore::ExportProfile(std::string_view tenant,
                                                                    std::string_view profile_id) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kExportProfile));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(StoredProfile stored, GetLocked(tenant, profile_id));
  return MakeExportedProfile(stored, Now());
}

absl::StatusOr<v1::Profile> InMemoryProfileStore::ImportProfile(
    std::string_view tenant, std::string_view profile_id, std::string_view data,
    const ImportProfileOptions& options) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kImportProfile));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(PublishProfileRequest request, ImportRequestFromExport(data));
  MASKSERVE_RETURN_IF_ERROR(CheckBank(request.profile));
  PublishCheck check;
  check.must_not_exist = !options.overwrite;
  return PublishLocked(tenant, profile_id, std::move(request), check);
}

// Training jobs.

absl::StatusOr<v1::TrainingJob> InMemoryProfileStore::CreateJob(
    std::string_view tenant, const v1::TrainProfileRequest& request,
    const v1::TrainingJob& initial) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kCreateJob));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request.profile_id()));
  storage::v1::JobRecord record;
  record.set_format_version(kJobFormatVersion);
  record.set_tenant(std::string(tenant));
  *record.mutable_job() = NewJob(job_ids_.Next(), request, initial, Now());
  *record.mutable_request() = request;
  v1::TrainingJob job = record.job();
  tenants_[std::string(tenant)].jobs[job.job_id()] = std::move(record);
  return job;
}

absl::StatusOr<StoredJob> InMemoryProfileStore::GetJob(std::string_view tenant,
                                                       std::string_view job_id) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kGetJob));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job_id));
  MASKSERVE_ASSIGN_OR_RETURN(const storage::v1::JobRecord* record, FindJob(tenant, job_id));
  return ToStoredJob(*record);
}

absl::StatusOr<v1::TrainingJob> InMemoryProfileStore::UpdateJob(std::string_view tenant,
                                                                const v1::TrainingJob& job) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kUpdateJob));
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job.job_id()));
  MASKSERVE_ASSIGN_OR_RETURN(storage::v1::JobRecord * record, FindJob(tenant, job.job_id()));
  MASKSERVE_RETURN_IF_ERROR(CheckJobUpdate(record->job(), job));
  ApplyJobUpdate(job, job.state(), Now(), record);
  return record->job();
}

absl::StatusOr<ListJobsResult> InMemoryProfileStore::ListJobs(std::string_view tenant,
                                                              const JobFilter& filter,
                                                              const PageRequest& page) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kListJobs));
  MASKSERVE_ASSIGN_OR_RETURN(const ListingPage listing, StartJobListing(tenant, filter, page));
  const uint32_t page_size = listing.size;
  const std::string& before = listing.after;
  ListJobsResult result;
  const TenantData* data = FindTenant(tenant);
  if (data == nullptr) return result;
  // Newest first: backwards from the end, or from just before `before`.
  auto end = before.empty() ? data->jobs.end() : data->jobs.lower_bound(before);
  for (auto it = std::make_reverse_iterator(end); it != data->jobs.rend(); ++it) {
    if (!JobMatchesFilter(it->second.job(), filter)) continue;
    if (result.jobs.size() == page_size) {
      result.next_page_token = EncodePageToken(kJobsListing, tenant, result.jobs.back().job_id());
      break;
    }
    result.jobs.push_back(it->second.job());
  }
  return result;
}

absl::StatusOr<UnfinishedJobs> InMemoryProfileStore::ListUnfinishedJobs() {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kListUnfinishedJobs));
  UnfinishedJobs result;
  for (const auto& [tenant, data] : tenants_) {
    for (const auto& [job_id, record] : data.jobs) {
      if (!IsFinalJobState(record.job().state())) result.jobs.push_back(ToStoredJob(record));
    }
  }
  // Oldest first across tenants: job ids sort by creation.
  std::sort(result.jobs.begin(), result.jobs.end(),
            [](const StoredJob& a, const StoredJob& b) { return a.job.job_id() < b.job.job_id(); });
  return result;
}

// Backups.

absl::Status InMemoryProfileStore::CreateCheckpoint(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  MASKSERVE_RETURN_IF_ERROR(BeginCall(Operation::kCreateCheckpoint));
  return absl::UnimplementedError("CreateCheckpoint: InMemoryProfileStore has nothing on disk");
}

}  // namespace maskserve
