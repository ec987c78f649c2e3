#include "server/engine/training_manager.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "core/model/device.h"
#include "core/profile/profile_codec.h"
#include "core/training/profile_trainer.h"
#include "proto/job_state.h"
#include "server/engine/engine_errors.h"
#include "server/engine/request_validation.h"
#include "server/engine/resident_profile.h"
#include "server/log.h"
#include "storage/job_records.h"
#include "storage/status_macros.h"
#include "storage/time_util.h"

namespace maskserve {

namespace {

v1::EvalMetrics ToProto(const EvalResult& r) {
  v1::EvalMetrics m;
  m.set_loss(float(r.loss));
  m.set_accuracy(float(r.accuracy));
  m.set_macro_f1(float(r.macro_f1));
  m.set_num_examples(uint32_t(r.examples));
  return m;
}

// The published version's metadata: what was asked, what it costs, how well
// it did.
v1::Profile PublishedMetadata(const v1::TrainProfileRequest& request, const std::string& job_id,
                              const ProfileData& profile, const ProfileBytes& size) {
  v1::Profile meta;
  meta.set_method(request.method());
  *meta.mutable_label_names() = request.label_names();
  meta.mutable_size()->set_mask_bytes(size.masks);
  meta.mutable_size()->set_head_bytes(size.head);
  meta.mutable_size()->set_metadata_bytes(size.metadata);
  meta.mutable_size()->set_total_bytes(size.total);
  const ProfileMetrics& m = profile.metrics;
  meta.mutable_metrics()->set_accuracy(m.validation_accuracy);
  meta.mutable_metrics()->set_loss(m.validation_loss);
  meta.mutable_metrics()->set_macro_f1(m.validation_macro_f1);
  meta.mutable_metrics()->set_num_examples(m.validation_examples);
  meta.mutable_train_metrics()->set_accuracy(m.train_accuracy);
  meta.mutable_train_metrics()->set_loss(m.train_loss);
  meta.mutable_train_metrics()->set_macro_f1(m.train_macro_f1);
  meta.mutable_train_metrics()->set_num_examples(m.train_examples);
  meta.set_training_job_id(job_id);
  meta.set_bank_fingerprint(profile.bank_fingerprint);
  meta.set_shared_head(profile.shared_head);
  meta.set_description(request.description());
  return meta;
}

// host:pid:random, unique per trainer process.
std::string MakeLeaseOwner() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] ? host : "host", ":", getpid(), ":",
                      absl::Hex(absl::Uniform<uint32_t>(absl::BitGen()), absl::kZeroPad8));
}

// A store error that may go away by itself (worth retrying).
bool Transient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kAborted || code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kInternal;
}

}  // namespace

TrainingManager::TrainingManager(Options options, ProfileStore* store, Backbone backbone,
                                 ServingBanks banks, std::shared_ptr<ProfilePool> pool, Hooks hooks,
                                 const Clock& clock)
    : options_(options),
      lease_{options.lease_owner.empty() ? MakeLeaseOwner() : options.lease_owner, options.lease},
      store_(store),
      backbone_(std::move(backbone)),
      banks_(std::move(banks)),
      pool_(std::move(pool)),
      hooks_(std::move(hooks)),
      clock_(clock) {}

TrainingManager::~TrainingManager() { Shutdown(); }

std::string TrainingManager::Key(const std::string& tenant, const std::string& job_id) {
  return tenant + '\0' + job_id;
}

void TrainingManager::AddLiveLocked(const std::string& tenant, const v1::TrainingJob& job) {
  const std::string key = Key(tenant, job.job_id());
  LiveJob& live = live_[key];
  live.tenant = tenant;
  live.job = job;
  live.revision = 1;
  queue_.Push(tenant, key);
  if (hooks_.on_state_change) hooks_.on_state_change(v1::JOB_STATE_UNSPECIFIED, v1::QUEUED);
  queue_cv_.Signal();
}

