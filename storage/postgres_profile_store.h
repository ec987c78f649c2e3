// File: storage/postgres_profile_store.h
//
// PostgresProfileStore: the ProfileStore (storage/profile_store.h) on a
// PostgreSQL database, through libpqxx. It keeps the same contract as
// RocksDbProfileStore, so a server can run on either:
// - Records are the RocksDB store's: every profile and job row holds the
//   record_codec-framed, checksummed record (storage/record_codec.h) in a
//   bytea column. A row whose bytes fail their checks is DATA_LOSS for that
//   profile or job only, and listings report it in `unreadable`.
// - Every change that acknowledges something (publish, delete, import, job
//   creation, a job's end) is one PostgreSQL transaction committed with
//   synchronous_commit on before the call returns OK. Publishing with
//   `finished_job` writes the profile, the tenant's counter and the job
//   (SUCCEEDED, published_version, examples dropped) in that transaction.
//   Publications and deletions also NOTIFY the change feed's channel in
//   their transaction (WatchProfileChanges).
//   Job progress (QUEUED/RUNNING updates) commits asynchronously, like
//   RocksDB's unsynced progress: a crash may lose the latest progress, never
//   the job.
// - Writes of one tenant are serialised by a row lock on the tenant's
//   counter row (table `tenants`), so versions, compare-and-set, the
//   maintained profile count and the quota are exact under concurrency, also
//   across processes sharing the database; different tenants write in
//   parallel. A transaction that fails on a deadlock or serialization
//   failure, or on a connection that broke before commit, is run once more.
// - Profiles list in bytewise id order (COLLATE "C"), jobs newest first
//   (job ids sort by creation), with RocksDB's page tokens and page sizes.
// - Open() creates the schema in an empty database and migrates an older one,
//   one version step per transaction, recorded in table `schema_version`
//   (storage/postgres_schema.h). A database whose schema is newer than this
//   build knows is FAILED_PRECONDITION. Then the store meta (backbone and
//   bank fingerprints, storage/store_meta.h) is checked as RocksDB checks it.
//   The database should be dedicated to the store (its tables have plain
//   names: schema_version, store_meta, tenants, profiles, jobs).
// - Errors: connection and server I/O failures are UNAVAILABLE (with the
//   server's message as detail, storage/status_detail.h), a full disk is
//   RESOURCE_EXHAUSTED; otherwise the codes of the contract.
// - CreateCheckpoint is UNIMPLEMENTED: back up with pg_dump or PostgreSQL's
//   own backup tools (pg_basebackup, WAL archiving).
//
// Connections: a pool of Options::pool_size libpqxx connections (a pqxx
// connection is not thread-safe: each call borrows one for its
// transaction, waiting when all are in use). A broken connection is dropped
// and replaced on the next use, so the store survives a server restart.
//
//   PostgresProfileStore::Options options;
//   options.url = "postgresql://maskserve@db.internal:5432/maskserve";
//   options.backbone_fingerprint = backbone.fingerprint();
//   options.bank_fingerprints = {bank.fingerprint()};
//   absl::StatusOr<std::unique_ptr<PostgresProfileStore>> store =
//       PostgresProfileStore::Open(std::move(options));
//   if (!store.ok()) return store.status();  // UNAVAILABLE, FAILED_PRECONDITION
//
// Thread safety: thread-safe; all methods may be called concurrently.
#ifndef MASKSERVE_STORAGE_POSTGRES_PROFILE_STORE_H_
#define MASKSERVE_STORAGE_POSTGRES_PROFILE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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
#include "storage/postgres_change_feed.h"
#include "storage/profile_store.h"

namespace maskserve {

namespace postgres_internal {
class ConnectionPool;
class Transaction;
}  // namespace postgres_internal

class PostgresProfileStore : public ProfileStore {
 public:
  struct Options {
    // libpq connection URI, e.g. "postgresql://user:secret@host:5432/db"
    // (libpq's parameters, such as connect_timeout or sslmode, may be added
    // as query parameters). Required.
    std::string url;
    // Connections kept for concurrent calls [4]; at least 1.
    int pool_size = 4;

    // As RocksDbStoreOptions: the fingerprints of the loaded backbone and
    // bank(s); a database written for others is refused with
    // FAILED_PRECONDITION unless `migrate_fingerprints`. Empty: do not check.
    std::string backbone_fingerprint;
    std::vector<std::string> bank_fingerprints;
    bool migrate_fingerprints = false;

    // As RocksDbStoreOptions: at most this many live profiles per tenant; 0 =
    // unlimited [0]. Only creating a profile is refused (RESOURCE_EXHAUSTED).
    uint64_t max_profiles_per_tenant = 0;
    // Optional hook consulted before a profile is created, with the tenant's
    // live profile count; a non-OK status refuses the creation. Must be
    // thread-safe and must not call the store.
    std::function<absl::Status(std::string_view tenant, uint64_t live_profiles)> quota_check;
    // Largest payload accepted [64 MiB].
    size_t max_payload_bytes = size_t{64} << 20;
    // One ListProfiles page ends early (with a next-page token) once it holds
    // this many bytes of metadata [4 MiB].
    size_t list_page_bytes = size_t{4} << 20;

    // Time source for create/update/delete times and job ids [absl::Now].
    std::function<absl::Time()> clock;
    // Seed of the job-id generator; 0 draws one at random [0].
    uint64_t job_id_seed = 0;

    // Heartbeat and reconnection of change feeds (its `url` is ignored:
    // feeds connect to `url`).
    PostgresChangeFeed::Options change_feed;
  };

