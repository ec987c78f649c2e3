#include "server/training_manager.h"

#include <sys/resource.h>

#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/error.h"
#include "core/profile/profile_codec.h"
#include "core/training/profile_trainer.h"
#include "server/log.h"
#include "server/request_validation.h"
#include "server/resident_profile.h"
#include "server/status_util.h"

namespace maskserve {

namespace {

void SetNow(google::protobuf::Timestamp* t) {
  const absl::Time now = absl::Now();
  const int64_t nanos = absl::ToUnixNanos(now);
  t->set_seconds(nanos / 1000000000);
  t->set_nanos(int32_t(nanos % 1000000000));
}

bool IsFinal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

v1::EvalMetrics ToProto(const EvalResult& r) {
  v1::EvalMetrics m;
  m.set_loss(float(r.loss));
  m.set_accuracy(float(r.accuracy));
  m.set_macro_f1(float(r.macro_f1));
  m.set_num_examples(uint32_t(r.examples));
  return m;
}

}  // namespace

TrainingManager::TrainingManager(Options options, ProfileStore* store, Backbone backbone,
                                 ServingBanks banks, Hooks hooks)
    : options_(options),
      store_(store),
      backbone_(std::move(backbone)),
      banks_(std::move(banks)),
      hooks_(std::move(hooks)) {}

TrainingManager::~TrainingManager() { Shutdown(); }

std::string TrainingManager::Key(const std::string& tenant, const std::string& job_id) {
  return tenant + '\0' + job_id;
}

absl::Status TrainingManager::Start() {
  absl::StatusOr<UnfinishedJobs> unfinished = store_->ListUnfinishedJobs();
  if (!unfinished.ok()) return unfinished.status();
  for (const UnreadableRecord& bad : unfinished->unreadable) {
    MASKSERVE_LOG(ERROR) << "training job " << bad.id << " is unreadable: " << bad.status;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (StoredJob& stored : unfinished->jobs) {
      const std::string key = Key(stored.tenant, stored.job.job_id());
      stored.job.set_state(v1::QUEUED);
      live_[key] = LiveJob{stored.tenant, stored.job, 1, false};
      queue_.push_back(key);
      if (hooks_.on_state_change) hooks_.on_state_change(v1::JOB_STATE_UNSPECIFIED, v1::QUEUED);
    }
    if (!unfinished->jobs.empty()) {
      MASKSERVE_LOG(INFO) << "re-queued " << unfinished->jobs.size() << " unfinished training jobs";
    }
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TrainingJob> TrainingManager::Submit(const std::string& tenant,
                                                        const v1::TrainProfileRequest& request) {
  const std::string profile_key = Key(tenant, request.profile_id());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (HasUnfinishedJobLocked(tenant, request.profile_id()) || submitting_.count(profile_key)) {
      return absl::FailedPreconditionError(
          absl::StrCat("profile_id: '", request.profile_id(),
                       "' is still training; wait for its job or cancel it"));
    }
    int64_t unfinished = 0;
    for (const auto& [key, live] : live_) {
      unfinished += live.tenant == tenant && !IsFinal(live.job.state());
    }
    if (unfinished >= options_.max_unfinished_jobs_per_tenant) {
      return absl::ResourceExhaustedError(
          absl::StrCat("this tenant has ", unfinished, " unfinished training jobs, the limit is ",
                       options_.max_unfinished_jobs_per_tenant, "; wait for some to finish"));
    }
    submitting_.insert(profile_key);  // until the job is in live_
  }
  TrainingOptions options = ToTrainingOptions(request);
  options.ResolveDefaults(banks_, request.examples_size());
  v1::TrainingJob initial;
  *initial.mutable_hyper_parameters() = ToHyperParameters(options);
  initial.set_total_epochs(uint32_t(options.epochs));
  absl::StatusOr<v1::TrainingJob> job = store_->CreateJob(tenant, request, initial);
  std::lock_guard<std::mutex> lock(mu_);
  submitting_.erase(profile_key);
  if (!job.ok()) return job.status();
  {
    const std::string key = Key(tenant, job->job_id());
    live_[key] = LiveJob{tenant, *job, 1, false};
    queue_.push_back(key);
  }
  if (hooks_.on_state_change) hooks_.on_state_change(v1::JOB_STATE_UNSPECIFIED, v1::QUEUED);
  queue_cv_.notify_one();
  return job;
}

absl::StatusOr<v1::TrainingJob> TrainingManager::Get(const std::string& tenant,
                                                     const std::string& job_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(Key(tenant, job_id));
    if (it != live_.end()) return it->second.job;
  }
  absl::StatusOr<StoredJob> stored = store_->GetJob(tenant, job_id);
  if (!stored.ok()) return stored.status();
  return stored->job;
}

absl::StatusOr<v1::TrainingJob> TrainingManager::Cancel(const std::string& tenant,
                                                        const std::string& job_id) {
  const std::string key = Key(tenant, job_id);
  std::optional<v1::TrainingJob> dequeued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(key);
    if (it != live_.end() && !IsFinal(it->second.job.state())) {
      auto queued = std::find(queue_.begin(), queue_.end(), key);
      if (queued == queue_.end()) {
        it->second.cancel_requested = true;
        return it->second.job;  // running: the worker records CANCELLED
      }
      // Still queued: cancel it now, durably, so a restart cannot revive it.
      queue_.erase(queued);
      it->second.job.set_state(v1::CANCELLED);
      it->second.job.set_error("cancelled by request");
      SetNow(it->second.job.mutable_end_time());
      ++it->second.revision;
      dequeued = it->second.job;
    }
  }
  if (dequeued.has_value()) {
    change_cv_.notify_all();
    if (hooks_.on_state_change) hooks_.on_state_change(v1::QUEUED, v1::CANCELLED);
    absl::StatusOr<v1::TrainingJob> stored = store_->UpdateJob(tenant, *dequeued);
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_.erase(key);
    }
    if (!stored.ok()) return stored.status();
    return *dequeued;
  }
  absl::StatusOr<v1::TrainingJob> job = Get(tenant, job_id);
  if (!job.ok()) return job.status();
  return absl::FailedPreconditionError(
      absl::StrCat("job_id: job ", job_id, " is already ", v1::JobState_Name(job->state())));
}