std::optional<v1::TrainingJob> TrainingManager::EndAtStart(const v1::TrainingJob& stored) const {
  v1::TrainingJob ended = stored;
  SetTimestamp(clock_.Now(), ended.mutable_end_time());
  if (stored.cancel_requested()) {
    // Cancelled while running, and the server died before it stopped.
    ended.set_state(v1::CANCELLED);
    ended.set_error("cancelled by request");
    return ended;
  }
  // RUNNING in the store: the process died during the run (a graceful
  // shutdown leaves it QUEUED).
  if (stored.state() == v1::RUNNING && int(stored.attempts()) >= options_.max_attempts) {
    ended.set_state(v1::FAILED);
    ended.set_error(absl::StrCat("the server stopped during each of this job's ", stored.attempts(),
                                 " runs (it may need more memory than the server has); it is "
                                 "not retried (--max_job_attempts=",
                                 options_.max_attempts, ")"));
    return ended;
  }
  return std::nullopt;
}

absl::Status TrainingManager::Start(bool shared_store) {
  if (!options_.run_jobs) return absl::OkStatus();
  if (shared_store) {
    // Other trainers may hold some of the store's jobs: the workers poll
    // for them and claim each before it runs (the first poll at once).
    {
      absl::MutexLock lock(&mu_);
      shared_ = true;
      next_poll_ = absl::Now();
    }
    MASKSERVE_LOG(INFO) << "trainer " << lease_.owner << " takes jobs from the shared store";
    absl::MutexLock lock(&workers_mu_);
    for (int i = 0; i < std::max(1, options_.workers); ++i) {
      workers_.emplace_back([this] { WorkerLoop(); });
    }
    workers_.emplace_back([this] { LeaseLoop(); });
    return absl::OkStatus();
  }
  absl::StatusOr<UnfinishedJobs> unfinished = store_->ListUnfinishedJobs();
  if (!unfinished.ok()) return unfinished.status();
  for (const UnreadableRecord& bad : unfinished->unreadable) {
    MASKSERVE_LOG(ERROR) << "training job " << bad.id << " is unreadable: " << bad.status;
  }
  size_t requeued = 0;
  for (StoredJob& stored : unfinished->jobs) {
    {
      absl::MutexLock lock(&mu_);
      // Submitted to this process before Start(): already queued.
      if (live_.count(Key(stored.tenant, stored.job.job_id()))) continue;
    }
    if (std::optional<v1::TrainingJob> ended = EndAtStart(stored.job)) {
      MASKSERVE_LOG(WARNING) << "training job " << ended->job_id() << " ends "
                             << v1::JobState_Name(ended->state()) << ": " << ended->error();
      MASKSERVE_RETURN_IF_ERROR(store_->UpdateJob(stored.tenant, *ended).status());
      continue;
    }
    stored.job.set_state(v1::QUEUED);
    absl::MutexLock lock(&mu_);
    AddLiveLocked(stored.tenant, stored.job);
    ++requeued;
  }
  if (requeued > 0) {
    MASKSERVE_LOG(INFO) << "re-queued " << requeued << " unfinished training jobs";
  }
  absl::MutexLock lock(&workers_mu_);
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  return absl::OkStatus();
}

int64_t TrainingManager::UnfinishedJobsLocked(const std::string& tenant) const {
  int64_t unfinished = 0;
  for (const auto& [key, live] : live_) {
    unfinished += live.tenant == tenant && (!IsFinalJobState(live.job.state()) || live.recording);
  }
  return unfinished;
}

absl::StatusOr<v1::TrainingJob> TrainingManager::Submit(const std::string& tenant,
                                                        const v1::TrainProfileRequest& request,
                                                        std::optional<uint64_t> base_version) {
  const std::string profile_key = Key(tenant, request.profile_id());
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (HasUnfinishedJobLocked(tenant, request.profile_id()) || submitting_.count(profile_key)) {
      return absl::FailedPreconditionError(
          absl::StrCat("profile_id: '", request.profile_id(),
                       "' is still training; wait for its job or cancel it"));
    }
    const int64_t unfinished = UnfinishedJobsLocked(tenant);
    if (unfinished >= options_.max_unfinished_jobs_per_tenant) {
      return absl::ResourceExhaustedError(
          absl::StrCat("this tenant has ", unfinished, " unfinished training jobs, the limit is ",
                       options_.max_unfinished_jobs_per_tenant, "; wait for some to finish"));
    }
    submitting_.insert(profile_key);  // until the job is in live_
  }
  if (absl::Status none = CheckNoUnfinishedJobInStore(tenant, request.profile_id()); !none.ok()) {
    absl::MutexLock lock(&mu_);
    submitting_.erase(profile_key);
    return none;
  }
  // The request carries the resolved options; the job reports them.
  v1::TrainingJob initial;
  *initial.mutable_hyper_parameters() = request.hyper_parameters();
  initial.set_total_epochs(request.hyper_parameters().epochs());
  if (base_version.has_value()) initial.set_base_version(*base_version);
  absl::StatusOr<v1::TrainingJob> job = store_->CreateJob(tenant, request, initial);
  absl::MutexLock lock(&mu_);
  submitting_.erase(profile_key);
  if (!job.ok()) return job.status();
  // A serving-only process leaves the job to the trainers polling the store.
  if (options_.run_jobs) AddLiveLocked(tenant, *job);
  return job;
}

