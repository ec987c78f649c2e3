// Unit tests of the training manager over the in-memory store and the
// built-in tiny backbone: the job's life (durable submit, resolved options,
// publish, hot swap), one job per profile, the per-tenant budget, cancel
// (queued and durable), re-queue at start-up and a failed publication.
#include "server/engine/training_manager.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "proto/job_state.h"
#include "server/engine/loaded_model.h"
#include "server/engine/model_loading.h"
#include "server/engine/request_validation.h"
#include "storage/testing/in_memory_profile_store.h"

namespace maskserve {
namespace {

const LoadedModel& Model() {
  static const std::shared_ptr<const LoadedModel>* model = [] {
    ModelRequest request;
    request.model_dir = "builtin";
    request.device = "cpu";
    absl::StatusOr<std::shared_ptr<const LoadedModel>> loaded = LoadModel(request);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const LoadedModel>(*std::move(loaded));
  }();
  return **model;
}

// A request over `examples` examples, prepared as the engine does.
v1::TrainProfileRequest Request(const std::string& profile_id, int examples = 8,
                                v1::Method method = v1::HEAD_ONLY, int epochs = 3) {
  v1::TrainProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_method(method);
  request.add_label_names("neg");
  request.add_label_names("pos");
  for (int i = 0; i < examples; ++i) {
    v1::TrainingExample* e = request.add_examples();
    e->set_text(i % 2 ? "a great warm film" : "a dull cold film");
    e->set_label(i % 2 ? "pos" : "neg");
  }
  request.mutable_hyper_parameters()->set_epochs(uint32_t(epochs));
  absl::StatusOr<v1::TrainProfileRequest> prepared =
      PrepareTrainRequest(request, LimitsOptions(), Model().banks);
  EXPECT_TRUE(prepared.ok()) << prepared.status();
  return *prepared;
}

class TrainingManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<TrainingManager> Manager(TrainingManager::Options options = {}) {
    TrainingManager::Hooks hooks;
    hooks.on_published = [this](const ProfileHandle& handle) {
      absl::MutexLock lock(&mu_);
      published_.push_back(handle);
    };
    return std::make_unique<TrainingManager>(options, &store_, Model().backbone, Model().banks,
                                             Model().pool, hooks, clock_);
  }

  v1::TrainingJob WaitFinal(TrainingManager& manager, const std::string& job_id) {
    v1::TrainingJob last;
    absl::Status watched = manager.Watch(
        "acme", job_id,
        [&](const v1::TrainingJob& job) {
          last = job;
          return true;
        },
        nullptr);
    EXPECT_TRUE(watched.ok()) << watched;
    return last;
  }

  // A job that trains for a while (seconds) on the tiny backbone.
  static v1::TrainProfileRequest LongRequest(const std::string& profile_id) {
    return Request(profile_id, 400, v1::ADAPTER, 200);
  }

  // Polls until `done()` (10 s at most).
  static bool Eventually(const std::function<bool()>& done) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  bool IsRunning(TrainingManager& manager, const std::string& job_id) {
    std::optional<v1::TrainingJob> live = manager.Live("acme", job_id);
    return live.has_value() && live->state() == v1::RUNNING;
  }

  // A job left in the store as a crash leaves it: RUNNING after `attempts`
  // started runs.
  std::string CrashedJob(int attempts, bool cancel_requested = false) {
    absl::StatusOr<v1::TrainingJob> job =
        store_.CreateJob("acme", Request("alice"), v1::TrainingJob());
    EXPECT_TRUE(job.ok()) << job.status();
    job->set_state(v1::RUNNING);
    job->set_attempts(uint32_t(attempts));
    job->set_cancel_requested(cancel_requested);
    EXPECT_TRUE(store_.UpdateJob("acme", *job).ok());
    return job->job_id();
  }

