// Unit tests of the training manager over the in-memory store and the
// built-in tiny backbone: the job's life (durable submit, resolved options,
// publish, hot swap), one job per profile, the per-tenant budget, cancel
// (queued and durable), re-queue at start-up and a failed publication.
#include "server/engine/training_manager.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

// A HEAD_ONLY request over `examples` examples, prepared as the engine does.
v1::TrainProfileRequest Request(const std::string& profile_id, int examples = 8) {
  v1::TrainProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_method(v1::HEAD_ONLY);
  request.add_label_names("neg");
  request.add_label_names("pos");
  for (int i = 0; i < examples; ++i) {
    v1::TrainingExample* e = request.add_examples();
    e->set_text(i % 2 ? "a great warm film" : "a dull cold film");
    e->set_label(i % 2 ? "pos" : "neg");
  }
  request.mutable_hyper_parameters()->set_epochs(3);
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
                                             hooks, clock_);
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
  ASSERT_NE(swapped[0]->composed, nullptr);
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
                          hooks, clock_);
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

TEST_F(TrainingManagerTest, SubmitAfterShutdownIsUnavailable) {
  auto manager = Manager();
  ASSERT_TRUE(manager->Start().ok());
  manager->Shutdown();
  EXPECT_EQ(manager->Submit("acme", Request("alice")).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace maskserve
