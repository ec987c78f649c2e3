// Unit tests of the batcher with an injected forward and clock: rows reach
// the forward with their profiles, tenants are served round-robin, budgets
// and queue limits hold, and deadlines and cancellation drop tasks before
// compute.
#include "server/engine/predict_batcher.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace maskserve {
namespace {

Encoding Tokens(int64_t n) {
  Encoding e;
  e.input_ids.assign(size_t(n), 7);
  e.attention_mask.assign(size_t(n), 1);
  e.token_type_ids.assign(size_t(n), 0);
  return e;
}

ProfileHandle Profile(const std::string& id, int64_t batch_shape = 0) {
  auto p = std::make_shared<ResidentProfile>();
  p->tenant = "t";
  p->profile_id = id;
  p->version = 1;
  p->batch_shape = batch_shape;
  return p;
}

// Records every batch; each row's logits are {profile slot, row length}.
// The first forward can be held at a gate to let a queue build up.
class RecordingForward {
 public:
  BatchForward Get() {
    return [this](const ForwardBatch& batch) -> absl::StatusOr<ForwardResult> {
      if (hold_first_.exchange(false)) {
        entered_.Notify();
        gate_.WaitForNotification();
      }
      ForwardResult result;
      std::vector<std::string> tenants;
      bool poisoned = false;
      for (size_t i = 0; i < batch.rows.size(); ++i) {
        const ResidentProfile* p = batch.profiles[size_t(batch.profile_of[i])];
        result.logits.push_back(
            {float(batch.profile_of[i]), float(batch.rows[i]->input_ids.size())});
        tenants.push_back(p->profile_id);
        for (const ResidentProfile* q : batch.profiles) {
          if (q->batch_shape != 0 && p->batch_shape != 0 && q->batch_shape != p->batch_shape) {
            poisoned = true;  // what the real forward does with mixed shapes
          }
        }
      }
      absl::MutexLock lock(&mu_);
      batches_.push_back(tenants);
      if (!status_.ok()) return status_;
      for (const std::string& id : tenants) poisoned |= id == poison_;
      if (poisoned) return absl::InvalidArgumentError("this batch cannot run");
      return result;
    };
  }
  void HoldFirst() { hold_first_ = true; }
  // Blocks until the held first forward has started.
  void WaitUntilHeld() { entered_.WaitForNotification(); }
  void Release() { gate_.Notify(); }
  void FailWith(absl::Status s) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(s);
  }
  // Every batch that holds a row of profile `id` fails.
  void FailBatchesWith(const std::string& id) {
    absl::MutexLock lock(&mu_);
    poison_ = id;
  }
  std::vector<std::vector<std::string>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  std::atomic<bool> hold_first_{false};
  absl::Notification entered_;
  absl::Notification gate_;
  absl::Mutex mu_;
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::string poison_ ABSL_GUARDED_BY(mu_);
};

PredictBatcher::Options SmallBatches(int64_t sequences) {
  PredictBatcher::Options o;
  o.max_batch_sequences = sequences;
  o.max_queue_delay = absl::Milliseconds(1);
  return o;
}

std::shared_ptr<PredictTask> Task(const std::string& tenant, const std::string& profile,
                                  int rows = 1, int64_t length = 4,
                                  absl::Time deadline = absl::InfiniteFuture(),
                                  int64_t batch_shape = 0) {
  std::vector<Encoding> inputs;
  for (int i = 0; i < rows; ++i) inputs.push_back(Tokens(length));
  return std::make_shared<PredictTask>(tenant, Profile(profile, batch_shape), std::move(inputs),
                                       deadline);
}

absl::StatusOr<std::vector<Logits>> WaitFor(const std::shared_ptr<PredictTask>& task) {
  return task->Wait(absl::Now() + absl::Seconds(10), nullptr);
}

TEST(PredictBatcherTest, EachTaskGetsItsOwnRowsLogits) {
  RecordingForward forward;
  PredictBatcher batcher(SmallBatches(64), forward.Get());
  auto a = Task("t", "alice", 2, 5);
  auto b = Task("t", "bob", 1, 3);
  ASSERT_TRUE(batcher.Schedule(a).ok());
  ASSERT_TRUE(batcher.Schedule(b).ok());
  absl::StatusOr<std::vector<Logits>> la = WaitFor(a), lb = WaitFor(b);
  ASSERT_TRUE(la.ok()) << la.status();
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_EQ(la->size(), 2u);
  ASSERT_EQ(lb->size(), 1u);
  EXPECT_EQ((*la)[0][1], 5.0f);
  EXPECT_EQ((*lb)[0][1], 3.0f);
}

