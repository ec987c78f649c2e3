// File: storage/profile_store.h
//
// ProfileStore: the durable home of profiles and training jobs, and the seam
// between the server and its storage (SPEC section 10: the store sits behind
// an interface so that a sharded or remote store can replace it). The
// implementation is RocksDbProfileStore (storage/rocksdb_profile_store.h);
// tests may substitute their own.
//
// Contract shared by every implementation:
// - Everything is scoped by tenant. A tenant never reads, lists, counts or
//   changes another tenant's profiles or jobs. Tenants and profile ids are
//   validated (storage/ids.h): INVALID_ARGUMENT naming the field.
// - Each profile has a monotonic version. Every publication makes a new
//   version (previous + 1, starting at 1); deleting keeps a tombstone with the
//   last version, so a re-created profile continues after it and versions
//   never go backwards.
// - Writes that acknowledge something to a client (publish, delete, import,
//   job creation, a job's final state) are durable when they return OK, and
//   atomic: a crash at any instant leaves each profile at its old or its new
//   version. Publishing a profile together with `finished_job` marks the job
//   SUCCEEDED and drops its examples in the same atomic write.
// - A record that fails its checksum, is truncated or has an unknown format
//   version is DATA_LOSS for that profile or job only; listings report it in
//   `unreadable` and carry on.
// - Error codes: NOT_FOUND (absent or deleted), FAILED_PRECONDITION
//   (expected_version mismatch, bank fingerprint, job already final),
//   ALREADY_EXISTS (import without overwrite), RESOURCE_EXHAUSTED (quota),
//   DATA_LOSS (corruption), UNAVAILABLE (I/O errors).
//
// Example (the server's TrainProfile path):
//
//   absl::StatusOr<v1::TrainingJob> job = store.CreateJob(tenant, request, {});
//   ...train...
//   PublishProfileRequest publish;
//   publish.profile = trained_metadata;      // method, labels, sizes, metrics
//   publish.payload = codec_bytes;
//   publish.expected_version = request.expected_version();  // if set
//   publish.finished_job = final_status;     // job_id + metrics
//   absl::StatusOr<v1::Profile> published =
//       store.PublishProfile(tenant, request.profile_id(), std::move(publish));
//
// Thread safety: implementations are thread-safe; all methods may be called
// concurrently.
#ifndef MASKSERVE_STORAGE_PROFILE_STORE_H_
#define MASKSERVE_STORAGE_PROFILE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "maskserve/v1/maskserve.pb.h"
#include "storage/profile_changes.h"

namespace maskserve {

// One version of a profile as stored.
struct StoredProfile {
  // Metadata; `profile.version` is the version, `profile.profile_id` the id.
  v1::Profile profile;
  // The encoded parameters (the engine's profile codec), opaque to the store.
  std::string payload;
};

struct PublishProfileRequest {
  // Metadata of the new version. The store sets profile_id, version,
  // create_time (kept from the previous live version, else now) and
  // update_time (now); everything else is stored as given.
  v1::Profile profile;
  std::string payload;
  // If set, publish only if the profile is now at this version (0: only if
  // it does not exist); FAILED_PRECONDITION otherwise.
  std::optional<uint64_t> expected_version;
  // If set, the training job that produced this version: it must exist, be
  // QUEUED or RUNNING and be for this profile. It is stored with this status
  // (progress, metrics, end_time; job_id, profile_id, method and create_time
  // are kept from the stored job), state SUCCEEDED and published_version
  // set, and its examples are dropped, in the same atomic write.
  std::optional<v1::TrainingJob> finished_job;
};

// A record that could not be read (corrupted); listings skip it.
struct UnreadableRecord {
  std::string id;  // profile id or job id
  absl::Status status;
};

struct PageRequest {
  // 0: 100; values above 1000 are clamped to 1000.
  uint32_t page_size = 0;
  // next_page_token of the previous page; empty for the first page.
  std::string page_token;
};

struct ListProfilesResult {
  // In profile-id order (bytewise).
  std::vector<v1::Profile> profiles;
  // Empty on the last page.
  std::string next_page_token;
  // The tenant's live profiles in total (maintained, not counted).
  uint64_t total_count = 0;
  std::vector<UnreadableRecord> unreadable;
};

struct ExportedProfile {
  // Self-describing bytes (storage/profile_export.h).
  std::string data;
  uint64_t version = 0;
};

struct ImportProfileOptions {
  // Replace an existing profile as a new version instead of ALREADY_EXISTS.
  bool overwrite = false;
};

struct StoredJob {
  std::string tenant;
  v1::TrainingJob job;
  // The accepted request; examples are cleared once the job is final.
  v1::TrainProfileRequest request;
};

struct JobFilter {
  // Only this profile's jobs; empty: all.
  std::string profile_id;
  // Only jobs in these states; empty: all.
  std::vector<v1::JobState> states;
};

struct ListJobsResult {
  // Newest first.
  std::vector<v1::TrainingJob> jobs;
  std::string next_page_token;
  std::vector<UnreadableRecord> unreadable;
};

// A trainer's hold on a job (ClaimJob, RenewJobLease).
struct JobLease {
  // Who holds it: unique per trainer process (host, pid, a random part).
  std::string owner;
  // How long a claim or renewal holds.
  absl::Duration duration = absl::Seconds(30);
};

struct UnfinishedJobs {
  // QUEUED and RUNNING jobs of every tenant, oldest first, with requests.
  std::vector<StoredJob> jobs;
  std::vector<UnreadableRecord> unreadable;
};

class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Profiles.

