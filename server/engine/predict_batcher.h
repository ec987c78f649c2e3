// File: server/engine/predict_batcher.h
//
// Cross-profile dynamic batching. Predict calls from any profiles go into
// one bounded queue (per-tenant sub-queues served round-robin, so one
// tenant's flood cannot starve the others); a scheduler thread forms a batch
// under a sequence and a token budget, waiting at most `max_queue_delay` for
// it to fill, runs the forward it was given ONCE for the whole batch (each
// sequence with its own profile) and completes each task with its rows'
// logits. The forward is the one seam to the device (server/engine/
// backbone_forward.h runs the backbone; tests pass their own).
//
// Isolation: a batch holds only profiles whose adapters have one shape
// (ResidentProfile::batch_shape), and when its forward fails each task is
// run again alone, so a request fails only if it fails by itself. With
// length buckets (Options::length_buckets, on GPUs) a batch also holds one
// bucket of sequence lengths. Tasks skipped for either keep their place.
//
// Tasks whose deadline passed (by the injected clock) or that were
// cancelled are dropped before compute (DEADLINE_EXCEEDED / CANCELLED), and
// hold no queue capacity: a Schedule() that finds the queue full first
// drops them. Schedule() never blocks: a full queue, or a tenant's full
// share of it, is RESOURCE_EXHAUSTED. Stop() runs what is queued and joins
// the thread.
//
//   auto task = std::make_shared<PredictTask>(tenant, profile, encodings, deadline);
//   MASKSERVE_RETURN_IF_ERROR(batcher.Schedule(task));
//   absl::StatusOr<std::vector<Logits>> logits = task->Wait(deadline, is_cancelled);
//
// Thread safety: all methods may be called from any thread.
#ifndef MASKSERVE_SERVER_ENGINE_PREDICT_BATCHER_H_
#define MASKSERVE_SERVER_ENGINE_PREDICT_BATCHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>  // std::once_flag
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/text/wordpiece_tokenizer.h"
#include "server/engine/clock.h"
#include "server/engine/profile_table.h"

namespace maskserve {

// One sequence's logits, one per label of its profile.
using Logits = std::vector<float>;

// One Predict call: its profile version and tokenized inputs.
class PredictTask {
 public:
  PredictTask(std::string tenant, ProfileHandle profile, std::vector<Encoding> inputs,
              absl::Time deadline);

  const std::string& tenant() const { return tenant_; }
  const ProfileHandle& profile() const { return profile_; }
  const std::vector<Encoding>& inputs() const { return inputs_; }
  absl::Time deadline() const { return deadline_; }
  int64_t longest() const { return longest_; }

  // Asks the batcher to drop the task if it has not run yet.
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

  // Blocks until completed, or until `until` by the wall clock (then
  // DEADLINE_EXCEEDED, and the task is cancelled). `poll_cancelled` is
  // consulted every few milliseconds (e.g. grpc::ServerContext::IsCancelled).
  absl::StatusOr<std::vector<Logits>> Wait(absl::Time until,
                                           const std::function<bool()>& poll_cancelled);
  // The first call wins; later ones are ignored.
  void Complete(absl::StatusOr<std::vector<Logits>> result);

  // When Schedule() queued the task and when its batch started (the
  // batcher's clock); valid once Wait() has returned a result.
  absl::Time enqueue_time() const { return enqueue_time_; }
  absl::Time start_time() const { return start_time_; }

 private:
  friend class PredictBatcher;
  const std::string tenant_;
  const ProfileHandle profile_;
  const std::vector<Encoding> inputs_;
  const absl::Time deadline_;
  int64_t longest_ = 0;
  absl::Time enqueue_time_;  // set by Schedule()
  absl::Time start_time_;    // set by Run() before the forward
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  std::optional<absl::StatusOr<std::vector<Logits>>> result_ ABSL_GUARDED_BY(mu_);
};

// What one forward computes: `rows[i]` with profile `profiles[profile_of[i]]`.
struct ForwardBatch {
  std::vector<const ResidentProfile*> profiles;  // distinct versions
  std::vector<int64_t> profile_of;               // per row
  std::vector<const Encoding*> rows;
};
struct ForwardResult {
  std::vector<Logits> logits;  // per row
  int64_t padded_length = 0;   // tokens per row in the forward
};
// Runs on the batcher's thread; may throw nothing (errors as Status).
using BatchForward = std::function<absl::StatusOr<ForwardResult>(const ForwardBatch&)>;

// What the batcher reports about each batch it runs (for metrics).
struct BatchStats {
  int64_t sequences = 0;
  int64_t tokens = 0;    // padded tokens in the forward
  int64_t profiles = 0;  // distinct profile versions
  double forward_seconds = 0;
  std::vector<double> queue_seconds;  // per task that ran
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
    // Sequence-length buckets (ascending): a batch holds only tasks whose
    // longest input falls in one bucket (the smallest bucket >= it; past
    // the last, its own length), so a GPU forward pads little and replays
    // a graph captured for that length. Empty = any lengths share a batch.
    std::vector<int64_t> length_buckets;
    // Called on the scheduler thread before the first batch (e.g. to set
    // LibTorch's intra-op threads).
    std::function<void()> on_thread_start;
  };

  // `clock` must outlive the batcher.
  PredictBatcher(Options options, BatchForward forward,
                 std::function<void(const BatchStats&)> on_batch = nullptr,
                 const Clock& clock = Clock::Real());
  ~PredictBatcher();
  PredictBatcher(const PredictBatcher&) = delete;
  PredictBatcher& operator=(const PredictBatcher&) = delete;

  absl::Status Schedule(std::shared_ptr<PredictTask> task);
  // Runs what is queued, then stops the scheduler thread. Later Schedule()
  // calls are UNAVAILABLE.
  void Stop();

  int64_t queued_sequences() const;

 private:
  void Loop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time OldestEnqueueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::shared_ptr<PredictTask>> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes and removes queued tasks that were cancelled or expired.
  void DropDeadTasksLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sequences `tenant` has waiting.
  int64_t TenantQueuedLocked(const std::string& tenant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `sequences` of `tenant`'s off the queue counts.
  void RemoveLocked(const std::string& tenant, int64_t sequences)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(std::vector<std::shared_ptr<PredictTask>> batch);
  // The length bucket of a task whose longest input is `longest`; 0 without
  // buckets.
  int64_t LengthBucket(int64_t longest) const;
  // The forward's input for `tasks`' rows: their distinct profile versions
  // and each row's index among them.
  static ForwardBatch BatchOf(const std::vector<std::shared_ptr<PredictTask>>& tasks);
  // One forward, checked to return a row of logits per input row.
  absl::StatusOr<ForwardResult> Forward(const ForwardBatch& input) const;
  // Completes each task with its rows of `result`.
  static void Deliver(const std::vector<std::shared_ptr<PredictTask>>& tasks, ForwardResult result);

  const Options options_;
  const BatchForward forward_;
  const std::function<void(const BatchStats&)> on_batch_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;  // signalled on Schedule() and Stop()
  // Per-tenant FIFO queues and the round-robin order of tenants.
  std::map<std::string, std::deque<std::shared_ptr<PredictTask>>> queues_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> tenant_order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> queued_by_tenant_ ABSL_GUARDED_BY(mu_);
  int64_t queued_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::once_flag joined_;
  std::thread thread_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_PREDICT_BATCHER_H_