TEST(PredictBatcherTest, ServesTenantsRoundRobin) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher batcher(SmallBatches(4), forward.Get());
  auto first = Task("flood", "f0");
  ASSERT_TRUE(batcher.Schedule(first).ok());
  // Wait until the first batch is inside the forward, then queue a flood
  // from one tenant and two calls from another.
  forward.WaitUntilHeld();
  std::vector<std::shared_ptr<PredictTask>> tasks;
  for (int i = 1; i <= 6; ++i) tasks.push_back(Task("flood", "f" + std::to_string(i)));
  tasks.push_back(Task("quiet", "q1"));
  tasks.push_back(Task("quiet", "q2"));
  for (auto& t : tasks) ASSERT_TRUE(batcher.Schedule(t).ok());
  forward.Release();
  for (auto& t : tasks) ASSERT_TRUE(WaitFor(t).ok());
  const std::vector<std::vector<std::string>> batches = forward.batches();
  ASSERT_GE(batches.size(), 2u);
  // The batch after the gate alternates tenants instead of taking the flood first.
  EXPECT_EQ(batches[1], (std::vector<std::string>{"f1", "q1", "f2", "q2"}));
}

TEST(PredictBatcherTest, BatchesRespectTheTokenBudget) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher::Options options = SmallBatches(64);
  options.max_batch_tokens = 40;  // 4 rows of 10 tokens
  PredictBatcher batcher(options, forward.Get());
  ASSERT_TRUE(batcher.Schedule(Task("t", "gate")).ok());
  forward.WaitUntilHeld();
  std::vector<std::shared_ptr<PredictTask>> tasks;
  for (int i = 0; i < 6; ++i) tasks.push_back(Task("t", "p" + std::to_string(i), 1, 10));
  for (auto& t : tasks) ASSERT_TRUE(batcher.Schedule(t).ok());
  forward.Release();
  for (auto& t : tasks) ASSERT_TRUE(WaitFor(t).ok());
  const auto batches = forward.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].size(), 4u);
  EXPECT_EQ(batches[2].size(), 2u);
}

TEST(PredictBatcherTest, FullQueueAndFullTenantShareAreResourceExhausted) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher::Options options = SmallBatches(1);
  options.max_queued_sequences = 4;
  options.max_queued_sequences_per_tenant = 2;
  PredictBatcher batcher(options, forward.Get());
  ASSERT_TRUE(batcher.Schedule(Task("a", "gate")).ok());
  forward.WaitUntilHeld();
  ASSERT_TRUE(batcher.Schedule(Task("a", "a1", 2)).ok());
  absl::Status share = batcher.Schedule(Task("a", "a2"));
  EXPECT_EQ(share.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(share.message().find("this tenant"), std::string::npos) << share;
  ASSERT_TRUE(batcher.Schedule(Task("b", "b1", 2)).ok());
  EXPECT_EQ(batcher.queued_sequences(), 4);
  absl::Status full = batcher.Schedule(Task("c", "c1"));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("queue is full"), std::string::npos) << full;
  forward.Release();
}

TEST(PredictBatcherTest, ExpiredAndCancelledTasksNeverReachTheForward) {
  RecordingForward forward;
  forward.HoldFirst();
  FakeClock clock(absl::FromUnixSeconds(1000));
  PredictBatcher batcher(SmallBatches(64), forward.Get(), nullptr, clock);
  ASSERT_TRUE(batcher.Schedule(Task("t", "gate")).ok());
  forward.WaitUntilHeld();
  auto expiring = Task("t", "late", 1, 4, absl::FromUnixSeconds(1005));
  auto cancelled = Task("t", "gone");
  auto live = Task("t", "ok");
  for (auto& t : {expiring, cancelled, live}) ASSERT_TRUE(batcher.Schedule(t).ok());
  cancelled->Cancel();
  clock.Advance(absl::Seconds(10));  // past `expiring`'s deadline
  forward.Release();
  EXPECT_EQ(WaitFor(expiring).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(WaitFor(cancelled).status().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(WaitFor(live).ok());
  const auto batches = forward.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"ok"}));
}

