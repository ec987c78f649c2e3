#include "server/engine/predict_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace maskserve {

namespace {

absl::Status Cancelled() { return absl::CancelledError("the call was cancelled"); }
absl::Status DeadlineExceeded() {
  return absl::DeadlineExceededError("deadline exceeded while queued for prediction");
}

}  // namespace

PredictTask::PredictTask(std::string tenant, ProfileHandle profile, std::vector<Encoding> inputs,
                         absl::Time deadline)
    : tenant_(std::move(tenant)),
      profile_(std::move(profile)),
      inputs_(std::move(inputs)),
      deadline_(deadline) {
  for (const Encoding& e : inputs_) {
    longest_ = std::max<int64_t>(longest_, int64_t(e.input_ids.size()));
  }
}

absl::StatusOr<std::vector<Logits>> PredictTask::Wait(absl::Time until,
                                                      const std::function<bool()>& poll_cancelled) {
  absl::MutexLock lock(&mu_);
  while (!result_.has_value()) {
    const absl::Time now = absl::Now();
    if (now >= until) {
      cancelled_.store(true);
      return DeadlineExceeded();
    }
    if (poll_cancelled && poll_cancelled()) {
      cancelled_.store(true);
      return Cancelled();
    }
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return result_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&done), std::min(until - now, absl::Milliseconds(5)));
  }
  return *result_;
}

void PredictTask::Complete(absl::StatusOr<std::vector<Logits>> result) {
  absl::MutexLock lock(&mu_);
  if (!result_.has_value()) result_ = std::move(result);
}

PredictBatcher::PredictBatcher(Options options, BatchForward forward,
                               std::function<void(const BatchStats&)> on_batch, const Clock& clock)
    : options_(std::move(options)),
      forward_(std::move(forward)),
      on_batch_(std::move(on_batch)),
      clock_(clock) {
  thread_ = std::thread([this] {
    if (options_.on_thread_start) options_.on_thread_start();
    Loop();
  });
}

PredictBatcher::~PredictBatcher() { Stop(); }

absl::Status PredictBatcher::Schedule(std::shared_ptr<PredictTask> task) {
  const int64_t n = int64_t(task->inputs().size());
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (queued_sequences_ + n > options_.max_queued_sequences ||
      TenantQueuedLocked(task->tenant()) + n > options_.max_queued_sequences_per_tenant) {
    // Tasks whose caller gave up hold no capacity.
    DropDeadTasksLocked();
  }
  if (queued_sequences_ + n > options_.max_queued_sequences) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "prediction queue is full (", queued_sequences_, " sequences waiting); retry later"));
  }
  const int64_t already = TenantQueuedLocked(task->tenant());
  if (already + n > options_.max_queued_sequences_per_tenant) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this tenant has ", already,
                     " sequences waiting, its share of the prediction queue; retry later"));
  }
  queued_by_tenant_[task->tenant()] = already + n;
  queued_sequences_ += n;
  task->enqueue_time_ = clock_.Now();
  auto& queue = queues_[task->tenant()];
  if (queue.empty()) tenant_order_.push_back(task->tenant());
  queue.push_back(std::move(task));
  work_cv_.Signal();
  return absl::OkStatus();
}

void PredictBatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_cv_.SignalAll();
  }
  std::call_once(joined_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

int64_t PredictBatcher::queued_sequences() const {
  absl::MutexLock lock(&mu_);
  return queued_sequences_;
}

bool PredictBatcher::HasWorkOrStopping() const { return stopping_ || queued_sequences_ > 0; }

absl::Time PredictBatcher::OldestEnqueueLocked() const {
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& [tenant, queue] : queues_) {
    oldest = std::min(oldest, queue.front()->enqueue_time_);
  }
  return oldest;
}

int64_t PredictBatcher::TenantQueuedLocked(const std::string& tenant) const {
  auto it = queued_by_tenant_.find(tenant);
  return it == queued_by_tenant_.end() ? 0 : it->second;
}

