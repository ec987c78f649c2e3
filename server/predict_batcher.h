// File: server/predict_batcher.h
//
// Cross-profile dynamic batching. Predict calls from any profiles go into
// one bounded queue (per-tenant sub-queues served round-robin, so one
// tenant's flood cannot starve the others); a scheduler thread forms a batch
// under a sequence and a token budget, waiting at most `max_queue_delay` for
// it to fill, runs ONE backbone forward for the whole batch with each
// sequence's own profile (ClassifyMixedBatch) and completes each task.
//
// Tasks whose deadline passed or that were cancelled are dropped before
// compute (completed with DEADLINE_EXCEEDED / CANCELLED). Schedule() never
// blocks: a full queue is RESOURCE_EXHAUSTED. Stop() drains what is queued
// and joins the thread.
//
//   auto task = std::make_shared<PredictTask>(...);
//   MASKSERVE_RETURN_IF_ERROR(batcher.Schedule(task));
//   absl::StatusOr<std::vector<at::Tensor>> logits = task->Wait(deadline);
//
// Thread safety: Schedule()/Stop() may be called from any thread.
#ifndef MASKSERVE_SERVER_PREDICT_BATCHER_H_
#define MASKSERVE_SERVER_PREDICT_BATCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/model/bert_model.h"
#include "core/text/wordpiece_tokenizer.h"
#include "server/profile_table.h"

namespace maskserve {

// One Predict call: its profile version and tokenized inputs.
class PredictTask {
 public:
  PredictTask(std::string tenant, ProfileHandle profile, std::vector<Encoding> inputs,
              absl::Time deadline);

  const std::string& tenant() const { return tenant_; }
  const ProfileHandle& profile() const { return profile_; }
  const std::vector<Encoding>& inputs() const { return inputs_; }
  absl::Time deadline() const { return deadline_; }
  absl::Time enqueue_time() const { return enqueue_time_; }
  int64_t tokens() const { return tokens_; }

  // Asks the batcher to drop the task if it has not run yet.
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

  // Blocks until completed or `until` (then DEADLINE_EXCEEDED, and the task
  // is cancelled). `poll_cancelled` is consulted every few milliseconds
  // (e.g. grpc::ServerContext::IsCancelled).
  absl::StatusOr<std::vector<at::Tensor>> Wait(absl::Time until,
                                               const std::function<bool()>& poll_cancelled);
  // Called once by the batcher.
  void Complete(absl::StatusOr<std::vector<at::Tensor>> result);

 private:
  friend class PredictBatcher;
  const std::string tenant_;
  const ProfileHandle profile_;
  const std::vector<Encoding> inputs_;
  const absl::Time deadline_;
  absl::Time enqueue_time_;
  int64_t tokens_ = 0;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::optional<absl::StatusOr<std::vector<at::Tensor>>> result_ ABSL_GUARDED_BY(mu_);
};

// What the batcher reports about each batch it runs (for metrics).
struct BatchStats {
  int64_t sequences = 0;
  int64_t tokens = 0;    // padded tokens in the forward
  int64_t profiles = 0;  // distinct profiles
  double forward_seconds = 0;
  std::vector<double> queue_seconds;  // per task
};

class PredictBatcher {
 public:
  struct Options {
    // Most sequences in one forward [64].
    int64_t max_batch_sequences = 64;
    // Most padded tokens (sequences x longest) in one forward [16384].
    int64_t max_batch_tokens = 16384;
    // Longest a task waits for a batch to fill [2 ms].
    absl::Duration max_queue_delay = absl::Milliseconds(2);
    // Most sequences waiting; beyond it Schedule() is RESOURCE_EXHAUSTED [4096].
    int64_t max_queued_sequences = 4096;
    // Most sequences one tenant may have waiting, so that one tenant's flood
    // cannot fill the queue for everyone [2048].
    int64_t max_queued_sequences_per_tenant = 2048;
    // LibTorch intra-op threads of the forward; 0 = one per core.
    int intra_op_threads = 0;
  };

  PredictBatcher(Options options, std::shared_ptr<const BertModel> backbone,
                 std::function<void(const BatchStats&)> on_batch = nullptr);
  ~PredictBatcher();

  absl::Status Schedule(std::shared_ptr<PredictTask> task);
  // Runs what is queued, then stops the scheduler thread. Later Schedule()
  // calls are UNAVAILABLE.
  void Stop();

  int64_t queued_sequences() const;

 private:
  void Loop();
  std::vector<std::shared_ptr<PredictTask>> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(std::vector<std::shared_ptr<PredictTask>> batch);

  const Options options_;
  const std::shared_ptr<const BertModel> backbone_;
  const std::function<void(const BatchStats&)> on_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Per-tenant FIFO queues and the round-robin order of tenants.
  std::map<std::string, std::deque<std::shared_ptr<PredictTask>>> queues_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> tenant_order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> queued_by_tenant_ ABSL_GUARDED_BY(mu_);
  int64_t queued_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_PREDICT_BATCHER_H_