absl::Status TrainingManager::CheckNoUnfinishedJobInStore(const std::string& tenant,
                                                          const std::string& profile_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!shared_ && options_.run_jobs) return absl::OkStatus();  // memory knows them all
  }
  JobFilter filter;
  filter.profile_id = profile_id;
  filter.states = {v1::QUEUED, v1::RUNNING};
  PageRequest page;
  page.page_size = 1;
  absl::StatusOr<ListJobsResult> unfinished = store_->ListJobs(tenant, filter, page);
  if (!unfinished.ok()) return unfinished.status();
  if (!unfinished->jobs.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("profile_id: '", profile_id, "' is still training (job ",
                     unfinished->jobs.front().job_id(), "); wait for its job or cancel it"));
  }
  return absl::OkStatus();
}

std::optional<v1::TrainingJob> TrainingManager::Live(const std::string& tenant,
                                                     const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(Key(tenant, job_id));
  // A final state is shown once the store has it: until then the store's
  // (earlier) state is the one that survives a crash.
  if (it == live_.end() || it->second.remote || it->second.recording) return std::nullopt;
  return it->second.job;
}

absl::StatusOr<v1::TrainingJob> TrainingManager::Get(const std::string& tenant,
                                                     const std::string& job_id) {
  if (std::optional<v1::TrainingJob> live = Live(tenant, job_id)) return *std::move(live);
  absl::StatusOr<StoredJob> stored = store_->GetJob(tenant, job_id);
  if (!stored.ok()) return stored.status();
  return stored->job;
}

absl::StatusOr<v1::TrainingJob> TrainingManager::Cancel(const std::string& tenant,
                                                        const std::string& job_id) {
  const std::string key = Key(tenant, job_id);
  std::optional<v1::TrainingJob> cancelled;
  bool was_queued = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(key);
    if (it != live_.end() && !it->second.remote && !IsFinalJobState(it->second.job.state())) {
      LiveJob& live = it->second;
      if (live.publishing) {
        return absl::FailedPreconditionError(absl::StrCat(
            "job_id: job ", job_id, " has finished training and is publishing its version"));
      }
      // (A repeated cancel of a running job writes again: the first one's
      // write may have failed or still be under way.)
      was_queued = !live.job.cancel_requested() && queue_.Erase(tenant, key);
      if (was_queued) {
        live.recording = true;  // unfinished until the store has it
        live.job.set_state(v1::CANCELLED);
        live.job.set_error("cancelled by request");
        SetTimestamp(clock_.Now(), live.job.mutable_end_time());
      } else {
        live.job.set_cancel_requested(true);  // running: the worker stops at its next check
      }
      ++live.revision;
      change_cv_.SignalAll();
      cancelled = live.job;
    }
  }
  if (!cancelled.has_value()) return CancelInStore(tenant, job_id);
  // Durable before it is acknowledged, so that a restart cannot revive the
  // job. (A running job's cancel_requested is kept in memory even if this
  // write fails: the job still stops.)
  absl::StatusOr<v1::TrainingJob> stored = store_->UpdateJob(tenant, *cancelled);
  if (!was_queued) {
    if (stored.status().code() == absl::StatusCode::kFailedPrecondition) {
      // The worker saw the request and recorded CANCELLED first.
      absl::StatusOr<v1::TrainingJob> now = Get(tenant, job_id);
      if (now.ok() && now->state() == v1::CANCELLED) return *now;
    }
    if (!stored.ok()) return stored.status();
    return *cancelled;
  }
  {
    absl::MutexLock lock(&mu_);
    if (!stored.ok()) {  // not cancelled after all: back in the queue
      LiveJob& live = live_.at(key);
      live.recording = false;
      live.job.set_state(v1::QUEUED);
      live.job.clear_error();
      live.job.clear_end_time();
      ++live.revision;
      queue_.Push(tenant, key);
      queue_cv_.Signal();
      return stored.status();
    }
    live_.erase(key);
  }
  if (hooks_.on_state_change) hooks_.on_state_change(v1::QUEUED, v1::CANCELLED);
  return *cancelled;
}

