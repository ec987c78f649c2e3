// File: storage/testing/in_memory_profile_store.h
//
// InMemoryProfileStore: a ProfileStore held in memory, for unit tests of the
// layers above the store (the server's training manager and engine). It
// keeps the contract of storage/profile_store.h as RocksDbProfileStore does,
// using the same helpers (storage/ids.h, storage/job_records.h,
// storage/page_token.h, storage/profile_export.h, storage/job_id.h), so a
// test written against it holds against the real store:
// - everything is scoped by tenant; tenants, profile ids and job ids are
//   validated (INVALID_ARGUMENT naming the field);
// - versions are monotonic: a publication makes previous + 1, a deletion
//   keeps a tombstone with the last version, and a re-created profile
//   continues after it;
// - expected_version mismatches are FAILED_PRECONDITION; importing onto a
//   live profile without overwrite is ALREADY_EXISTS; creating a profile
//   beyond Options::max_profiles_per_tenant is RESOURCE_EXHAUSTED; a bank
//   fingerprint outside Options::bank_fingerprints (when set) is refused as
//   the real store refuses it;
// - PublishProfile with finished_job marks the job SUCCEEDED with
//   published_version and drops its examples in the same (atomic) change;
//   UpdateJob follows the job state machine (CheckJobUpdate);
// - profiles are listed in bytewise id order, jobs newest first (job ids
//   sort by creation), ListUnfinishedJobs oldest first; page tokens are the
//   real store's, so a token of another listing or tenant is refused.
// Every call either fails without changing anything or applies completely.
// There is no durability and no corruption: `unreadable` is always empty.
// CreateCheckpoint is UNIMPLEMENTED.
//
// Test hooks: FailNext() queues statuses that the next calls of an operation
// return before doing anything (as if the store's I/O failed), and calls()
// counts the calls of each operation, failed ones included. Calls the store
// makes internally (ExportProfile reading the profile, ImportProfile
// publishing) are not counted as calls of those operations.
//
//   InMemoryProfileStore::Options options;
//   options.max_profiles_per_tenant = 2;
//   InMemoryProfileStore store(std::move(options));
//   store.FailNext(InMemoryProfileStore::Operation::kPublishProfile,
//                  absl::UnavailableError("disk full"));
//   ... run the training manager: its first publish fails, the retry works ...
//   EXPECT_EQ(store.calls(InMemoryProfileStore::Operation::kPublishProfile), 2);
//
// Thread safety: thread-safe; one mutex serialises every call. The clock is
// called with it held and must not call the store.
#ifndef MASKSERVE_STORAGE_TESTING_IN_MEMORY_PROFILE_STORE_H_
#define MASKSERVE_STORAGE_TESTING_IN_MEMORY_PROFILE_STORE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "maskserve/storage/v1/records.pb.h"
#include "storage/job_id.h"
#include "storage/profile_store.h"

namespace maskserve {

class InMemoryProfileStore final : public ProfileStore {
 public:
  struct Options {
    // At most this many live profiles per tenant; 0 = unlimited [0]. As in
    // RocksDbStoreOptions: only creating a profile is refused
    // (RESOURCE_EXHAUSTED), not new versions of existing ones.
    uint64_t max_profiles_per_tenant = 0;
    // Banks served; empty: do not check [empty]. As RocksDbStoreOptions.
    std::vector<std::string> bank_fingerprints;
    // Largest payload accepted [64 MiB].
    size_t max_payload_bytes = size_t{64} << 20;
    // Time source for create/update/end times and job ids [absl::Now].
    std::function<absl::Time()> clock;
    // Seed of the job-id generator; 0 draws one at random [0].
    uint64_t job_id_seed = 0;
  };

  // The ProfileStore methods, for FailNext() and calls().
  enum class Operation {
    kPublishProfile,
    kGetProfile,
    kDeleteProfile,
    kListProfiles,
    kCountProfiles,
    kExportProfile,
    kImportProfile,
    kCreateJob,
    kGetJob,
    kUpdateJob,
    kListJobs,
    kListUnfinishedJobs,
    kCreateCheckpoint,
  };
  static constexpr size_t kNumOperations = static_cast<size_t>(Operation::kCreateCheckpoint) + 1;
  // "PublishProfile", "GetJob", ...
  static std::string_view OperationName(Operation op);

  InMemoryProfileStore();
  explicit InMemoryProfileStore(Options options);

  InMemoryProfileStore(const InMemoryProfileStore&) = delete;
  InMemoryProfileStore& operator=(const InMemoryProfileStore&) = delete;
  ~InMemoryProfileStore() override = default;