TEST(PredictBatcherTest, WaitGivesUpAtItsDeadlineAndOnCancellation) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher batcher(SmallBatches(64), forward.Get());
  auto task = Task("t", "slow");
  ASSERT_TRUE(batcher.Schedule(task).ok());
  EXPECT_EQ(task->Wait(absl::Now() + absl::Milliseconds(20), nullptr).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(task->cancelled());
  auto other = Task("t", "other");
  EXPECT_EQ(other->Wait(absl::Now() + absl::Seconds(10), [] { return true; }).status().code(),
            absl::StatusCode::kCancelled);
  forward.Release();
}

TEST(PredictBatcherTest, ForwardErrorsReachEveryTaskOfTheBatch) {
  RecordingForward forward;
  forward.FailWith(absl::InternalError("device lost"));
  PredictBatcher batcher(SmallBatches(64), forward.Get());
  auto a = Task("t", "a");
  ASSERT_TRUE(batcher.Schedule(a).ok());
  absl::StatusOr<std::vector<Logits>> result = WaitFor(a);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(result.status().message(), "device lost");
}

// The reported failure: one tenant's profile of another adapter shape,
// queued beside other tenants' requests, failed all of them.
TEST(PredictBatcherTest, ProfilesOfDifferentAdapterShapesNeverShareABatch) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher batcher(SmallBatches(64), forward.Get());
  ASSERT_TRUE(batcher.Schedule(Task("t", "gate")).ok());
  forward.WaitUntilHeld();
  const absl::Time never = absl::InfiniteFuture();
  std::vector<std::shared_ptr<PredictTask>> tasks = {
      Task("a", "a24", 1, 4, never, 24), Task("b", "b4", 1, 4, never, 4),
      Task("c", "c-head", 1, 4, never, 0), Task("a", "a24-2", 1, 4, never, 24),
      Task("b", "b4-2", 1, 4, never, 4)};
  for (auto& t : tasks) ASSERT_TRUE(batcher.Schedule(t).ok());
  forward.Release();
  for (auto& t : tasks) EXPECT_TRUE(WaitFor(t).ok()) << WaitFor(t).status();
  const auto batches = forward.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"a24", "c-head", "a24-2"}));
  EXPECT_EQ(batches[2], (std::vector<std::string>{"b4", "b4-2"}));
}

// A tenant whose profiles have a shape no one else uses still gets the
// next batch while another shape keeps the queue full.
TEST(PredictBatcherTest, AnotherShapeIsNotStarvedByABusyOne) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher batcher(SmallBatches(2), forward.Get());
  ASSERT_TRUE(batcher.Schedule(Task("t", "gate")).ok());
  forward.WaitUntilHeld();
  const absl::Time never = absl::InfiniteFuture();
  std::vector<std::shared_ptr<PredictTask>> busy;
  for (int i = 0; i < 6; ++i) busy.push_back(Task("a", "a" + std::to_string(i), 1, 4, never, 8));
  auto other = Task("b", "b16", 1, 4, never, 16);
  ASSERT_TRUE(batcher.Schedule(busy[0]).ok());
  ASSERT_TRUE(batcher.Schedule(other).ok());
  for (size_t i = 1; i < busy.size(); ++i) ASSERT_TRUE(batcher.Schedule(busy[i]).ok());
  forward.Release();
  ASSERT_TRUE(WaitFor(other).ok());
  for (auto& t : busy) ASSERT_TRUE(WaitFor(t).ok());
  const auto batches = forward.batches();
  ASSERT_GE(batches.size(), 3u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"a0", "a1"}));
  EXPECT_EQ(batches[2], (std::vector<std::string>{"b16"}));
}

// With length buckets a batch holds one bucket of lengths; a task of
// another bucket keeps its place for the next batch.
TEST(PredictBatcherTest, LengthBucketsKeepShortAndLongInputsApart) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher::Options options = SmallBatches(64);
  options.length_buckets = {16, 64};
  PredictBatcher batcher(options, forward.Get());
  ASSERT_TRUE(batcher.Schedule(Task("t", "gate")).ok());
  forward.WaitUntilHeld();
  std::vector<std::shared_ptr<PredictTask>> tasks = {
      Task("a", "short", 1, 10), Task("b", "long", 1, 40), Task("c", "short-2", 1, 16),
      Task("a", "long-2", 1, 64), Task("b", "past-the-last", 1, 100)};
  for (auto& t : tasks) ASSERT_TRUE(batcher.Schedule(t).ok());
  forward.Release();
  for (auto& t : tasks) EXPECT_TRUE(WaitFor(t).ok()) << WaitFor(t).status();
  const auto batches = forward.batches();
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"short", "short-2"}));
  EXPECT_EQ(batches[2], (std::vector<std::string>{"long", "long-2"}));
  EXPECT_EQ(batches[3], (std::vector<std::string>{"past-the-last"}));
}