absl::StatusOr<v1::TrainingJob> TrainingManager::CancelInStore(const std::string& tenant,
                                                               const std::string& job_id) {
  absl::StatusOr<v1::TrainingJob> job = Get(tenant, job_id);
  if (!job.ok()) return job.status();
  MASKSERVE_RETURN_IF_ERROR(CheckJobNotFinal(*job));
  // Another process runs (or will run) it. Queued: it ends here and no
  // trainer can claim it any more. Running: its trainer reads the request
  // with its next lease renewal and stops.
  v1::TrainingJob cancel = *job;
  if (job->state() == v1::QUEUED) {
    cancel.set_state(v1::CANCELLED);
    cancel.set_error("cancelled by request");
    SetTimestamp(clock_.Now(), cancel.mutable_end_time());
  } else {
    cancel.set_cancel_requested(true);
  }
  absl::StatusOr<v1::TrainingJob> stored = store_->UpdateJob(tenant, cancel);
  if (stored.status().code() == absl::StatusCode::kFailedPrecondition) {
    // It ended meanwhile.
    absl::StatusOr<v1::TrainingJob> now = Get(tenant, job_id);
    if (now.ok() && now->state() == v1::CANCELLED) return *now;
  }
  return stored;
}

absl::Status TrainingManager::Watch(const std::string& tenant, const std::string& job_id,
                                    const std::function<bool(const v1::TrainingJob&)>& send,
                                    const std::function<bool()>& stopped) {
  {
    absl::MutexLock lock(&mu_);
    int64_t& mine = watch_streams_by_tenant_[tenant];
    if (watch_streams_ >= options_.max_watch_streams ||
        mine >= options_.max_watch_streams_per_tenant) {
      const bool tenant_full = mine >= options_.max_watch_streams_per_tenant;
      if (mine == 0) watch_streams_by_tenant_.erase(tenant);
      return absl::ResourceExhaustedError(absl::StrCat(
          tenant_full ? "this tenant has " : "the server has ", tenant_full ? mine : watch_streams_,
          " open WatchTrainingJob streams, the limit is ",
          tenant_full ? options_.max_watch_streams_per_tenant : options_.max_watch_streams,
          "; poll GetTrainingJob or close a stream"));
    }
    ++mine;
    ++watch_streams_;
  }
  absl::Status status = WatchUntilFinal(tenant, job_id, send, stopped);
  absl::MutexLock lock(&mu_);
  --watch_streams_;
  if (--watch_streams_by_tenant_[tenant] <= 0) watch_streams_by_tenant_.erase(tenant);
  return status;
}

absl::Status TrainingManager::WatchUntilFinal(
    const std::string& tenant, const std::string& job_id,
    const std::function<bool(const v1::TrainingJob&)>& send, const std::function<bool()>& stopped) {
  const std::string key = Key(tenant, job_id);
  uint64_t sent_revision = 0;
  bool sent_any = false;
  std::string sent_bytes;  // what was last sent from the store
  while (true) {
    if (stopped && stopped()) return absl::CancelledError("the watch was cancelled");
    std::optional<v1::TrainingJob> changed;
    bool live = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = live_.find(key);
      if (it != live_.end() && !it->second.remote && !it->second.recording) {
        live = true;
        if (!sent_any || it->second.revision != sent_revision) {
          changed = it->second.job;
          sent_revision = it->second.revision;
        } else {
          change_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
          continue;
        }
      }
    }
    if (!live) {  // not (or no longer) in memory: the store has it
      absl::StatusOr<StoredJob> stored = store_->GetJob(tenant, job_id);
      if (!stored.ok()) return stored.status();
      changed = stored->job;
      std::string bytes = changed->SerializeAsString();
      if (sent_any && bytes == sent_bytes) {  // only changes are sent
        absl::MutexLock lock(&mu_);
        change_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
        continue;
      }
      sent_bytes = std::move(bytes);
    }
    sent_any = true;
    if (!send(*changed)) return absl::CancelledError("the watcher went away");
    if (IsFinalJobState(changed->state())) return absl::OkStatus();
    if (!live) {
      absl::MutexLock lock(&mu_);
      change_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
    }
  }
}

