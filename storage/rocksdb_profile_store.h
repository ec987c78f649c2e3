// File: storage/rocksdb_profile_store.h
//
// RocksDbProfileStore: the ProfileStore on an embedded RocksDB database in
// one data directory, with column families `profiles`, `jobs` and `meta`
// (key layout in storage/store_keys.h, records in
// proto/maskserve/storage/v1/records.proto).
//
// Durability and atomicity: every change is one rocksdb::WriteBatch (profile
// record + tenant counter + job record + unfinished-job index as needed),
// written with sync=true (Options::sync_writes) before the call returns OK.
// A crash at any instant leaves each profile at its old or its new version
// (storage/crash_test.cc kills a writer with SIGKILL to check it).
//
// Integrity: every value is framed with a CRC-32C (storage/record_codec.h)
// and checked on every read; a bad record is DATA_LOSS for that profile or
// job only.
//
// Concurrency: reads take no lock. Changes lock one of 64 mutex stripes
// chosen by tenant, so read-check-write sequences (compare-and-set, version
// increments, the per-tenant counter, quota) are atomic per tenant while
// different tenants write in parallel and share RocksDB's group commit.
//
// Ownership: the store owns the database; destroying it closes it. Another
// process (or a second Open of the same directory) gets UNAVAILABLE (the
// RocksDB lock is held).
//
//   RocksDbProfileStore::Options options;
//   options.data_dir = "/var/lib/maskserve/store";
//   options.backbone_fingerprint = backbone.fingerprint();
//   options.bank_fingerprints = {bank.fingerprint()};
//   absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store =
//       RocksDbProfileStore::Open(std::move(options));
//   if (!store.ok()) return store.status();   // e.g. FAILED_PRECONDITION
//   UnfinishedJobs requeue = *(*store)->ListUnfinishedJobs();
//
// Thread safety: thread-safe.
#ifndef MASKSERVE_STORAGE_ROCKSDB_PROFILE_STORE_H_
#define MASKSERVE_STORAGE_ROCKSDB_PROFILE_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "maskserve/storage/v1/records.pb.h"
#include "storage/job_id.h"
#include "storage/profile_store.h"
#include "storage/rocksdb_store_options.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace maskserve {

class RocksDbProfileStore : public ProfileStore {
 public:
  using Options = RocksDbStoreOptions;

  // Opens (or creates) the store in options.data_dir and checks its schema
  // and fingerprints (storage/store_meta.h).
  static absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> Open(Options options);

  // Restores a checkpoint made by CreateCheckpoint() into `data_dir`, which
  // must not exist or be empty. The files are copied to a temporary
  // directory and synced, then renamed into place: the whole directory when
  // `data_dir` does not exist; file by file, CURRENT last, into an existing
  // empty one (which may be a mount point). Either way an interrupted
  // restore leaves no half-written store that opens. A checkpoint can also
  // be opened directly.
  static absl::Status RestoreCheckpoint(const std::string& checkpoint_dir,
                                        const std::string& data_dir);

  RocksDbProfileStore(const RocksDbProfileStore&) = delete;
  RocksDbProfileStore& operator=(const RocksDbProfileStore&) = delete;
  ~RocksDbProfileStore() override;

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
  absl::Status CreateCheckpoint(const std::string& dir) override;
  // Resumes RocksDB after a background error and probes with a synced write.
  absl::Status CheckWritable() override;

  // The fingerprints recorded in the store (after any migration).
  const storage::v1::StoreMeta& meta() const { return meta_; }
  // Live profiles of all tenants (kept from the per-tenant counters).
  uint64_t TotalProfileCount() const { return total_profiles_.load(); }
  // Writes the memtables to table files (e.g. before measuring disk use).
  absl::Status Flush();
  // Compacts every family fully (benchmarks; not needed in service).
  absl::Status CompactAll();

  // Test-only hooks: raw values of a family, bypassing framing and checks,
  // to plant corrupted or hostile bytes.
  enum class Family { kProfiles, kJobs, kMeta };
  absl::Status PutRawForTest(Family family, std::string_view key, std::string_view value);
  absl::StatusOr<std::string> GetRawForTest(Family family, std::string_view key);

 private:
  static constexpr size_t kLockStripes = 64;

  // What a profile key holds.
  struct ProfileState {
    enum Kind { kAbsent, kLive, kDeleted, kCorrupt } kind = kAbsent;
    storage::v1::ProfileRecord record;  // kLive, kDeleted
    absl::Status corruption;            // kCorrupt
    // The last version, known for kLive and kDeleted (0 otherwise).
    uint64_t version() const { return record.profile().version(); }
  };

  // How PublishLocked treats an existing profile.
  struct PublishCheck {
    std::optional<uint64_t> expected_version;  // FAILED_PRECONDITION on mismatch
    bool must_not_exist = false;               // ALREADY_EXISTS if live (import)
  };

  RocksDbProfileStore(Options options, std::unique_ptr<rocksdb::DB> db,
                      std::vector<rocksdb::ColumnFamilyHandle*> handles);

  absl::Status LoadMeta();
  absl::Status LoadCounters();
  absl::Time Now() const { return options_.clock(); }
  absl::Mutex& TenantLock(std::string_view tenant);
  rocksdb::ColumnFamilyHandle* FamilyHandle(Family family) const;

  // Point read: nullopt when the key is absent.
  absl::StatusOr<std::optional<std::string>> ReadRaw(rocksdb::ColumnFamilyHandle* family,
                                                     std::string_view key,
                                                     std::string_view context);
  absl::Status Commit(rocksdb::WriteBatch* batch, bool sync, std::string_view context);

  absl::StatusOr<ProfileState> ReadProfileState(std::string_view tenant,
                                                std::string_view profile_id);
  // The tenant's live-profile counter; DATA_LOSS if it is damaged.
  absl::StatusOr<uint64_t> ReadCounter(std::string_view tenant);
  // As ReadCounter, but repairs a damaged counter by recounting.
  // REQUIRES: the tenant's lock.
  absl::StatusOr<uint64_t> CounterForUpdate(std::string_view tenant);
  // Counts the tenant's live profiles by scanning and rewrites the counter.
  // REQUIRES: the tenant's lock (or no concurrent writers, as in Open).
  absl::StatusOr<uint64_t> RecountTenant(std::string_view tenant);
  absl::Status CheckBank(const v1::Profile& profile) const;
  absl::Status CheckQuota(std::string_view tenant, uint64_t live_profiles);
  absl::StatusOr<v1::Profile> PublishLocked(std::string_view tenant, std::string_view profile_id,
                                            PublishProfileRequest request,
                                            const PublishCheck& check);
  absl::StatusOr<storage::v1::JobRecord> ReadJobRecord(std::string_view tenant,
                                                       std::string_view job_id);

  const Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  // Owned; destroyed before db_ is closed.
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* profiles_ = nullptr;
  rocksdb::ColumnFamilyHandle* jobs_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_family_ = nullptr;
  // Written once in Open(), read-only afterwards.
  storage::v1::StoreMeta meta_;

  // Serialise read-check-write sequences per tenant (see the file comment);
  // they guard the tenant's keys in RocksDB rather than members.
  std::array<absl::Mutex, kLockStripes> tenant_locks_;
  JobIdGenerator job_ids_;
  std::atomic<uint64_t> total_profiles_{0};
  // The last write's failure, until a write succeeds (CheckWritable()).
  absl::Mutex write_error_mu_;
  absl::Status write_error_ ABSL_GUARDED_BY(write_error_mu_);
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_ROCKSDB_PROFILE_STORE_H_