TEST(PredictBatcherTest, ATaskThatFailsFailsAloneAndTheOthersAreRunAgain) {
  RecordingForward forward;
  forward.HoldFirst();
  PredictBatcher batcher(SmallBatches(64), forward.Get());
  ASSERT_TRUE(batcher.Schedule(Task("t", "gate")).ok());
  forward.WaitUntilHeld();
  forward.FailBatchesWith("bad");
  std::vector<std::shared_ptr<PredictTask>> good;
  for (int i = 0; i < 4; ++i)
    good.push_back(Task("t" + std::to_string(i), "ok" + std::to_string(i)));
  auto bad = Task("x", "bad");
  for (auto& t : good) ASSERT_TRUE(batcher.Schedule(t).ok());
  ASSERT_TRUE(batcher.Schedule(bad).ok());
  forward.Release();
  for (auto& t : good) EXPECT_TRUE(WaitFor(t).ok()) << WaitFor(t).status();
  EXPECT_EQ(WaitFor(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// Callers that gave up (deadline, cancellation) must not keep live callers
// out with RESOURCE_EXHAUSTED.
TEST(PredictBatcherTest, DeadTasksHoldNoQueueCapacity) {
  RecordingForward forward;
  forward.HoldFirst();
  FakeClock clock(absl::FromUnixSeconds(1000));
  PredictBatcher::Options options = SmallBatches(1);
  options.max_queued_sequences = 4;
  options.max_queued_sequences_per_tenant = 3;
  PredictBatcher batcher(options, forward.Get(), nullptr, clock);
  ASSERT_TRUE(batcher.Schedule(Task("a", "gate")).ok());
  forward.WaitUntilHeld();
  auto expiring = Task("a", "late", 2, 4, absl::FromUnixSeconds(1005));
  auto cancelled = Task("b", "gone", 2);
  ASSERT_TRUE(batcher.Schedule(expiring).ok());
  ASSERT_TRUE(batcher.Schedule(cancelled).ok());
  EXPECT_EQ(batcher.Schedule(Task("c", "c0")).code(), absl::StatusCode::kResourceExhausted);
  cancelled->Cancel();
  clock.Advance(absl::Seconds(10));
  auto retry = Task("c", "c1", 3);
  ASSERT_TRUE(batcher.Schedule(retry).ok());
  EXPECT_EQ(batcher.queued_sequences(), 3);
  EXPECT_EQ(WaitFor(expiring).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(WaitFor(cancelled).status().code(), absl::StatusCode::kCancelled);
  forward.Release();
  EXPECT_TRUE(WaitFor(retry).ok());
}

TEST(PredictBatcherTest, StopRunsWhatIsQueuedThenRefuses) {
  RecordingForward forward;
  auto batcher = std::make_unique<PredictBatcher>(SmallBatches(64), forward.Get());
  auto queued = Task("t", "last");
  ASSERT_TRUE(batcher->Schedule(queued).ok());
  batcher->Stop();
  EXPECT_TRUE(WaitFor(queued).ok());
  EXPECT_EQ(batcher->Schedule(Task("t", "late")).code(), absl::StatusCode::kUnavailable);
  batcher->Stop();  // idempotent
}

TEST(PredictBatcherTest, ReportsBatchStats) {
  RecordingForward forward;
  absl::Mutex mu;
  std::vector<BatchStats> stats;
  PredictBatcher batcher(SmallBatches(64), forward.Get(), [&](const BatchStats& s) {
    absl::MutexLock lock(&mu);
    stats.push_back(s);
  });
  auto a = Task("t", "a", 3);
  ASSERT_TRUE(batcher.Schedule(a).ok());
  ASSERT_TRUE(WaitFor(a).ok());
  batcher.Stop();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].sequences, 3);
  EXPECT_EQ(stats[0].profiles, 1);
  EXPECT_EQ(stats[0].queue_seconds.size(), 1u);
}

}  // namespace
}  // namespace maskserve