void TrainingManager::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_cv_.SignalAll();
    retry_cv_.SignalAll();
    lease_cv_.SignalAll();
  }
  absl::MutexLock lock(&workers_mu_);
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

bool TrainingManager::HasUnfinishedJob(const std::string& tenant,
                                       const std::string& profile_id) const {
  absl::MutexLock lock(&mu_);
  return HasUnfinishedJobLocked(tenant, profile_id);
}

bool TrainingManager::HasUnfinishedJobLocked(const std::string& tenant,
                                             const std::string& profile_id) const {
  for (const auto& [key, live] : live_) {
    if (live.tenant == tenant && live.job.profile_id() == profile_id &&
        (!IsFinalJobState(live.job.state()) || live.recording)) {
      return true;
    }
  }
  return false;
}

bool TrainingManager::final_writes_failing() const {
  absl::MutexLock lock(&mu_);
  return final_writes_failing_ > 0;
}

std::map<v1::JobState, int64_t> TrainingManager::CountByState() const {
  absl::MutexLock lock(&mu_);
  std::map<v1::JobState, int64_t> counts;
  for (const auto& [key, live] : live_) {
    if (!live.remote) ++counts[live.job.state()];
  }
  return counts;
}

std::map<std::pair<std::string, v1::JobState>, int64_t> TrainingManager::CountByTenantAndState()
    const {
  absl::MutexLock lock(&mu_);
  std::map<std::pair<std::string, v1::JobState>, int64_t> counts;
  for (const auto& [key, live] : live_) {
    if (!live.remote) ++counts[{live.tenant, live.job.state()}];
  }
  return counts;
}

v1::TrainingJob TrainingManager::Snapshot(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  return live_.at(key).job;
}

bool TrainingManager::StopRequested(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  const LiveJob& live = live_.at(key);
  return stopping_ || live.job.cancel_requested() || live.lease_lost ||
         clock_.Now() >= live.deadline;
}

void TrainingManager::UpdateLive(const std::string& key,
                                 const std::function<void(v1::TrainingJob*)>& change) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(key);
  if (it == live_.end()) return;
  change(&it->second.job);
  ++it->second.revision;
  change_cv_.SignalAll();
}

void TrainingManager::SetState(const std::string& key, v1::JobState state) {
  v1::JobState from = v1::JOB_STATE_UNSPECIFIED;
  const absl::Time now = clock_.Now();
  UpdateLive(key, [&](v1::TrainingJob* job) {
    from = job->state();
    job->set_state(state);
    if (state == v1::RUNNING) SetTimestamp(now, job->mutable_start_time());
    if (IsFinalJobState(state)) SetTimestamp(now, job->mutable_end_time());
  });
  if (hooks_.on_state_change && from != state) hooks_.on_state_change(from, state);
}

void TrainingManager::WorkerLoop() {
  // Lower this thread's CPU priority so that serving wins the cores.
  setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), options_.nice);
  SetIntraOpThreadsForThisThread(options_.intra_op_threads);
  while (true) {
    std::string key;
    bool poll = false;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) {
        if (!shared_) {
          queue_cv_.Wait(&mu_);
        } else if (absl::Now() >= next_poll_) {
          // One idle worker looks in the store; the others wait for it.
          next_poll_ = absl::Now() + options_.job_poll_interval;
          poll = true;
          break;
        } else {
          queue_cv_.WaitWithDeadline(&mu_, next_poll_);
        }
      }
      if (stopping_) return;
      if (!poll) key = *queue_.Pop();
    }
    if (poll) {
      PollStore();
      continue;
    }
    const size_t split = key.find('\0');
    RunJob(key.substr(0, split), key.substr(split + 1));
  }
}