  // Connects, creates or migrates the schema, and checks the store meta.
  // INVALID_ARGUMENT for bad options, UNAVAILABLE when the server cannot be
  // reached, FAILED_PRECONDITION for a newer schema or other fingerprints,
  // DATA_LOSS for an unreadable meta record.
  static absl::StatusOr<std::unique_ptr<PostgresProfileStore>> Open(Options options);

  PostgresProfileStore(const PostgresProfileStore&) = delete;
  PostgresProfileStore& operator=(const PostgresProfileStore&) = delete;
  ~PostgresProfileStore() override;

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
  // Live profiles of all tenants (the sum of the maintained counters; one
  // query, for metrics).
  absl::StatusOr<uint64_t> TotalProfileCount();
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
  // Leases are recorded in the job's record (lease_owner, its expiry, on
  // this process's clock); a claim locks the row with FOR UPDATE SKIP
  // LOCKED. UpdateJob to QUEUED (a trainer's graceful stop) releases the
  // lease.
  absl::StatusOr<StoredJob> ClaimJob(std::string_view tenant, std::string_view job_id,
                                     const JobLease& lease) override;
  absl::StatusOr<v1::TrainingJob> RenewJobLease(std::string_view tenant, std::string_view job_id,
                                                const JobLease& lease) override;
  // One query per 1000 ids.
  absl::StatusOr<std::vector<uint64_t>> GetProfileVersions(
      std::string_view tenant, const std::vector<std::string>& profile_ids) override;
  // A PostgresChangeFeed (storage/postgres_change_feed.h) on its own
  // connection, with Options::change_feed.
  absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> WatchProfileChanges(
      ProfileChangeSubscriber* subscriber) override;
  // UNIMPLEMENTED: use pg_dump or PostgreSQL's own backups.
  absl::Status CreateCheckpoint(const std::string& dir) override;
  // OK unless the last write failed on the server or the connection; then
  // probes with a committed write, and is OK again once one succeeds.
  absl::Status CheckWritable() override;

  // The store meta (fingerprints) as recorded, after any migration.
  const storage::v1::StoreMeta& meta() const { return meta_; }

  // Test-only hooks, bypassing framing and checks, to plant corrupted or
  // hostile bytes and to inspect or alter the schema.
  enum class Table { kProfiles, kJobs };
  // The record bytes of the row (tenant, id); NOT_FOUND if there is none.
  absl::StatusOr<std::string> GetRawForTest(Table table, std::string_view tenant,
                                            std::string_view id);
  // Replaces the record bytes of an existing row (tenant, id).
  absl::Status PutRawForTest(Table table, std::string_view tenant, std::string_view id,
                             std::string_view bytes);
  // Runs `sql` in a transaction and returns the first column of the first
  // row as text ("" when there is none or it is NULL).
  absl::StatusOr<std::string> ExecuteSqlForTest(std::string_view sql);

 private:
  using Transaction = postgres_internal::Transaction;

  // What a profile row holds.
  struct ProfileState {
    enum Kind { kAbsent, kLive, kDeleted, kCorrupt } kind = kAbsent;
    storage::v1::ProfileRecord record;  // kLive, kDeleted
    absl::Status corruption;            // kCorrupt
    // The last version: the record's, or for kCorrupt the row's column.
    uint64_t version = 0;
  };
  // How PublishInTransaction treats an existing profile.
  struct PublishCheck {
    std::optional<uint64_t> expected_version;  // FAILED_PRECONDITION on mismatch
    bool must_not_exist = false;               // ALREADY_EXISTS if live (import)
  };
  enum class WriteKind { kDurable, kProgress };

  PostgresProfileStore(Options options, std::unique_ptr<postgres_internal::ConnectionPool> pool);

  absl::Time Now() const { return options_.clock(); }
  absl::Status LoadMeta();
  // Runs `body` in a read-write transaction (see postgres_internal) and
  // records infrastructure failures for CheckWritable().
  absl::Status Write(std::string_view context, WriteKind kind,
                     const std::function<absl::Status(Transaction&)>& body);
  // Runs `body` in a read-only snapshot (REPEATABLE READ) transaction.
  absl::Status Read(std::string_view context,
                    const std::function<absl::Status(Transaction&)>& body);
  // Runs a body of one read statement without BEGIN/COMMIT (one round trip).
  absl::Status ReadOne(std::string_view context,
                       const std::function<absl::Status(Transaction&)>& body);
  static absl::StatusOr<ProfileState> ReadProfileState(Transaction& tx, const std::string& tenant,
                                                       const std::string& profile_id);
  static absl::StatusOr<storage::v1::JobRecord> ReadJobRecord(Transaction& tx,
                                                              const std::string& tenant,
                                                              const std::string& job_id,
                                                              bool for_update);

  absl::Status CheckBank(const v1::Profile& profile) const;
  absl::Status CheckQuota(std::string_view tenant, uint64_t live_profiles) const;
  absl::StatusOr<v1::Profile> Publish(std::string_view tenant, std::string_view profile_id,
                                      PublishProfileRequest request, const PublishCheck& check);

  const Options options_;
  std::unique_ptr<postgres_internal::ConnectionPool> pool_;
  // Written once in Open(), read-only afterwards.
  storage::v1::StoreMeta meta_;
  JobIdGenerator job_ids_;
  // The last write's infrastructure failure, until a write succeeds.
  absl::Mutex write_error_mu_;
  absl::Status write_error_ ABSL_GUARDED_BY(write_error_mu_);
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_POSTGRES_PROFILE_STORE_H_