void PredictBatcher::RemoveLocked(const std::string& tenant, int64_t sequences) {
  queued_sequences_ -= sequences;
  if ((queued_by_tenant_[tenant] -= sequences) <= 0) queued_by_tenant_.erase(tenant);
}

void PredictBatcher::DropDeadTasksLocked() {
  const absl::Time now = clock_.Now();
  for (auto it = queues_.begin(); it != queues_.end();) {
    auto& queue = it->second;
    for (auto task = queue.begin(); task != queue.end();) {
      const bool cancelled = (*task)->cancelled();
      if (!cancelled && (*task)->deadline() > now) {
        ++task;
        continue;
      }
      (*task)->Complete(cancelled ? Cancelled() : DeadlineExceeded());
      RemoveLocked(it->first, int64_t((*task)->inputs().size()));
      task = queue.erase(task);
    }
    if (queue.empty()) {
      tenant_order_.erase(std::find(tenant_order_.begin(), tenant_order_.end(), it->first));
      it = queues_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<std::shared_ptr<PredictTask>> PredictBatcher::TakeBatchLocked() {
  std::vector<std::shared_ptr<PredictTask>> batch;
  int64_t sequences = 0, longest = 0;
  // The batch's adapter shape: set by its first task with an adapter;
  // tasks of another shape wait for a later batch, and the first tenant
  // skipped so starts the next batch (else a busy shape could starve it).
  int64_t shape = 0, bucket = -1;
  std::optional<std::string> first_skipped;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (first_skipped.has_value()) {
      auto it = std::find(tenant_order_.begin(), tenant_order_.end(), *first_skipped);
      if (it != tenant_order_.end()) tenant_order_.erase(it);
      tenant_order_.push_front(*first_skipped);
    }
    return std::move(batch);
  };
  // Round-robin over tenants, one task per turn, until the budget is met.
  bool took = true;
  while (took && !tenant_order_.empty()) {
    took = false;
    const size_t turns = tenant_order_.size();
    for (size_t t = 0; t < turns && !tenant_order_.empty(); ++t) {
      const std::string tenant = tenant_order_.front();
      tenant_order_.pop_front();
      auto& queue = queues_[tenant];
      std::shared_ptr<PredictTask>& task = queue.front();
      const int64_t task_shape = task->profile()->batch_shape;
      const int64_t task_bucket = LengthBucket(task->longest());
      if ((shape != 0 && task_shape != 0 && task_shape != shape) ||
          (bucket >= 0 && task_bucket != bucket)) {
        tenant_order_.push_back(tenant);  // keeps its place in its own queue
        if (!first_skipped.has_value()) first_skipped = tenant;
        continue;
      }
      const int64_t n = int64_t(task->inputs().size());
      const int64_t new_longest = std::max(longest, task->longest());
      const bool fits = sequences + n <= options_.max_batch_sequences &&
                        (sequences + n) * new_longest <= options_.max_batch_tokens;
      if (!fits && !batch.empty()) {
        tenant_order_.push_front(tenant);  // keep its turn for the next batch
        return done();
      }
      // An oversized single task runs alone.
      if (shape == 0) shape = task_shape;
      bucket = task_bucket;
      batch.push_back(std::move(task));
      queue.pop_front();
      sequences += n;
      longest = new_longest;
      RemoveLocked(tenant, n);
      took = true;
      if (queue.empty()) {
        queues_.erase(tenant);
      } else {
        tenant_order_.push_back(tenant);
      }
      if (!fits) return done();
    }
  }
  return done();
}

int64_t PredictBatcher::LengthBucket(int64_t longest) const {
  for (int64_t b : options_.length_buckets) {
    if (longest <= b) return b;
  }
  return options_.length_buckets.empty() ? 0 : longest;
}

void PredictBatcher::Loop() {
  mu_.Lock();
  while (true) {
    while (!HasWorkOrStopping()) work_cv_.Wait(&mu_);
    if (queued_sequences_ == 0 && stopping_) break;
    // Wait for the batch to fill, up to max_queue_delay after the oldest
    // task arrived (by the injected clock; the wait itself is wall time).
    const absl::Duration left = OldestEnqueueLocked() + options_.max_queue_delay - clock_.Now();
    const absl::Time flush_at = absl::Now() + std::max(left, absl::ZeroDuration());
    while (!stopping_ && queued_sequences_ < options_.max_batch_sequences &&
           absl::Now() < flush_at) {
      work_cv_.WaitWithDeadline(&mu_, flush_at);
    }
    std::vector<std::shared_ptr<PredictTask>> batch = TakeBatchLocked();
    mu_.Unlock();
    Run(std::move(batch));
    mu_.Lock();
  }
  mu_.Unlock();
}

void PredictBatcher::Run(std::vector<std::shared_ptr<PredictTask>> batch) {
  const absl::Time now = clock_.Now();
  std::vector<std::shared_ptr<PredictTask>> live;
  BatchStats stats;
  for (auto& task : batch) {
    if (task->cancelled()) {
      task->Complete(Cancelled());
    } else if (task->deadline() <= now) {
      task->Complete(DeadlineExceeded());
    } else {
      stats.queue_seconds.push_back(absl::ToDoubleSeconds(now - task->enqueue_time_));
      task->start_time_ = now;  // published to Wait() by Complete()'s lock
      live.push_back(std::move(task));
    }
  }
  if (live.empty()) return;

  const absl::Time start = absl::Now();
  const ForwardBatch input = BatchOf(live);
  absl::StatusOr<ForwardResult> result = Forward(input);
  stats.sequences = int64_t(input.rows.size());
  stats.profiles = int64_t(input.profiles.size());
  if (result.ok()) {
    stats.tokens = stats.sequences * result->padded_length;
    Deliver(live, *std::move(result));
  } else if (live.size() == 1) {
    live.front()->Complete(result.status());
  } else {
    // One bad request must not fail the others: run each alone, so only
    // the tasks that fail by themselves fail.
    for (const auto& task : live) {
      absl::StatusOr<ForwardResult> alone = Forward(BatchOf({task}));
      if (alone.ok()) {
        stats.tokens += int64_t(task->inputs().size()) * alone->padded_length;
        Deliver({task}, *std::move(alone));
      } else {
        task->Complete(alone.status());
      }
    }
  }
  stats.forward_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (on_batch_) on_batch_(stats);
}

ForwardBatch PredictBatcher::BatchOf(const std::vector<std::shared_ptr<PredictTask>>& tasks) {
  // Distinct profile versions, and each row's index among them.
  ForwardBatch input;
  std::map<const ResidentProfile*, int64_t> slot;
  for (const auto& task : tasks) {
    auto [it, added] = slot.emplace(task->profile().get(), int64_t(input.profiles.size()));
    if (added) input.profiles.push_back(task->profile().get());
    for (const Encoding& e : task->inputs()) {
      input.profile_of.push_back(it->second);
      input.rows.push_back(&e);
    }
  }
  return input;
}

absl::StatusOr<ForwardResult> PredictBatcher::Forward(const ForwardBatch& input) const {
  absl::StatusOr<ForwardResult> result = forward_(input);
  if (result.ok() && result->logits.size() != input.rows.size()) {
    return absl::InternalError(
        absl::StrCat("forward returned ", result->logits.size(), " rows for ", input.rows.size()));
  }
  return result;
}

void PredictBatcher::Deliver(const std::vector<std::shared_ptr<PredictTask>>& tasks,
                             ForwardResult result) {
  size_t row = 0;
  for (const auto& task : tasks) {
    const size_t n = task->inputs().size();
    task->Complete(
        std::vector<Logits>(std::make_move_iterator(result.logits.begin() + long(row)),
                            std::make_move_iterator(result.logits.begin() + long(row + n))));
    row += n;
  }
}

}  // namespace maskserve