void TrainingManager::PollStore() {
  absl::StatusOr<UnfinishedJobs> unfinished = store_->ListUnfinishedJobs();
  if (!unfinished.ok()) {
    MASKSERVE_LOG(WARNING) << "cannot look for training jobs in the store: " << unfinished.status();
    return;
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  for (StoredJob& stored : unfinished->jobs) {
    const std::string key = Key(stored.tenant, stored.job.job_id());
    if (live_.count(key)) continue;
    AddLiveLocked(stored.tenant, stored.job);
    live_.at(key).remote = true;
  }
}

void TrainingManager::LeaseLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    lease_cv_.WaitWithTimeout(&mu_, options_.lease_renew_interval);
    if (stopping_) return;
    // (key, tenant, job id) of the jobs this trainer holds.
    std::vector<std::tuple<std::string, std::string, std::string>> held;
    for (const auto& [key, live] : live_) {
      if (live.claimed && !live.lease_lost && !IsFinalJobState(live.job.state())) {
        held.emplace_back(key, live.tenant, live.job.job_id());
      }
    }
    for (const auto& [key, tenant, job_id] : held) {
      mu_.Unlock();
      absl::StatusOr<v1::TrainingJob> renewed = store_->RenewJobLease(tenant, job_id, lease_);
      mu_.Lock();
      auto it = live_.find(key);
      if (it == live_.end()) continue;
      LiveJob& job = it->second;
      const absl::Time now = absl::Now();
      if (renewed.ok()) {
        job.lease_renewed = now;
        if (renewed->cancel_requested() && !job.job.cancel_requested()) {
          // Cancelled through another replica.
          job.job.set_cancel_requested(true);
          ++job.revision;
          change_cv_.SignalAll();
        }
      } else if (!Transient(renewed.status().code()) ||
                 now - job.lease_renewed > options_.lease - options_.lease_renew_interval) {
        // Taken over (or about to be: it expires before the next try).
        MASKSERVE_LOG(WARNING) << "job " << job_id << ": lease lost (" << renewed.status()
                               << "); stopping it here";
        job.lease_lost = true;
      }
    }
  }
}

