#include "server/predict_batcher.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/training/encoded_examples.h"
#include "server/status_util.h"

namespace maskserve {

PredictTask::PredictTask(std::string tenant, ProfileHandle profile, std::vector<Encoding> inputs,
                         absl::Time deadline)
    : tenant_(std::move(tenant)),
      profile_(std::move(profile)),
      inputs_(std::move(inputs)),
      deadline_(deadline) {
  for (const Encoding& e : inputs_) tokens_ += int64_t(e.input_ids.size());
}

absl::StatusOr<std::vector<at::Tensor>> PredictTask::Wait(
    absl::Time until, const std::function<bool()>& poll_cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!result_.has_value()) {
    const absl::Time now = absl::Now();
    if (now >= until) {
      cancelled_.store(true);
      return absl::DeadlineExceededError("deadline exceeded while queued for prediction");
    }
    if (poll_cancelled && poll_cancelled()) {
      cancelled_.store(true);
      return absl::CancelledError("the call was cancelled");
    }
    done_cv_.wait_for(lock,
                      absl::ToChronoNanoseconds(std::min(until - now, absl::Milliseconds(5))));
  }
  return *result_;
}

void PredictTask::Complete(absl::StatusOr<std::vector<at::Tensor>> result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (result_.has_value()) return;
    result_ = std::move(result);
  }
  done_cv_.notify_all();
}

PredictBatcher::PredictBatcher(Options options, std::shared_ptr<const BertModel> backbone,
                               std::function<void(const BatchStats&)> on_batch)
    : options_(options), backbone_(std::move(backbone)), on_batch_(std::move(on_batch)) {
  thread_ = std::thread([this] {
    SetIntraOpThreadsForThisThread(options_.intra_op_threads);
    Loop();
  });
}

PredictBatcher::~PredictBatcher() { Stop(); }

absl::Status PredictBatcher::Schedule(std::shared_ptr<PredictTask> task) {
  const int64_t n = int64_t(task->inputs().size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (queued_sequences_ + n > options_.max_queued_sequences) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "prediction queue is full (", queued_sequences_, " sequences waiting); retry later"));
    }
    int64_t& tenant_queued = queued_by_tenant_[task->tenant()];
    if (tenant_queued + n > options_.max_queued_sequences_per_tenant) {
      if (tenant_queued == 0) queued_by_tenant_.erase(task->tenant());
      return absl::ResourceExhaustedError(
          absl::StrCat("this tenant has ", tenant_queued,
                       " sequences waiting, its share of the prediction "
                       "queue; retry later"));
    }
    tenant_queued += n;
    task->enqueue_time_ = absl::Now();
    auto& queue = queues_[task->tenant()];
    if (queue.empty()) tenant_order_.push_back(task->tenant());
    queue.push_back(std::move(task));
    queued_sequences_ += n;
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void PredictBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t PredictBatcher::queued_sequences() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_sequences_;
}

std::vector<std::shared_ptr<PredictTask>> PredictBatcher::TakeBatchLocked() {
  std::vector<std::shared_ptr<PredictTask>> batch;
  int64_t sequences = 0, longest = 0;
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
      int64_t task_longest = 0;
      for (const Encoding& e : task->inputs()) {
        task_longest = std::max<int64_t>(task_longest, int64_t(e.input_ids.size()));
      }
      const int64_t n = int64_t(task->inputs().size());
      const int64_t new_longest = std::max(longest, task_longest);
      const bool fits = sequences + n <= options_.max_batch_sequences &&
                        (sequences + n) * new_longest <= options_.max_batch_tokens;
      if (!fits && !batch.empty()) {
        tenant_order_.push_front(tenant);  // keep its turn for the next batch
        return batch;
      }
      // An oversized single task runs alone.
      batch.push_back(std::move(task));
      queue.pop_front();
      sequences += n;
      longest = new_longest;
      queued_sequences_ -= n;
      if ((queued_by_tenant_[tenant] -= n) <= 0) queued_by_tenant_.erase(tenant);
      took = true;
      if (queue.empty()) {
        queues_.erase(tenant);
      } else {
        tenant_order_.push_back(tenant);
      }
      if (!fits) return batch;
    }
  }
  return batch;
}

void PredictBatcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || queued_sequences_ > 0; });
    if (queued_sequences_ == 0 && stopping_) return;
    // Wait for the batch to fill, up to max_queue_delay after the oldest
    // task arrived.
    absl::Time oldest = absl::InfiniteFuture();
    for (const auto& [tenant, queue] : queues_) {
      oldest = std::min(oldest, queue.front()->enqueue_time());
    }
    const absl::Time flush_at = oldest + options_.max_queue_delay;
    while (!stopping_ && queued_sequences_ < options_.max_batch_sequences &&
           absl::Now() < flush_at) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(flush_at - absl::Now()));
    }
    std::vector<std::shared_ptr<PredictTask>> batch = TakeBatchLocked();
    lock.unlock();
    Run(std::move(batch));
    lock.lock();
  }
}

void PredictBatcher::Run(std::vector<std::shared_ptr<PredictTask>> batch) {
  const absl::Time now = absl::Now();
  std::vector<std::shared_ptr<PredictTask>> live;
  BatchStats stats;
  for (auto& task : batch) {
    if (task->cancelled()) {
      task->Complete(absl::CancelledError("the call was cancelled"));
    } else if (task->deadline() <= now) {
      task->Complete(absl::DeadlineExceededError("deadline exceeded while queued for prediction"));
    } else {
      stats.queue_seconds.push_back(absl::ToDoubleSeconds(now - task->enqueue_time()));
      live.push_back(std::move(task));
    }
  }
  if (live.empty()) return;

  // Distinct profile versions, and each sequence's index among them.
  std::vector<const ComposedProfile*> profiles;
  std::map<const ResidentProfile*, int64_t> slot;
  std::vector<int64_t> profile_of;
  std::vector<const Encoding*> sequences;
  for (const auto& task : live) {
    auto [it, added] = slot.emplace(task->profile().get(), int64_t(profiles.size()));
    if (added) profiles.push_back(task->profile()->composed.get());
    for (const Encoding& e : task->inputs()) {
      profile_of.push_back(it->second);
      sequences.push_back(&e);
    }
  }
  const int64_t rows = int64_t(profile_of.size());
  int64_t padded_length = 0;
  const absl::Time start = absl::Now();
  std::vector<at::Tensor> logits;
  absl::Status status = CatchEngineErrors([&] {
    c10::InferenceMode inference;
    ExampleBatch batch = PadEncodings(sequences, at::kCPU);
    padded_length = batch.ids.size(1);
    logits =
        ClassifyMixedBatch(*backbone_, profiles, profile_of, batch.ids, batch.mask, batch.types);
    return absl::OkStatus();
  });
  stats.forward_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  stats.sequences = rows;
  stats.tokens = rows * padded_length;
  stats.profiles = int64_t(profiles.size());

  int64_t row = 0;
  for (const auto& task : live) {
    const int64_t n = int64_t(task->inputs().size());
    if (!status.ok()) {
      task->Complete(status);
    } else {
      task->Complete(std::vector<at::Tensor>(logits.begin() + row, logits.begin() + row + n));
    }
    row += n;
  }
  if (on_batch_) on_batch_(stats);
}

}  // namespace maskserve