  // ProfileStore interface
  absl::StatusOr<v1::Profile> PublishProfile(std::string_view tenant, std::string_view profile_id,
                                             PublishProfileRequest request) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredProfile> GetProfile(std::string_view tenant,
                                           std::string_view profile_id) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<uint64_t> DeleteProfile(std::string_view tenant, std::string_view profile_id,
                                         std::optional<uint64_t> expected_version) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ListProfilesResult> ListProfiles(std::string_view tenant,
                                                  const PageRequest& page) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<uint64_t> CountProfiles(std::string_view tenant) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ExportedProfile> ExportProfile(std::string_view tenant,
                                                std::string_view profile_id) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Profile> ImportProfile(std::string_view tenant, std::string_view profile_id,
                                            std::string_view data,
                                            const ImportProfileOptions& options) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::TrainingJob> CreateJob(std::string_view tenant,
                                            const v1::TrainProfileRequest& request,
                                            const v1::TrainingJob& initial) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredJob> GetJob(std::string_view tenant, std::string_view job_id) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::TrainingJob> UpdateJob(std::string_view tenant,
                                            const v1::TrainingJob& job) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ListJobsResult> ListJobs(std::string_view tenant, const JobFilter& filter,
                                          const PageRequest& page) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<UnfinishedJobs> ListUnfinishedJobs() override ABSL_LOCKS_EXCLUDED(mu_);
  // UNIMPLEMENTED: there is nothing on disk to copy.
  absl::Status CreateCheckpoint(const std::string& dir) override ABSL_LOCKS_EXCLUDED(mu_);

  // Test hooks.

  // The next `times` calls of `op` (after those already queued) return
  // `status` without validating or changing anything. An OK `status` lets
  // those calls run normally, so FailNext(op, OkStatus()) followed by
  // FailNext(op, error) fails the second call from now. `times` <= 0 queues
  // nothing.
  void FailNext(Operation op, absl::Status status, int times = 1) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops every queued FailNext() status.
  void ClearFailures() ABSL_LOCKS_EXCLUDED(mu_);
  // FailNext() statuses of `op` not yet returned.
  int pending_failures(Operation op) const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls of `op` so far, including those that failed (injected or not).
  int64_t calls(Operation op) const ABSL_LOCKS_EXCLUDED(mu_);
  void ResetCalls() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One profile id of a tenant: live, or a tombstone keeping the last
  // version (with profile_id and version only, as the real store keeps).
  struct ProfileEntry {
    StoredProfile stored;
    bool deleted = false;
  };
  struct TenantData {
    // Bytewise id order (std::string compares as unsigned char).
    std::map<std::string, ProfileEntry, std::less<>> profiles;
    uint64_t live_profiles = 0;
    // By job id, i.e. by creation.
    std::map<std::string, storage::v1::JobRecord, std::less<>> jobs;
  };
  // How PublishLocked treats an existing profile.
  struct PublishCheck {
    std::optional<uint64_t> expected_version;  // FAILED_PRECONDITION on mismatch
    bool must_not_exist = false;               // ALREADY_EXISTS if live (import)
  };

  absl::Time Now() const { return options_.clock(); }
  // Counts a call of `op` and returns its queued FailNext() status, if any.
  absl::Status BeginCall(Operation op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tenant's data, or nullptr if it has none (a lookup creates nothing).
  const TenantData* FindTenant(std::string_view tenant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TenantData* FindTenant(std::string_view tenant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The live version; NOT_FOUND if absent or deleted.
  absl::StatusOr<StoredProfile> GetLocked(std::string_view tenant,
                                          std::string_view profile_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tenant's job; NOT_FOUND if it has none of that id.
  absl::StatusOr<storage::v1::JobRecord*> FindJob(std::string_view tenant, std::string_view job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckBank(const v1::Profile& profile) const;
  absl::Status CheckQuota(std::string_view tenant, uint64_t live_profiles) const;
  absl::StatusOr<v1::Profile> PublishLocked(std::string_view tenant, std::string_view profile_id,
                                            PublishProfileRequest request,
                                            const PublishCheck& check)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  JobIdGenerator job_ids_;  // thread-safe on its own

  mutable absl::Mutex mu_;
  std::map<std::string, TenantData, std::less<>> tenants_ ABSL_GUARDED_BY(mu_);
  std::array<int64_t, kNumOperations> calls_ ABSL_GUARDED_BY(mu_) = {};
  std::array<std::deque<absl::Status>, kNumOperations> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_IN_MEMORY_PROFILE_STORE_H_