absl::Status TrainingManager::Watch(const std::string& tenant, const std::string& job_id,
                                    const std::function<bool(const v1::TrainingJob&)>& send,
                                    const std::function<bool()>& stopped) {
  const std::string key = Key(tenant, job_id);
  uint64_t sent_revision = 0;
  bool sent_any = false;
  while (true) {
    if (stopped && stopped()) return absl::CancelledError("the watch was cancelled");
    std::unique_lock<std::mutex> lock(mu_);
    auto it = live_.find(key);
    if (it == live_.end()) {
      lock.unlock();
      absl::StatusOr<StoredJob> stored = store_->GetJob(tenant, job_id);
      if (!stored.ok()) return stored.status();
      if (!send(stored->job)) return absl::CancelledError("the watcher went away");
      if (IsFinal(stored->job.state())) return absl::OkStatus();
      lock.lock();
      change_cv_.wait_for(lock, std::chrono::milliseconds(100));
      continue;
    }
    if (!sent_any || it->second.revision != sent_revision) {
      v1::TrainingJob job = it->second.job;
      sent_revision = it->second.revision;
      sent_any = true;
      lock.unlock();
      if (!send(job)) return absl::CancelledError("the watcher went away");
      if (IsFinal(job.state())) return absl::OkStatus();
      continue;
    }
    change_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void TrainingManager::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

bool TrainingManager::HasUnfinishedJob(const std::string& tenant,
                                       const std::string& profile_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return HasUnfinishedJobLocked(tenant, profile_id);
}

bool TrainingManager::HasUnfinishedJobLocked(const std::string& tenant,
                                             const std::string& profile_id) const {
  for (const auto& [key, live] : live_) {
    if (live.tenant == tenant && live.job.profile_id() == profile_id &&
        !IsFinal(live.job.state())) {
      return true;
    }
  }
  return false;
}

std::map<v1::JobState, int64_t> TrainingManager::CountByState() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<v1::JobState, int64_t> counts;
  for (const auto& [key, live] : live_) ++counts[live.job.state()];
  return counts;
}

void TrainingManager::UpdateLive(const std::string& key,
                                 const std::function<void(v1::TrainingJob*)>& change) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(key);
    if (it == live_.end()) return;
    change(&it->second.job);
    ++it->second.revision;
  }
  change_cv_.notify_all();
}

void TrainingManager::SetState(const std::string& key, v1::JobState state) {
  v1::JobState from = v1::JOB_STATE_UNSPECIFIED;
  UpdateLive(key, [&](v1::TrainingJob* job) {
    from = job->state();
    job->set_state(state);
    if (state == v1::RUNNING) SetNow(job->mutable_start_time());
    if (IsFinal(state)) SetNow(job->mutable_end_time());
  });
  if (hooks_.on_state_change && from != state) hooks_.on_state_change(from, state);
}

void TrainingManager::WorkerLoop() {
  // Lower this thread's CPU priority so that serving wins the cores.
  setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), options_.nice);
  SetIntraOpThreadsForThisThread(options_.intra_op_threads);
  while (true) {
    std::string key;
    {
      std::unique_lock<std::mutex> lock(mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      key = queue_.front();
      queue_.pop_front();
    }
    const size_t split = key.find('\0');
    RunJob(key.substr(0, split), key.substr(split + 1));
  }
}