  // A manager with quick final-state retries and alice's job queued, whose
  // run cannot load the job (so it ends FAILED) and whose final-state write
  // then fails `times` times with `error`; start it to run the job.
  std::unique_ptr<TrainingManager> ManagerWhoseFinalWriteFails(absl::Status error, int times,
                                                               std::string* job_id) {
    TrainingManager::Options options;
    options.retry_initial_backoff = absl::Milliseconds(20);
    options.retry_max_backoff = absl::Milliseconds(40);
    auto manager = Manager(options);
    absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", Request("alice"));
    EXPECT_TRUE(job.ok()) << job.status();
    if (job.ok()) *job_id = job->job_id();
    store_.FailNext(InMemoryProfileStore::Operation::kGetJob, error);
    store_.FailNext(InMemoryProfileStore::Operation::kUpdateJob, error, times);
    return manager;
  }

  std::vector<ProfileHandle> published() {
    absl::MutexLock lock(&mu_);
    return published_;
  }

  InMemoryProfileStore store_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  absl::Mutex mu_;
  std::vector<ProfileHandle> published_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TrainingManagerTest, AJobRunsWithItsStoredOptionsPublishesAndHotSwaps) {
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", Request("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_EQ(job->hyper_parameters().epochs(), 3u);
  EXPECT_GT(job->hyper_parameters().batch_size(), 0u);  // resolved, not 0
  // Durable before the id was returned.
  absl::StatusOr<StoredJob> stored = store_.GetJob("acme", job->job_id());
  ASSERT_TRUE(stored.ok()) << stored.status();

  const v1::TrainingJob done = WaitFinal(*manager, job->job_id());
  EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  EXPECT_EQ(done.published_version(), 1u);
  EXPECT_EQ(done.total_epochs(), 3u);
  EXPECT_EQ(done.start_time().seconds(), 1700000000);  // the injected clock
  absl::StatusOr<StoredProfile> profile = store_.GetProfile("acme", "alice");
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(profile->profile.version(), 1u);
  EXPECT_EQ(profile->profile.size().total_bytes(), profile->payload.size());
  EXPECT_EQ(profile->profile.training_job_id(), job->job_id());
  const std::vector<ProfileHandle> swapped = published();
  ASSERT_EQ(swapped.size(), 1u);
  EXPECT_EQ(swapped[0]->version, 1u);
  EXPECT_EQ(swapped[0]->profile_id, "alice");
  ASSERT_NE(swapped[0]->pooled, nullptr);
  EXPECT_EQ(store_.calls(InMemoryProfileStore::Operation::kPublishProfile), 1);
}

TEST_F(TrainingManagerTest, AJobStaysRunningInMemoryUntilItsVersionIsSwappedIn) {
  absl::Notification swapping, release;
  TrainingManager::Hooks hooks;
  hooks.on_published = [&](const ProfileHandle&) {
    swapping.Notify();
    release.WaitForNotification();
  };
  TrainingManager manager(TrainingManager::Options(), &store_, Model().backbone, Model().banks,
                          Model().pool, hooks, clock_);
  ASSERT_TRUE(manager.Start().ok());
  absl::StatusOr<v1::TrainingJob> job = manager.Submit("acme", Request("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  swapping.WaitForNotification();
  // The store already records SUCCEEDED (same write as the version); what
  // this process reports must not, until the new version serves.
  EXPECT_EQ(store_.GetJob("acme", job->job_id())->job.state(), v1::SUCCEEDED);
  std::optional<v1::TrainingJob> live = manager.Live("acme", job->job_id());
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->state(), v1::RUNNING);
  EXPECT_EQ(manager.Get("acme", job->job_id())->state(), v1::RUNNING);
  release.Notify();
  EXPECT_EQ(WaitFinal(manager, job->job_id()).state(), v1::SUCCEEDED);
  // Then the live job is forgotten (just after watchers saw SUCCEEDED).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (manager.Live("acme", job->job_id()).has_value() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_FALSE(manager.Live("acme", job->job_id()).has_value());
}

TEST_F(TrainingManagerTest, OneUnfinishedJobPerProfileAndABudgetPerTenant) {
  TrainingManager::Options options;
  options.max_unfinished_jobs_per_tenant = 2;
  auto manager = Manager(options);  // not started: jobs stay queued
  ASSERT_TRUE(manager->Submit("acme", Request("alice")).ok());
  absl::StatusOr<v1::TrainingJob> again = manager->Submit("acme", Request("alice"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("profile_id: 'alice' is still training"),
            std::string::npos)
      << again.status();
  EXPECT_TRUE(manager->HasUnfinishedJob("acme", "alice"));
  EXPECT_FALSE(manager->HasUnfinishedJob("acme", "bob"));
  ASSERT_TRUE(manager->Submit("acme", Request("bob")).ok());
  EXPECT_EQ(manager->Submit("acme", Request("carol")).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(manager->CountByState()[v1::QUEUED], 2);
}

TEST_F(TrainingManagerTest, CancellingAQueuedJobIsDurableAndFinal) {
  auto manager = Manager();  // not started
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", Request("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<v1::TrainingJob> cancelled = manager->Cancel("acme", job->job_id());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  EXPECT_EQ(store_.GetJob("acme", job->job_id())->job.state(), v1::CANCELLED);
  EXPECT_EQ(manager->Cancel("acme", job->job_id()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Another tenant cannot see it.
  EXPECT_EQ(manager->Get("globex", job->job_id()).status().code(), absl::StatusCode::kNotFound);
  // A restart does not revive it.
  manager.reset();
  auto restarted = Manager();
  ASSERT_TRUE(restarted->Start().ok());
  EXPECT_TRUE(restarted->CountByState().empty());
}

TEST_F(TrainingManagerTest, StartReQueuesTheStoresUnfinishedJobs) {
  {
    auto first = Manager();  // accepts the job, never runs it
    ASSERT_TRUE(first->Submit("acme", Request("alice")).ok());
  }
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  absl::StatusOr<ListJobsResult> jobs = store_.ListJobs("acme", JobFilter(), PageRequest());
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->jobs.size(), 1u);
  EXPECT_EQ(WaitFinal(*manager, jobs->jobs[0].job_id()).state(), v1::SUCCEEDED);
  EXPECT_EQ(store_.GetProfile("acme", "alice")->profile.version(), 1u);
}

TEST_F(TrainingManagerTest, AFailedPublicationFailsTheJobAndKeepsThePreviousVersion) {
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  store_.FailNext(InMemoryProfileStore::Operation::kPublishProfile,
                  absl::UnavailableError("disk gone"));
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", Request("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  const v1::TrainingJob done = WaitFinal(*manager, job->job_id());
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_NE(done.error().find("publishing failed: disk gone"), std::string::npos) << done.error();
  EXPECT_EQ(store_.GetProfile("acme", "alice").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(published().empty());
}

// A job that kills the process (say, out of memory) must not crash-loop
// the server: after max_attempts runs it ends FAILED at start-up.
TEST_F(TrainingManagerTest, AJobRunningWhenTheServerDiedTooOftenEndsFailed) {
  const std::string exhausted = CrashedJob(2);
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  const v1::TrainingJob ended = store_.GetJob("acme", exhausted)->job;
  EXPECT_EQ(ended.state(), v1::FAILED);
  EXPECT_NE(ended.error().find("max_job_attempts=2"), std::string::npos) << ended.error();
  EXPECT_TRUE(manager->CountByState().empty());
  EXPECT_FALSE(manager->HasUnfinishedJob("acme", "alice"));
}

TEST_F(TrainingManagerTest, AJobRunningWhenTheServerDiedOnceRunsAgainAndCountsTheAttempt) {
  const std::string crashed = CrashedJob(1);
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  const v1::TrainingJob done = WaitFinal(*manager, crashed);
  EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  EXPECT_EQ(store_.GetJob("acme", crashed)->job.attempts(), 2u);
}

TEST_F(TrainingManagerTest, AGracefulShutdownDoesNotCountAsAnAttempt) {
  std::string job_id;
  {
    auto manager = Manager();
    ASSERT_TRUE(manager->Start().ok());
    absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", LongRequest("alice"));
    ASSERT_TRUE(job.ok()) << job.status();
    job_id = job->job_id();
    ASSERT_TRUE(Eventually([&] { return IsRunning(*manager, job_id); }));
    manager->Shutdown();
  }
  const v1::TrainingJob stored = store_.GetJob("acme", job_id)->job;
  EXPECT_EQ(stored.state(), v1::QUEUED);
  EXPECT_EQ(stored.attempts(), 0u);
}

// An acknowledged cancel must hold even if the server dies before the job
// notices it.
TEST_F(TrainingManagerTest, CancellingARunningJobIsDurableBeforeItIsAcknowledged) {
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", LongRequest("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(Eventually([&] { return IsRunning(*manager, job->job_id()); }));
  absl::StatusOr<v1::TrainingJob> cancelled = manager->Cancel("acme", job->job_id());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_TRUE(cancelled->cancel_requested());
  EXPECT_TRUE(store_.GetJob("acme", job->job_id())->job.cancel_requested());
  EXPECT_EQ(WaitFinal(*manager, job->job_id()).state(), v1::CANCELLED);
  EXPECT_TRUE(published().empty());
}

TEST_F(TrainingManagerTest, ACancelRequestedBeforeACrashEndsTheJobCancelledAtStart) {
  const std::string job_id = CrashedJob(1, /*cancel_requested=*/true);
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  EXPECT_EQ(store_.GetJob("acme", job_id)->job.state(), v1::CANCELLED);
  EXPECT_TRUE(manager->CountByState().empty());
}

TEST_F(TrainingManagerTest, AJobPastItsTimeBudgetEndsFailed) {
  TrainingManager::Options options;
  options.max_seconds_per_job = absl::Minutes(10);
  auto manager = Manager(options);
  ASSERT_TRUE(manager->Start().ok());
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", LongRequest("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(Eventually([&] { return IsRunning(*manager, job->job_id()); }));
  clock_.Advance(absl::Minutes(11));
  const v1::TrainingJob done = WaitFinal(*manager, job->job_id());
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_NE(done.error().find("--max_training_seconds_per_job"), std::string::npos) << done.error();
}

// A final state the store does not take is retried; until it is, the
// job still counts (no second job for the profile) and health can see it.
TEST_F(TrainingManagerTest, AFinalStateTheStoreRefusesIsRetriedUntilItIsWritten) {
  std::string job_id;
  auto manager = ManagerWhoseFinalWriteFails(absl::UnavailableError("disk gone"), 5, &job_id);
  ASSERT_TRUE(manager->Start().ok());
  ASSERT_TRUE(Eventually([&] { return manager->final_writes_failing(); }));
  EXPECT_TRUE(manager->HasUnfinishedJob("acme", "alice"));
  EXPECT_EQ(manager->Submit("acme", Request("alice")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Not reported final before the store has it (a crash now would leave the
  // store's state; the crash test on PostgreSQL caught a CANCELLED shown
  // from memory that the next process reported RUNNING).
  absl::StatusOr<v1::TrainingJob> meanwhile = manager->Get("acme", job_id);
  ASSERT_TRUE(meanwhile.ok()) << meanwhile.status();
  EXPECT_FALSE(IsFinalJobState(meanwhile->state())) << v1::JobState_Name(meanwhile->state());
  EXPECT_FALSE(manager->Live("acme", job_id).has_value());
  ASSERT_TRUE(Eventually([&] { return !manager->final_writes_failing(); }));
  ASSERT_TRUE(Eventually([&] { return !manager->HasUnfinishedJob("acme", "alice"); }));
  EXPECT_EQ(store_.GetJob("acme", job_id)->job.state(), v1::FAILED);
  EXPECT_EQ(store_.pending_failures(InMemoryProfileStore::Operation::kUpdateJob), 0);
}

// A final state the store can never take (the record is unreadable) is
// not retried forever: that would stop all training and keep health bad.
TEST_F(TrainingManagerTest, APermanentStoreErrorIsNotRetried) {
  std::string job_id;
  auto manager = ManagerWhoseFinalWriteFails(absl::DataLossError("unreadable"), 100, &job_id);
  ASSERT_TRUE(manager->Start().ok());
  ASSERT_TRUE(Eventually([&] { return !manager->HasUnfinishedJob("acme", "alice"); }));
  EXPECT_EQ(store_.pending_failures(InMemoryProfileStore::Operation::kUpdateJob), 99);
  EXPECT_FALSE(manager->final_writes_failing());
  store_.ClearFailures();
}

// A job publishes only over the version it started from.
TEST_F(TrainingManagerTest, AJobNeverPublishesOverANewerVersion) {
  auto manager = Manager();
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", Request("alice"), 0);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(store_.GetJob("acme", job->job_id())->job.base_version(), 0u);
  // Meanwhile a version appears that the job did not start from.
  PublishProfileRequest newer;
  newer.profile.set_method(v1::HEAD_ONLY);
  newer.payload = "opaque";
  ASSERT_TRUE(store_.PublishProfile("acme", "alice", newer).ok());
  ASSERT_TRUE(manager->Start().ok());
  const v1::TrainingJob done = WaitFinal(*manager, job->job_id());
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_NE(done.error().find("expected_version"), std::string::npos) << done.error();
  EXPECT_EQ(store_.GetProfile("acme", "alice")->profile.version(), 1u);
}

// One tenant's backlog waits behind the other tenants' next jobs.
TEST_F(TrainingManagerTest, TenantsShareTheTrainerRoundRobin) {
  auto manager = Manager();  // not started: all are queued first
  for (const char* id : {"a1", "a2", "a3"}) ASSERT_TRUE(manager->Submit("acme", Request(id)).ok());
  ASSERT_TRUE(manager->Submit("globex", Request("b1")).ok());
  ASSERT_TRUE(manager->Start().ok());
  ASSERT_TRUE(Eventually([&] { return published().size() == 4; }));
  std::vector<std::string> order;
  for (const ProfileHandle& p : published()) order.push_back(p->profile_id);
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "a2", "a3"}));
}

TEST_F(TrainingManagerTest, WatchStreamsHaveABudgetPerTenant) {
  TrainingManager::Options options;
  options.max_watch_streams_per_tenant = 1;
  auto manager = Manager(options);  // not started: the job stays queued
  absl::StatusOr<v1::TrainingJob> job = manager->Submit("acme", Request("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  std::atomic<bool> stop{false};
  absl::Notification first_sent;
  std::thread first([&] {
    (void)manager->Watch(
        "acme", job->job_id(),
        [&](const v1::TrainingJob&) {
          if (!first_sent.HasBeenNotified()) first_sent.Notify();
          return true;
        },
        [&] { return stop.load(); });
  });
  first_sent.WaitForNotification();
  absl::Status second = manager->Watch(
      "acme", job->job_id(), [](const v1::TrainingJob&) { return true; }, [] { return true; });
  EXPECT_EQ(second.code(), absl::StatusCode::kResourceExhausted) << second;
  EXPECT_NE(second.message().find("WatchTrainingJob"), std::string::npos) << second;
  stop = true;
  first.join();
  // The stream's slot is free again.
  EXPECT_EQ(manager
                ->Watch(
                    "acme", job->job_id(), [](const v1::TrainingJob&) { return true; },
                    [] { return true; })
                .code(),
            absl::StatusCode::kCancelled);
}

TEST_F(TrainingManagerTest, SubmitAfterShutdownIsUnavailable) {
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  manager->Shutdown();
  EXPECT_EQ(manager->Submit("acme", Request("alice")).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace maskserve