void TrainingManager::RunJob(const std::string& tenant, const std::string& job_id) {
  const std::string key = Key(tenant, job_id);
  absl::StatusOr<StoredJob> stored = store_->ClaimJob(tenant, job_id, lease_);
  bool shared = false;
  {
    absl::MutexLock lock(&mu_);
    shared = shared_;
  }
  if (!stored.ok() && shared) {
    // Another trainer holds it or ended it (or the store is unreachable:
    // the next poll finds it again). Its state is the store's to tell.
    if (Transient(stored.status().code())) {
      MASKSERVE_LOG(WARNING) << "job " << job_id << ": cannot claim: " << stored.status();
    }
    absl::MutexLock lock(&mu_);
    live_.erase(key);
    return;
  }
  if (!stored.ok()) {
    MASKSERVE_LOG(ERROR) << "job " << job_id << ": cannot load: " << stored.status();
    Finish(key, tenant, {v1::FAILED, std::string(stored.status().message())});
    return;
  }
  if (shared) {
    // Left RUNNING by a trainer that died (its lease expired): as at a
    // restart, it runs again only within the attempt limit.
    if (std::optional<v1::TrainingJob> ended = EndAtStart(stored->job)) {
      MASKSERVE_LOG(WARNING) << "training job " << job_id << " ends "
                             << v1::JobState_Name(ended->state()) << ": " << ended->error();
      {
        absl::MutexLock lock(&mu_);
        LiveJob& live = live_.at(key);
        live.remote = false;
        live.job = *ended;
        live.recording = true;
        ++live.revision;
        change_cv_.SignalAll();
      }
      RecordFinal(tenant, *ended);
      absl::MutexLock lock(&mu_);
      live_.erase(key);
      return;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    LiveJob& live = live_.at(key);
    if (live.remote) {
      live.job = stored->job;
      live.remote = false;
    }
    live.claimed = true;
    live.lease_renewed = absl::Now();
    live.job.set_attempts(stored->job.attempts() + 1);
    if (options_.max_seconds_per_job > absl::ZeroDuration()) {
      live.deadline = clock_.Now() + options_.max_seconds_per_job;
    }
  }
  SetState(key, v1::RUNNING);
  // RUNNING with its attempt counted is in the store before training
  // starts: if the run kills the process, the next start knows.
  absl::StatusOr<v1::TrainingJob> running = store_->UpdateJob(tenant, Snapshot(key));
  if (!running.ok()) {  // unrecorded, a crash during the run would not count
    MASKSERVE_LOG(ERROR) << "job " << job_id << ": cannot record its start: " << running.status();
    Finish(
        key, tenant,
        {v1::FAILED, absl::StrCat("cannot record the job's start: ", running.status().message())});
    return;
  }
  Finish(key, tenant, TrainAndPublish(key, *stored));
}

TrainingManager::Outcome TrainingManager::TrainAndPublish(const std::string& key,
                                                          const StoredJob& stored) {
  const std::string& tenant = stored.tenant;
  const std::string& job_id = stored.job.job_id();
  const v1::TrainProfileRequest& request = stored.request;
  int64_t persisted_epoch = 0;
  absl::Time busy_since = clock_.Now();
  auto report_busy = [&] {
    const absl::Time now = clock_.Now();
    if (hooks_.on_training_busy)
      hooks_.on_training_busy(tenant, absl::ToDoubleSeconds(now - busy_since));
    busy_since = now;
  };
  auto on_progress = [&](const TrainingProgress& p) {
    report_busy();
    UpdateLive(key, [&](v1::TrainingJob* job) {
      job->set_epoch(uint32_t(p.epoch));
      job->set_total_epochs(uint32_t(p.total_epochs));
      job->set_step(uint64_t(p.step));
      job->set_total_steps(uint64_t(p.total_steps));
      job->set_train_loss(float(p.train_loss));
      if (p.has_validation && p.validation.examples > 0) {
        *job->mutable_validation() = ToProto(p.validation);
        *job->mutable_best_validation() = ToProto(p.best_validation);
      }
    });
    if (p.validation.examples > 0 && p.epoch != persisted_epoch) {
      persisted_epoch = p.epoch;
      (void)store_->UpdateJob(tenant, Snapshot(key));
    }
  };

  // Train with the options stored with the job, encode once, measure the
  // bytes written.
  ProfileData profile;
  std::string payload;
  ProfileBytes size;
  const absl::Time start = clock_.Now();
  bool reported = false;
  auto report_training_time = [&] {
    if (reported) return;
    reported = true;
    report_busy();
    if (hooks_.on_training_finished) {
      hooks_.on_training_finished(absl::ToDoubleSeconds(clock_.Now() - start));
    }
  };
  absl::Status trained = CatchEngineErrors([&] {
    ProfileTrainer trainer(backbone_, banks_);
    const std::vector<std::string> labels(request.label_names().begin(),
                                          request.label_names().end());
    profile = trainer.Train(ToTrainingExamples(request), labels, ToTrainingOptions(request),
                            on_progress, [&] { return StopRequested(key); });
    report_training_time();  // the fit alone, not encoding and publishing
    payload = EncodeProfile(profile);
    size = MeasureProfile(profile, payload.size());
    return absl::OkStatus();
  });
  report_training_time();  // when training itself failed or was cancelled
  if (trained.code() == absl::StatusCode::kCancelled) {
    absl::MutexLock lock(&mu_);
    const LiveJob& live = live_.at(key);
    if (live.lease_lost) return {v1::JOB_STATE_UNSPECIFIED, "lease lost"};
    if (live.job.cancel_requested()) return {v1::CANCELLED, "cancelled by request"};
    if (stopping_) return {v1::QUEUED, ""};
    return {v1::FAILED, absl::StrCat("training ran past the server's budget of ",
                                     absl::FormatDuration(options_.max_seconds_per_job),
                                     " per job (--max_training_seconds_per_job)")};
  }
  if (!trained.ok()) {
    MASKSERVE_LOG(WARNING) << "job " << job_id << " failed: " << trained;
    return {v1::FAILED, std::string(trained.message())};
  }
  // Compose before publishing: what cannot be served (a diverged fit with
  // NaN weights) is never stored.
  absl::StatusOr<ComposedForServing> composed =
      ComposeForServing(request.profile_id(), 0, profile, size.total, *pool_);
  if (!composed.ok()) {
    MASKSERVE_LOG(WARNING) << "job " << job_id << " failed: " << composed.status();
    return {v1::FAILED,
            absl::StrCat("the trained profile cannot be served: ", composed.status().message())};
  }
  {
    absl::MutexLock lock(&mu_);
    LiveJob& live = live_.at(key);
    if (live.lease_lost) return {v1::JOB_STATE_UNSPECIFIED, "lease lost"};
    if (live.job.cancel_requested()) return {v1::CANCELLED, "cancelled by request"};
    live.publishing = true;  // from here on Cancel() is refused
  }

  // Publish the new version and the job's end in one atomic write; the
  // store records the job as SUCCEEDED with the published version. Only
  // over the version the job started from: never over a newer one.
  PublishProfileRequest publish;
  publish.profile = PublishedMetadata(request, job_id, profile, size);
  publish.payload = std::move(payload);
  if (stored.job.has_base_version()) {
    publish.expected_version = stored.job.base_version();
  } else if (request.has_expected_version()) {
    publish.expected_version = request.expected_version();
  }
  publish.finished_job = Snapshot(key);
  absl::StatusOr<v1::Profile> published =
      store_->PublishProfile(tenant, request.profile_id(), std::move(publish));
  if (!published.ok()) {
    return {v1::FAILED, absl::StrCat("publishing failed: ", published.status().message())};
  }
  // Hot swap before anyone can see SUCCEEDED: a client that watched the job
  // to its end and then predicts gets the new version.
  if (hooks_.on_published) {
    hooks_.on_published(MakeHandle(tenant, request.profile_id(), published->version(), *composed));
  }
  UpdateLive(key, [&](v1::TrainingJob* job) { job->set_published_version(published->version()); });
  MASKSERVE_LOG(INFO) << "job " << job_id << " published " << request.profile_id() << " v"
                      << published->version() << " (validation accuracy "
                      << profile.metrics.validation_accuracy << ")";
  return {v1::SUCCEEDED, ""};
}

void TrainingManager::Finish(const std::string& key, const std::string& tenant,
                             const Outcome& outcome) {
  if (outcome.state == v1::JOB_STATE_UNSPECIFIED) {  // another trainer holds it now
    MASKSERVE_LOG(WARNING) << "job " << key.substr(key.find('\0') + 1)
                           << " stopped here: another trainer holds it now";
  } else if (outcome.state == v1::QUEUED) {  // interrupted by shutdown: stays queued in the store
    UpdateLive(key, [](v1::TrainingJob* job) {
      job->set_attempts(job->attempts() > 0 ? job->attempts() - 1 : 0);  // not counted
    });
    SetState(key, v1::QUEUED);
    (void)store_->UpdateJob(tenant, Snapshot(key));
    MASKSERVE_LOG(INFO) << "job " << key.substr(key.find('\0') + 1)
                        << " interrupted by shutdown; it will be re-queued";
  } else if (outcome.state == v1::SUCCEEDED) {
    SetState(key, v1::SUCCEEDED);  // the publication recorded it in the store
  } else {
    {
      absl::MutexLock lock(&mu_);
      live_.at(key).recording = true;
    }
    UpdateLive(key, [&](v1::TrainingJob* job) { job->set_error(outcome.error); });
    SetState(key, outcome.state);
    RecordFinal(tenant, Snapshot(key));
  }
  absl::MutexLock lock(&mu_);
  live_.erase(key);  // watchers fall back to the store
}

void TrainingManager::RecordFinal(const std::string& tenant, const v1::TrainingJob& job) {
  absl::Duration backoff = options_.retry_initial_backoff;
  bool failing = false;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<v1::TrainingJob> updated = store_->UpdateJob(tenant, job);
    // Only a store that cannot write now is retried; FAILED_PRECONDITION
    // (it already holds a final state), DATA_LOSS or NOT_FOUND (the record
    // is gone or unreadable) will not change.
    const bool transient = Transient(updated.status().code());
    if (!updated.ok() && !transient) {
      MASKSERVE_LOG(ERROR) << "job " << job.job_id()
                           << ": cannot record its end: " << updated.status();
    }
    const bool done = updated.ok() || !transient;
    absl::MutexLock lock(&mu_);
    if (done) {
      if (failing) {
        --final_writes_failing_;
        MASKSERVE_LOG(INFO) << "job " << job.job_id() << ": its end is recorded after " << attempt
                            << " attempts";
      }
      return;
    }
    if (!failing) {
      failing = true;
      ++final_writes_failing_;
    }
    MASKSERVE_LOG(ERROR) << "job " << job.job_id() << ": cannot record its end (attempt " << attempt
                         << "): " << updated.status();
    if (stopping_ && attempt >= 3) {
      --final_writes_failing_;
      MASKSERVE_LOG(ERROR) << "job " << job.job_id() << ": giving up at shutdown; it stays "
                           << "unfinished in the store and is retried at the next start";
      return;
    }
    const absl::Time until = absl::Now() + backoff;
    while (!stopping_ && absl::Now() < until) retry_cv_.WaitWithDeadline(&mu_, until);
    backoff = std::min(backoff * 2, options_.retry_max_backoff);
  }
}

}  // namespace maskserve