void TrainingManager::RunJob(const std::string& tenant, const std::string& job_id) {
  const std::string key = Key(tenant, job_id);
  auto snapshot = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.at(key).job;
  };
  auto finish = [&](v1::JobState state, const std::string& error) {
    UpdateLive(key, [&](v1::TrainingJob* job) { job->set_error(error); });
    SetState(key, state);
    absl::StatusOr<v1::TrainingJob> updated = store_->UpdateJob(tenant, snapshot());
    if (!updated.ok()) {
      MASKSERVE_LOG(ERROR) << "job " << job_id << ": cannot record its end: " << updated.status();
    }
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(key);  // watchers fall back to the store
  };

  absl::StatusOr<StoredJob> stored = store_->GetJob(tenant, job_id);
  if (!stored.ok()) {
    MASKSERVE_LOG(ERROR) << "job " << job_id << ": cannot load: " << stored.status();
    finish(v1::FAILED, std::string(stored.status().message()));
    return;
  }
  const v1::TrainProfileRequest& request = stored->request;
  const absl::Time start = absl::Now();
  SetState(key, v1::RUNNING);
  (void)store_->UpdateJob(tenant, snapshot());

  TrainingOptions options = ToTrainingOptions(request);
  int64_t persisted_epoch = 0;
  auto on_progress = [&](const TrainingProgress& p) {
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
      (void)store_->UpdateJob(tenant, snapshot());
    }
  };
  auto cancelled = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_ || live_.at(key).cancel_requested;
  };

  ProfileData profile;
  absl::Status trained = CatchEngineErrors([&] {
    ProfileTrainer trainer(backbone_, banks_);
    std::vector<std::string> labels(request.label_names().begin(), request.label_names().end());
    profile = trainer.Train(ToTrainingExamples(request), labels, options, on_progress, cancelled);
    return absl::OkStatus();
  });
  if (hooks_.on_training_finished)
    hooks_.on_training_finished(absl::ToDoubleSeconds(absl::Now() - start));
  if (trained.code() == absl::StatusCode::kCancelled) {
    bool shutting_down;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutting_down = stopping_ && !live_.at(key).cancel_requested;
    }
    if (shutting_down) {  // stays queued in the store for the next start
      SetState(key, v1::QUEUED);
      (void)store_->UpdateJob(tenant, snapshot());
      MASKSERVE_LOG(INFO) << "job " << job_id << " interrupted by shutdown; it will be re-queued";
      return;
    }
    finish(v1::CANCELLED, "cancelled by request");
    return;
  }
  if (!trained.ok()) {
    MASKSERVE_LOG(WARNING) << "job " << job_id << " failed: " << trained;
    finish(v1::FAILED, std::string(trained.message()));
    return;
  }

  // Publish the new version and the job's end in one atomic write.
  std::string payload;
  ProfileBytes size;
  absl::Status encoded = CatchEngineErrors([&] {
    payload = EncodeProfile(profile);
    size = MeasureProfile(profile);
    return absl::OkStatus();
  });
  if (!encoded.ok()) {
    finish(v1::FAILED, std::string(encoded.message()));
    return;
  }
  PublishProfileRequest publish;
  v1::Profile& meta = publish.profile;
  meta.set_method(request.method());
  *meta.mutable_label_names() = request.label_names();
  meta.mutable_size()->set_mask_bytes(size.masks);
  meta.mutable_size()->set_head_bytes(size.head);
  meta.mutable_size()->set_metadata_bytes(size.metadata);
  meta.mutable_size()->set_total_bytes(size.total);
  meta.mutable_metrics()->set_accuracy(profile.metrics.validation_accuracy);
  meta.mutable_metrics()->set_loss(profile.metrics.validation_loss);
  meta.mutable_metrics()->set_macro_f1(profile.metrics.validation_macro_f1);
  meta.mutable_metrics()->set_num_examples(profile.metrics.validation_examples);
  meta.mutable_train_metrics()->set_accuracy(profile.metrics.train_accuracy);
  meta.mutable_train_metrics()->set_loss(profile.metrics.train_loss);
  meta.mutable_train_metrics()->set_macro_f1(profile.metrics.train_macro_f1);
  meta.mutable_train_metrics()->set_num_examples(profile.metrics.train_examples);
  meta.set_training_job_id(job_id);
  meta.set_bank_fingerprint(profile.bank_fingerprint);
  meta.set_shared_head(profile.shared_head);
  meta.set_description(request.description());
  publish.payload = payload;
  if (request.has_expected_version()) publish.expected_version = request.expected_version();
  // The store records the job as SUCCEEDED with the published version in
  // the same write.
  publish.finished_job = snapshot();
  absl::StatusOr<v1::Profile> published =
      store_->PublishProfile(tenant, request.profile_id(), publish);
  if (!published.ok()) {
    finish(v1::FAILED, absl::StrCat("publishing failed: ", published.status().message()));
    return;
  }
  // Hot swap before anyone can see SUCCEEDED: a client that watched the job
  // to its end and then predicts gets the new version.
  absl::StatusOr<ProfileHandle> handle = MakeResidentProfile(
      tenant, request.profile_id(), published->version(), payload, backbone_, banks_);
  if (handle.ok() && hooks_.on_published) hooks_.on_published(*handle);
  if (!handle.ok()) MASKSERVE_LOG(ERROR) << "job " << job_id << ": " << handle.status();
  UpdateLive(key, [&](v1::TrainingJob* job) { job->set_published_version(published->version()); });
  SetState(key, v1::SUCCEEDED);
  MASKSERVE_LOG(INFO) << "job " << job_id << " published " << request.profile_id() << " v"
                      << published->version() << " (validation accuracy "
                      << profile.metrics.validation_accuracy << ")";
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(key);
}

}  // namespace maskserve
