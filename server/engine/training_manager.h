// File: server/engine/training_manager.h
//
// Runs TrainProfile jobs in the background, beside serving:
//
// - Submit() persists the job with its examples (durable before the job id
//   is returned) and queues it; the request was validated and its options
//   resolved by PrepareTrainRequest (server/engine/request_validation.h),
//   and the job runs with exactly the options stored with it. A
//   second job for a profile that has one queued or running is
//   FAILED_PRECONDITION (checked atomically with the submission).
// - Jobs wait in one queue per tenant, taken round-robin, so one tenant's
//   backlog cannot starve the others. Worker threads (1 by default) run
//   them one at a time at a lower CPU priority than serving (nice +10).
//   Progress is kept in memory, pushed to Watch() streams and persisted
//   after every validated epoch. A job may run for at most
//   `max_seconds_per_job` (then FAILED).
// - On success the profile is composed (refusing non-finite weights), then
//   the new version and the job's end are published in one atomic, synced
//   store write, only over the version the job started from (base_version),
//   then swapped into the resident profile table (hot swap, `on_published`).
//   A failed job records its error and leaves the previous version serving.
// - A final state that cannot be written is retried (with backoff) until
//   the store takes it; meanwhile the job counts as unfinished and
//   final_writes_failing() is true (health reports NOT_SERVING).
// - Cancel() stops a queued job at once (CANCELLED); for a running job it
//   durably records cancel_requested before answering, so the job ends
//   CANCELLED and never runs again, even across a crash.
// - Shutdown() stops the workers; a job interrupted by it stays QUEUED in
//   the store and is re-queued by Start(). A job that was RUNNING when the
//   process died is re-queued until it has started `max_attempts` times;
//   then Start() ends it FAILED, so a job that kills the process (memory)
//   cannot crash-loop the server.
//
// Thread safety: thread-safe.
#ifndef MASKSERVE_SERVER_ENGINE_TRAINING_MANAGER_H_
#define MASKSERVE_SERVER_ENGINE_TRAINING_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/model/backbone.h"
#include "core/peft/profile_pool.h"
#include "core/peft/serving_banks.h"
#include "maskserve/v1/maskserve.pb.h"
#include "server/engine/clock.h"
#include "server/engine/profile_table.h"
#include "server/engine/tenant_round_robin.h"
#include "storage/profile_store.h"

namespace maskserve {

class TrainingManager {
 public:
  struct Options {
    int workers = 1;
    // Added to the worker threads' nice value (lower CPU priority).
    int nice = 10;
    // LibTorch intra-op threads of each worker (0 = one per core).
    int intra_op_threads = 1;
    // Queued or running jobs one tenant may have (RESOURCE_EXHAUSTED beyond).
    int64_t max_unfinished_jobs_per_tenant = 100;
    // Runs a job may start before a crash during it ends it FAILED [2].
    int max_attempts = 2;
    // Longest one job may train; then it ends FAILED [1 h]. Zero: no limit.
    absl::Duration max_seconds_per_job = absl::Hours(1);
    // Open Watch() streams, in all and per tenant (RESOURCE_EXHAUSTED
    // beyond): each holds a server thread.
    int64_t max_watch_streams = 256;
    int64_t max_watch_streams_per_tenant = 32;
    // First and longest wait between retries of a final state's write.
    absl::Duration retry_initial_backoff = absl::Milliseconds(50);
    absl::Duration retry_max_backoff = absl::Seconds(2);

    // Run jobs in this process (the train role) [true]. False: Submit()
    // only stores the job, for a trainer sharing the store to run.
    bool run_jobs = true;
    // On a shared store (Start(true)): this trainer's lease identity (empty:
    // host, pid and a random part), how long a claim holds, how often a
    // running job's lease is renewed (which also picks up a cancel made on
    // another replica), and how often an idle worker looks in the store for
    // jobs submitted elsewhere or left by a trainer that died.
    std::string lease_owner;
    absl::Duration lease = absl::Seconds(30);
    absl::Duration lease_renew_interval = absl::Seconds(2);
    absl::Duration job_poll_interval = absl::Seconds(1);
  };
  // Hooks for metrics and hot swap; any may be empty.
  struct Hooks {
    std::function<void(const ProfileHandle&)> on_published;
    std::function<void(v1::JobState from, v1::JobState to)> on_state_change;
    std::function<void(double seconds)> on_training_finished;
    // Training time spent on `tenant`'s job since the last call for it.
    std::function<void(const std::string& tenant, double seconds)> on_training_busy;
  };

  // `store` and `clock` must outlive the manager. Trained profiles are
  // written into `pool` (the serving device's rows) before they publish.
  TrainingManager(Options options, ProfileStore* store, Backbone backbone, ServingBanks banks,
                  std::shared_ptr<ProfilePool> pool, Hooks hooks,
                  const Clock& clock = Clock::Real());
  ~TrainingManager();

  // Starts the workers (unless !run_jobs). On a store only this process
  // writes, first re-queues the store's unfinished jobs. On a store shared
  // with other processes (`shared_store`), idle workers poll it for jobs
  // instead, and every job is claimed with a lease before it runs.
  absl::Status Start(bool shared_store = false);
  // `request` as PrepareTrainRequest returned it; `base_version` is the
  // profile's current version (0: none), which the job may publish over.
  absl::StatusOr<v1::TrainingJob> Submit(const std::string& tenant,
                                         const v1::TrainProfileRequest& request,
                                         std::optional<uint64_t> base_version = std::nullopt);
  absl::StatusOr<v1::TrainingJob> Get(const std::string& tenant, const std::string& job_id);
  // The job as this process knows it (queued, running, or finishing), or
  // nullopt (also while its final state is being written: the store's state
  // is then the one to report); never reads the store.
  std::optional<v1::TrainingJob> Live(const std::string& tenant, const std::string& job_id) const;
  absl::StatusOr<v1::TrainingJob> Cancel(const std::string& tenant, const std::string& job_id);
  // Calls `send` with the job's current state and then after every change,
  // until the job is final (OK), `send` returns false or `stopped()` turns
  // true (CANCELLED). RESOURCE_EXHAUSTED beyond max_watch_streams(_per_tenant).
  absl::Status Watch(const std::string& tenant, const std::string& job_id,
                     const std::function<bool(const v1::TrainingJob&)>& send,
                     const std::function<bool()>& stopped);
  // Stops the workers; the running job is interrupted and stays queued in
  // the store for the next start.
  void Shutdown();