  // Stores a new version and returns its metadata as stored.
  virtual absl::StatusOr<v1::Profile> PublishProfile(std::string_view tenant,
                                                     std::string_view profile_id,
                                                     PublishProfileRequest request) = 0;
  // The current version; NOT_FOUND if absent or deleted.
  virtual absl::StatusOr<StoredProfile> GetProfile(std::string_view tenant,
                                                   std::string_view profile_id) = 0;
  // Deletes the profile (if set, only at `expected_version`) and returns the
  // version deleted. A corrupted profile may be deleted without
  // `expected_version`: that is how an operator clears it.
  virtual absl::StatusOr<uint64_t> DeleteProfile(std::string_view tenant,
                                                 std::string_view profile_id,
                                                 std::optional<uint64_t> expected_version) = 0;
  virtual absl::StatusOr<ListProfilesResult> ListProfiles(std::string_view tenant,
                                                          const PageRequest& page) = 0;
  // Live profiles of the tenant.
  virtual absl::StatusOr<uint64_t> CountProfiles(std::string_view tenant) = 0;

  // The current version as portable bytes.
  virtual absl::StatusOr<ExportedProfile> ExportProfile(std::string_view tenant,
                                                        std::string_view profile_id) = 0;
  // Stores exported bytes under `profile_id` as a new version. Bad bytes are
  // INVALID_ARGUMENT ("data: ...").
  virtual absl::StatusOr<v1::Profile> ImportProfile(std::string_view tenant,
                                                    std::string_view profile_id,
                                                    std::string_view data,
                                                    const ImportProfileOptions& options) = 0;

  // Training jobs.

  // Persists a new QUEUED job for `request` (examples included) and returns
  // it with a fresh job id. From `initial`, hyper_parameters and
  // total_epochs are kept; the rest is derived from the request.
  virtual absl::StatusOr<v1::TrainingJob> CreateJob(std::string_view tenant,
                                                    const v1::TrainProfileRequest& request,
                                                    const v1::TrainingJob& initial) = 0;
  virtual absl::StatusOr<StoredJob> GetJob(std::string_view tenant, std::string_view job_id) = 0;
  // Records a job's progress (QUEUED/RUNNING) or its end (FAILED/CANCELLED:
  // examples dropped, durable). SUCCEEDED comes only with PublishProfile.
  // A job already in a final state is FAILED_PRECONDITION.
  virtual absl::StatusOr<v1::TrainingJob> UpdateJob(std::string_view tenant,
                                                    const v1::TrainingJob& job) = 0;
  virtual absl::StatusOr<ListJobsResult> ListJobs(std::string_view tenant, const JobFilter& filter,
                                                  const PageRequest& page) = 0;
  // For re-queueing at start-up.
  virtual absl::StatusOr<UnfinishedJobs> ListUnfinishedJobs() = 0;

  // Job leases: how trainers sharing a store run each job once. ClaimJob
  // gives the job to `lease.owner` until now + lease.duration, if it is
  // unfinished and no other owner's lease on it is still running, and
  // returns it as stored; FAILED_PRECONDITION when another trainer holds it
  // (or is claiming it right now) or it is final, NOT_FOUND when absent.
  // RenewJobLease extends the owner's lease and returns the job as stored
  // (its cancel_requested tells a trainer on another replica to stop);
  // FAILED_PRECONDITION when the owner lost it (another trainer claimed it
  // after it expired, or the job is final).
  // This default is for stores only this process writes: leases are not
  // recorded, a claim of an unfinished job always succeeds (the trainer's
  // memory keeps it from running a job twice).
  virtual absl::StatusOr<StoredJob> ClaimJob(std::string_view tenant, std::string_view job_id,
                                             const JobLease& lease);
  virtual absl::StatusOr<v1::TrainingJob> RenewJobLease(std::string_view tenant,
                                                        std::string_view job_id,
                                                        const JobLease& lease);

  // Current versions of the tenant's profiles `profile_ids`, in order: the
  // live version, or 0 for one absent or deleted (an unreadable record: 0,
  // or the version its row records where the store keeps one beside the
  // record, as PostgreSQL does). How a server revalidates the profiles it holds in
  // memory after its change feed was interrupted. This default reads them
  // one by one with GetProfile.
  virtual absl::StatusOr<std::vector<uint64_t>> GetProfileVersions(
      std::string_view tenant, const std::vector<std::string>& profile_ids);

  // Change feed (storage/profile_changes.h). A store that other processes
  // write too returns a running feed delivering every publication and
  // deletion (this process's own included) to `subscriber`, which must
  // outlive it. A store that only this process writes returns null (this
  // default): every change then goes through this process.
  virtual absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> WatchProfileChanges(
      ProfileChangeSubscriber* subscriber) {
    (void)subscriber;
    return std::unique_ptr<ProfileChangeFeed>();
  }

  // Backups.

  // A consistent, openable copy of the whole store in `dir` (which must not
  // exist), taken online.
  virtual absl::Status CreateCheckpoint(const std::string& dir) = 0;

  // Health: OK while the store takes writes. After a write failed (disk
  // full, a RocksDB background error) it is the failure, until a probe
  // write succeeds again; each call may make that probe. (Stores that
  // cannot fail that way keep this default.)
  virtual absl::Status CheckWritable() { return absl::OkStatus(); }
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_PROFILE_STORE_H_