  // True while a job for this profile is queued or running.
  bool HasUnfinishedJob(const std::string& tenant, const std::string& profile_id) const;
  // Jobs per state known to this process (for metrics).
  std::map<v1::JobState, int64_t> CountByState() const;
  // The same per (tenant, state), for tenants with a job in this process.
  std::map<std::pair<std::string, v1::JobState>, int64_t> CountByTenantAndState() const;
  // True while a job's final state is waiting for the store to take it.
  bool final_writes_failing() const;

 private:
  // A job known in memory: queued, running, or recently final.
  struct LiveJob {
    std::string tenant;
    v1::TrainingJob job;
    uint64_t revision = 0;
    // Publication has begun: too late to cancel.
    bool publishing = false;
    // The final state is in `job` but not yet in the store.
    bool recording = false;
    // When a running job has used its time budget.
    absl::Time deadline = absl::InfiniteFuture();
    // Found by polling a shared store, not claimed yet: the store, not
    // this copy, says how it is doing.
    bool remote = false;
    // Claimed (ClaimJob) by this trainer; when its lease was last renewed;
    // whether it was lost (another trainer holds it now: stop, record
    // nothing).
    bool claimed = false;
    absl::Time lease_renewed;
    bool lease_lost = false;
  };
  // How a run ended, before it is recorded.
  struct Outcome {
    v1::JobState state = v1::FAILED;
    std::string error;
  };

  bool HasUnfinishedJobLocked(const std::string& tenant, const std::string& profile_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What Start() does with an unfinished job from the store: nullopt to
  // re-queue it, or the final state to record instead.
  std::optional<v1::TrainingJob> EndAtStart(const v1::TrainingJob& stored) const;
  absl::Status WatchUntilFinal(const std::string& tenant, const std::string& job_id,
                               const std::function<bool(const v1::TrainingJob&)>& send,
                               const std::function<bool()>& stopped);
  // Writes a final state until the store takes it (or shutdown gives up).
  void RecordFinal(const std::string& tenant, const v1::TrainingJob& job);
  int64_t UnfinishedJobsLocked(const std::string& tenant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddLiveLocked(const std::string& tenant, const v1::TrainingJob& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkerLoop();
  // Adds the shared store's unfinished jobs this process does not hold yet
  // to the queue (as remote: claimed when a worker takes them).
  void PollStore();
  // Renews the leases of running jobs every lease_renew_interval.
  void LeaseLoop();
  // The store's answer to a cancel of a job this process does not run.
  absl::StatusOr<v1::TrainingJob> CancelInStore(const std::string& tenant,
                                                const std::string& job_id);
  // FAILED_PRECONDITION when the shared store has an unfinished job for the
  // profile (submitted through another replica).
  absl::Status CheckNoUnfinishedJobInStore(const std::string& tenant,
                                           const std::string& profile_id);
  void RunJob(const std::string& tenant, const std::string& job_id);
  // Trains and publishes; returns how the job ended (SUCCEEDED is already
  // recorded by the publication; QUEUED means interrupted by shutdown).
  Outcome TrainAndPublish(const std::string& key, const StoredJob& stored);
  // Records a final (or, after a shutdown, QUEUED) state in memory and in
  // the store, then forgets the live job.
  void Finish(const std::string& key, const std::string& tenant, const Outcome& outcome);
  v1::TrainingJob Snapshot(const std::string& key) const;
  bool StopRequested(const std::string& key) const;
  // Updates the live job (under mu_), bumps its revision, wakes watchers.
  void UpdateLive(const std::string& key, const std::function<void(v1::TrainingJob*)>& change);
  void SetState(const std::string& key, v1::JobState state);
  static std::string Key(const std::string& tenant, const std::string& job_id);

  const Options options_;
  const JobLease lease_;
  ProfileStore* const store_;
  const Backbone backbone_;
  const ServingBanks banks_;
  const std::shared_ptr<ProfilePool> pool_;
  const Hooks hooks_;
  const Clock& clock_;

  mutable absl::Mutex mu_;
  absl::CondVar queue_cv_;                       // workers wait for jobs
  absl::CondVar change_cv_;                      // watchers wait for changes
  absl::CondVar retry_cv_;                       // RecordFinal's backoff (woken by Shutdown)
  TenantRoundRobin queue_ ABSL_GUARDED_BY(mu_);  // keys of queued jobs
  std::map<std::string, LiveJob> live_ ABSL_GUARDED_BY(mu_);
  int64_t final_writes_failing_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t watch_streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> watch_streams_by_tenant_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // (tenant, profile) keys whose job is being created in the store.
  std::set<std::string> submitting_ ABSL_GUARDED_BY(mu_);
  // Start(true): the store is shared; idle workers poll it from next_poll_.
  bool shared_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_poll_ ABSL_GUARDED_BY(mu_);
  absl::CondVar lease_cv_;  // the lease loop's wait (woken by Shutdown)
  absl::Mutex workers_mu_;  // serialises Start() and Shutdown()
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(workers_mu_);
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_TRAINING_MANAGER_H_
