// Tests of InMemoryProfileStore: the ProfileStore contract (versions,
// tenants, expected_version, jobs, import, quota, listings) and the test
// hooks (FailNext, calls).
#include "storage/testing/in_memory_profile_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/job_id.h"
#include "storage/page_token.h"
#include "storage/testing/store_test_util.h"
#include "storage/time_util.h"

namespace maskserve {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Op = InMemoryProfileStore::Operation;

class InMemoryProfileStoreTest : public ::testing::Test {
 protected:
  InMemoryProfileStore::Options BaseOptions() {
    InMemoryProfileStore::Options options;
    options.clock = [this] { return now_; };
    options.job_id_seed = 7;
    return options;
  }
  void Advance(absl::Duration d) { now_ += d; }
  absl::Time now() const { return now_; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

// A job for `profile_id`, created and moved to RUNNING.
v1::TrainingJob RunningJob(InMemoryProfileStore& store, std::string_view tenant,
                           std::string profile_id) {
  absl::StatusOr<v1::TrainingJob> job =
      store.CreateJob(tenant, TestTrainRequest(std::move(profile_id)), v1::TrainingJob());
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return v1::TrainingJob();
  job->set_state(v1::RUNNING);
  absl::StatusOr<v1::TrainingJob> running = store.UpdateJob(tenant, *job);
  EXPECT_TRUE(running.ok()) << running.status();
  return running.ok() ? *running : v1::TrainingJob();
}

std::vector<std::string> ProfileIds(const ListProfilesResult& result) {
  std::vector<std::string> ids;
  for (const v1::Profile& p : result.profiles) ids.push_back(p.profile_id());
  return ids;
}

std::vector<std::string> JobIds(const std::vector<v1::TrainingJob>& jobs) {
  std::vector<std::string> ids;
  for (const v1::TrainingJob& j : jobs) ids.push_back(j.job_id());
  return ids;
}

TEST_F(InMemoryProfileStoreTest, PublishGetAndVersionsContinueAfterDelete) {
  InMemoryProfileStore store(BaseOptions());
  absl::StatusOr<v1::Profile> v1 = store.PublishProfile("t", "p", TestPublish("one"));
  ASSERT_OK(v1);
  EXPECT_EQ(v1->profile_id(), "p");
  EXPECT_EQ(v1->version(), 1u);
  EXPECT_EQ(v1->description(), "test profile");
  EXPECT_EQ(FromTimestamp(v1->create_time()), now());
  EXPECT_EQ(FromTimestamp(v1->update_time()), now());

  Advance(absl::Seconds(10));
  absl::StatusOr<v1::Profile> v2 = store.PublishProfile("t", "p", TestPublish("two"));
  ASSERT_OK(v2);
  EXPECT_EQ(v2->version(), 2u);
  // create_time is kept from the live version; update_time is now.
  EXPECT_EQ(FromTimestamp(v2->create_time()), now() - absl::Seconds(10));
  EXPECT_EQ(FromTimestamp(v2->update_time()), now());

  absl::StatusOr<StoredProfile> got = store.GetProfile("t", "p");
  ASSERT_OK(got);
  EXPECT_EQ(got->profile.version(), 2u);
  EXPECT_EQ(got->payload, "two");
  EXPECT_EQ(*store.CountProfiles("t"), 1u);

  absl::StatusOr<uint64_t> deleted = store.DeleteProfile("t", "p", std::nullopt);
  ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 2u);
  EXPECT_THAT(store.GetProfile("t", "p"), StatusIs(absl::StatusCode::kNotFound, "\"p\""));
  EXPECT_THAT(store.DeleteProfile("t", "p", std::nullopt), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.ExportProfile("t", "p"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*store.CountProfiles("t"), 0u);
  EXPECT_THAT(store.ListProfiles("t", {})->profiles, IsEmpty());

  // Re-created: continues after the tombstone, with a new create_time.
  Advance(absl::Seconds(10));
  absl::StatusOr<v1::Profile> v3 = store.PublishProfile("t", "p", TestPublish("three"));
  ASSERT_OK(v3);
  EXPECT_EQ(v3->version(), 3u);
  EXPECT_EQ(FromTimestamp(v3->create_time()), now());
  EXPECT_EQ(store.GetProfile("t", "p")->payload, "three");
  EXPECT_EQ(*store.CountProfiles("t"), 1u);
}

TEST_F(InMemoryProfileStoreTest, RefusesInvalidIdsNamingTheField) {
  InMemoryProfileStore store(BaseOptions());
  EXPECT_THAT(store.PublishProfile("a/b", "p", TestPublish("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, "tenant"));
  EXPECT_THAT(store.PublishProfile("t", ".p", TestPublish("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_THAT(store.GetProfile("", "p"), StatusIs(absl::StatusCode::kInvalidArgument, "tenant"));
  EXPECT_THAT(store.ListProfiles("t t", {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store.GetJob("t", "not-a-job-id"),
              StatusIs(absl::StatusCode::kInvalidArgument, "job_id"));
  EXPECT_THAT(store.CreateJob("t", TestTrainRequest("a/b"), v1::TrainingJob()),
              StatusIs(absl::StatusCode::kInvalidArgument, "profile_id"));
  PublishProfileRequest bad_job = TestPublish("x");
  bad_job.finished_job.emplace().set_job_id("nope");
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(bad_job)),
              StatusIs(absl::StatusCode::kInvalidArgument, "job_id"));
  EXPECT_THAT(store.GetProfile("t", "p"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(InMemoryProfileStoreTest, TenantsAreIsolated) {
  InMemoryProfileStore store(BaseOptions());
  ASSERT_OK(store.PublishProfile("alice", "p", TestPublish("a1")));
  ASSERT_OK(store.PublishProfile("alice", "p", TestPublish("a2")));
  EXPECT_THAT(store.GetProfile("bob", "p"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.DeleteProfile("bob", "p", std::nullopt), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*store.CountProfiles("bob"), 0u);
  EXPECT_THAT(store.ListProfiles("bob", {})->profiles, IsEmpty());
  EXPECT_EQ(store.ListProfiles("bob", {})->total_count, 0u);

  // The same id in another tenant has its own versions.
  absl::StatusOr<v1::Profile> bob = store.PublishProfile("bob", "p", TestPublish("b1"));
  ASSERT_OK(bob);
  EXPECT_EQ(bob->version(), 1u);
  EXPECT_EQ(store.GetProfile("alice", "p")->payload, "a2");
  EXPECT_EQ(store.GetProfile("bob", "p")->payload, "b1");

  // Jobs too.
  absl::StatusOr<v1::TrainingJob> job =
      store.CreateJob("alice", TestTrainRequest("p"), v1::TrainingJob());
  ASSERT_OK(job);
  EXPECT_THAT(store.GetJob("bob", job->job_id()), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.UpdateJob("bob", *job), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.ListJobs("bob", {}, {})->jobs, IsEmpty());
  PublishProfileRequest publish = TestPublish("b2");
  publish.finished_job = *job;
  EXPECT_THAT(store.PublishProfile("bob", "p", std::move(publish)),
              StatusIs(absl::StatusCode::kNotFound, "job_id"));
  EXPECT_EQ(store.GetProfile("bob", "p")->profile.version(), 1u);
  EXPECT_EQ(store.GetJob("alice", job->job_id())->job.state(), v1::QUEUED);
}

TEST_F(InMemoryProfileStoreTest, ExpectedVersionIsCompareAndSet) {
  InMemoryProfileStore store(BaseOptions());
  PublishProfileRequest request = TestPublish("one");
  request.expected_version = 1;  // does not exist yet
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(request)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "does not exist"));

  request = TestPublish("one");
  request.expected_version = 0;
  ASSERT_OK(store.PublishProfile("t", "p", std::move(request)));
  request = TestPublish("again");
  request.expected_version = 0;
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(request)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "expected_version"));
  request = TestPublish("two");
  request.expected_version = 1;
  EXPECT_EQ(store.PublishProfile("t", "p", std::move(request))->version(), 2u);
  request = TestPublish("stale");
  request.expected_version = 1;
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(request)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "at version 2"));
  EXPECT_EQ(store.GetProfile("t", "p")->payload, "two");

  EXPECT_THAT(store.DeleteProfile("t", "p", 1), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(*store.DeleteProfile("t", "p", 2), 2u);
  // A tombstone counts as "does not exist" for expected_version 0.
  request = TestPublish("three");
  request.expected_version = 0;
  EXPECT_EQ(store.PublishProfile("t", "p", std::move(request))->version(), 3u);
}

TEST_F(InMemoryProfileStoreTest, CreateJobDerivesTheJobFromTheRequest) {
  InMemoryProfileStore store(BaseOptions());
  v1::TrainingJob initial;
  initial.set_total_epochs(7);
  initial.mutable_hyper_parameters()->set_epochs(7);
  absl::StatusOr<v1::TrainingJob> job = store.CreateJob("t", TestTrainRequest("p", 5), initial);
  ASSERT_OK(job);
  EXPECT_OK(ValidateJobId(job->job_id()));
  EXPECT_EQ(job->profile_id(), "p");
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_EQ(job->num_examples(), 5u);
  EXPECT_EQ(job->total_epochs(), 7u);
  EXPECT_EQ(job->hyper_parameters().epochs(), 7u);
  EXPECT_EQ(FromTimestamp(job->create_time()), now());

  absl::StatusOr<StoredJob> stored = store.GetJob("t", job->job_id());
  ASSERT_OK(stored);
  EXPECT_EQ(stored->tenant, "t");
  EXPECT_EQ(stored->job.job_id(), job->job_id());
  EXPECT_EQ(stored->request.examples_size(), 5);
  absl::StatusOr<v1::TrainingJob> second =
      store.CreateJob("t", TestTrainRequest("p"), v1::TrainingJob());
  ASSERT_OK(second);
  EXPECT_GT(second->job_id(), job->job_id());  // same clock: still increasing
}

TEST_F(InMemoryProfileStoreTest, UpdateJobFollowsTheStateMachine) {
  InMemoryProfileStore store(BaseOptions());
  v1::TrainingJob job = RunningJob(store, "t", "p");
  EXPECT_EQ(job.state(), v1::RUNNING);
  EXPECT_EQ(FromTimestamp(job.start_time()), now());

  job.set_epoch(2);
  job.set_train_loss(0.5f);
  job.set_num_examples(999);  // fixed at creation: ignored
  absl::StatusOr<v1::TrainingJob> progress = store.UpdateJob("t", job);
  ASSERT_OK(progress);
  EXPECT_EQ(progress->epoch(), 2u);
  EXPECT_EQ(progress->num_examples(), 3u);

  v1::TrainingJob succeeded = job;
  succeeded.set_state(v1::SUCCEEDED);
  EXPECT_THAT(store.UpdateJob("t", succeeded),
              StatusIs(absl::StatusCode::kFailedPrecondition, "finished_job"));

  Advance(absl::Minutes(1));
  v1::TrainingJob failed = job;
  failed.set_state(v1::FAILED);
  failed.set_error("out of memory");
  absl::StatusOr<v1::TrainingJob> final_job = store.UpdateJob("t", failed);
  ASSERT_OK(final_job);
  EXPECT_EQ(final_job->state(), v1::FAILED);
  EXPECT_EQ(FromTimestamp(final_job->end_time()), now());
  absl::StatusOr<StoredJob> stored = store.GetJob("t", job.job_id());
  ASSERT_OK(stored);
  EXPECT_EQ(stored->job.error(), "out of memory");
  EXPECT_EQ(stored->request.examples_size(), 0);  // dropped when final

  v1::TrainingJob again = job;
  again.set_state(v1::RUNNING);
  EXPECT_THAT(store.UpdateJob("t", again),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already FAILED"));
}

TEST_F(InMemoryProfileStoreTest, PublishWithFinishedJobMarksItSucceeded) {
  InMemoryProfileStore store(BaseOptions());
  ASSERT_OK(store.PublishProfile("t", "p", TestPublish("one")));
  v1::TrainingJob job = RunningJob(store, "t", "p");
  Advance(absl::Minutes(5));

  v1::TrainingJob finished = job;
  finished.set_epoch(3);
  finished.set_train_loss(0.25f);
  finished.set_state(v1::RUNNING);  // the store sets SUCCEEDED
  PublishProfileRequest publish = TestPublish("trained");
  publish.expected_version = 1;
  publish.finished_job = finished;
  absl::StatusOr<v1::Profile> published = store.PublishProfile("t", "p", std::move(publish));
  ASSERT_OK(published);
  EXPECT_EQ(published->version(), 2u);
  EXPECT_EQ(published->training_job_id(), job.job_id());

  absl::StatusOr<StoredJob> stored = store.GetJob("t", job.job_id());
  ASSERT_OK(stored);
  EXPECT_EQ(stored->job.state(), v1::SUCCEEDED);
  EXPECT_EQ(stored->job.published_version(), 2u);
  EXPECT_EQ(stored->job.epoch(), 3u);
  EXPECT_FLOAT_EQ(stored->job.train_loss(), 0.25f);
  EXPECT_EQ(stored->job.num_examples(), 3u);
  EXPECT_EQ(FromTimestamp(stored->job.end_time()), now());
  EXPECT_EQ(stored->request.examples_size(), 0);
  EXPECT_THAT(store.ListUnfinishedJobs()->jobs, IsEmpty());

  // A final job cannot finish again, nor be updated; nothing is published.
  publish = TestPublish("again");
  publish.finished_job = finished;
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(publish)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already SUCCEEDED"));
  EXPECT_THAT(store.UpdateJob("t", finished), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store.GetProfile("t", "p")->profile.version(), 2u);
  EXPECT_EQ(store.GetProfile("t", "p")->payload, "trained");
}

TEST_F(InMemoryProfileStoreTest, RefusedFinishedJobChangesNothing) {
  InMemoryProfileStore store(BaseOptions());
  v1::TrainingJob job = RunningJob(store, "t", "p");

  // A job for another profile.
  PublishProfileRequest publish = TestPublish("x");
  publish.finished_job = job;
  EXPECT_THAT(store.PublishProfile("t", "q", std::move(publish)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "trains profile"));
  EXPECT_THAT(store.GetProfile("t", "q"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*store.CountProfiles("t"), 0u);

  // An unknown job.
  JobIdGenerator other_ids(99);
  publish = TestPublish("x");
  publish.finished_job.emplace().set_job_id(other_ids.Next());
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(publish)),
              StatusIs(absl::StatusCode::kNotFound, "job_id"));
  EXPECT_THAT(store.GetProfile("t", "p"), StatusIs(absl::StatusCode::kNotFound));

  // An expected_version mismatch leaves the job running.
  publish = TestPublish("x");
  publish.expected_version = 4;
  publish.finished_job = job;
  EXPECT_THAT(store.PublishProfile("t", "p", std::move(publish)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store.GetJob("t", job.job_id())->job.state(), v1::RUNNING);
  EXPECT_EQ(store.GetJob("t", job.job_id())->request.examples_size(), 3);
  EXPECT_EQ(store.ListUnfinishedJobs()->jobs.size(), 1u);
}

TEST_F(InMemoryProfileStoreTest, ImportRefusesExistingUnlessOverwrite) {
  InMemoryProfileStore store(BaseOptions());
  ASSERT_OK(store.PublishProfile("t", "p", TestPublish("one")));
  PublishProfileRequest publish = TestPublish("two");
  publish.profile.set_training_job_id("01J9Z3K8Q2M6W0X4T7R5N1B3C8");
  ASSERT_OK(store.PublishProfile("t", "p", std::move(publish)));
  absl::StatusOr<ExportedProfile> exported = store.ExportProfile("t", "p");
  ASSERT_OK(exported);
  EXPECT_EQ(exported->version, 2u);

  absl::StatusOr<v1::Profile> imported = store.ImportProfile("u", "q", exported->data, {});
  ASSERT_OK(imported);
  EXPECT_EQ(imported->profile_id(), "q");
  EXPECT_EQ(imported->version(), 1u);
  EXPECT_EQ(imported->description(), "test profile");
  EXPECT_EQ(imported->training_job_id(), "");  // meaningless on another server
  EXPECT_EQ(store.GetProfile("u", "q")->payload, "two");

  EXPECT_THAT(store.ImportProfile("u", "q", exported->data, {}),
              StatusIs(absl::StatusCode::kAlreadyExists, "overwrite"));
  ImportProfileOptions overwrite;
  overwrite.overwrite = true;
  EXPECT_EQ(store.ImportProfile("u", "q", exported->data, overwrite)->version(), 2u);

  // Onto a deleted profile: no overwrite needed; versions continue.
  ASSERT_OK(store.DeleteProfile("u", "q", std::nullopt));
  EXPECT_EQ(store.ImportProfile("u", "q", exported->data, {})->version(), 3u);

  std::string corrupted = exported->data;
  corrupted[corrupted.size() / 2] ^= 0x40;
  EXPECT_THAT(store.ImportProfile("u", "r", corrupted, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "data: "));
  EXPECT_THAT(store.ImportProfile("u", "r", "hello", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "data: "));
  EXPECT_THAT(store.GetProfile("u", "r"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(InMemoryProfileStoreTest, QuotaRefusesOnlyNewProfiles) {
  InMemoryProfileStore::Options options = BaseOptions();
  options.max_profiles_per_tenant = 2;
  InMemoryProfileStore store(std::move(options));
  ASSERT_OK(store.PublishProfile("t", "a", TestPublish("x")));
  ASSERT_OK(store.PublishProfile("t", "b", TestPublish("x")));
  EXPECT_THAT(store.PublishProfile("t", "c", TestPublish("x")),
              StatusIs(absl::StatusCode::kResourceExhausted, "quota is 2"));
  absl::StatusOr<ExportedProfile> exported = store.ExportProfile("t", "a");
  ASSERT_OK(exported);
  EXPECT_THAT(store.ImportProfile("t", "c", exported->data, {}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // New versions of existing profiles, and other tenants, are fine.
  EXPECT_EQ(store.PublishProfile("t", "a", TestPublish("y"))->version(), 2u);
  ASSERT_OK(store.PublishProfile("other", "c", TestPublish("x")));
  // Deleting frees a slot.
  ASSERT_OK(store.DeleteProfile("t", "b", std::nullopt));
  ASSERT_OK(store.PublishProfile("t", "c", TestPublish("x")));
  EXPECT_EQ(*store.CountProfiles("t"), 2u);
}

TEST_F(InMemoryProfileStoreTest, BankFingerprintsAreCheckedWhenSet) {
  InMemoryProfileStore::Options options = BaseOptions();
  options.bank_fingerprints = {kTestBank};
  InMemoryProfileStore store(std::move(options));
  ASSERT_OK(store.PublishProfile("t", "p", TestPublish("x")));
  EXPECT_THAT(store.PublishProfile("t", "p", TestPublish("x", "other-bank")),
              StatusIs(absl::StatusCode::kFailedPrecondition, "bank_fingerprint"));
  EXPECT_THAT(store.PublishProfile("t", "p", TestPublish("x", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, "bank_fingerprint"));
  EXPECT_EQ(store.GetProfile("t", "p")->profile.version(), 1u);
}

TEST_F(InMemoryProfileStoreTest, ListsProfilesInIdOrderByPages) {
  InMemoryProfileStore store(BaseOptions());
  for (const char* id : {"m", "b", "z", "a", "k", "c"}) {
    ASSERT_OK(store.PublishProfile("t", id, TestPublish(id)));
  }
  ASSERT_OK(store.DeleteProfile("t", "c", std::nullopt));
  ASSERT_OK(store.PublishProfile("other", "aa", TestPublish("x")));

  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  PageRequest page;
  page.page_size = 2;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<ListProfilesResult> result = store.ListProfiles("t", page);
    ASSERT_OK(result);
    EXPECT_EQ(result->total_count, 5u);
    EXPECT_THAT(result->unreadable, IsEmpty());
    for (const std::string& id : ProfileIds(*result)) seen.push_back(id);
    page_sizes.push_back(result->profiles.size());
    if (result->next_page_token.empty()) break;
    page.page_token = result->next_page_token;
  }
  EXPECT_THAT(seen, ElementsAre("a", "b", "k", "m", "z"));
  EXPECT_THAT(page_sizes, ElementsAre(2, 2, 1));

  // Exactly one full page: no token.
  page = PageRequest();
  page.page_size = 5;
  EXPECT_TRUE(store.ListProfiles("t", page)->next_page_token.empty());

  // Tokens of another tenant or listing, or altered, are refused.
  page.page_size = 2;
  const std::string token = store.ListProfiles("t", page)->next_page_token;
  ASSERT_FALSE(token.empty());
  page.page_token = token;
  EXPECT_THAT(store.ListProfiles("other", page),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_THAT(store.ListJobs("t", {}, page), StatusIs(absl::StatusCode::kInvalidArgument));
  page.page_token = "garbage";
  EXPECT_THAT(store.ListProfiles("t", page), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(InMemoryProfileStoreTest, PageSizeDefaultsAndClamps) {
  InMemoryProfileStore store(BaseOptions());
  for (uint32_t i = 0; i < kMaxPageSize + 5; ++i) {
    ASSERT_OK(store.PublishProfile("t", absl::StrCat("p", 10000 + i), TestPublish("x")));
  }
  absl::StatusOr<ListProfilesResult> first = store.ListProfiles("t", {});
  ASSERT_OK(first);
  EXPECT_EQ(first->profiles.size(), kDefaultPageSize);
  EXPECT_FALSE(first->next_page_token.empty());
  PageRequest big;
  big.page_size = 5000;
  absl::StatusOr<ListProfilesResult> clamped = store.ListProfiles("t", big);
  ASSERT_OK(clamped);
  EXPECT_EQ(clamped->profiles.size(), kMaxPageSize);
  EXPECT_EQ(clamped->total_count, kMaxPageSize + 5);
}

TEST_F(InMemoryProfileStoreTest, ListsJobsNewestFirstWithFilters) {
  InMemoryProfileStore store(BaseOptions());
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) {
    Advance(absl::Seconds(1));
    absl::StatusOr<v1::TrainingJob> job =
        store.CreateJob("t", TestTrainRequest(i % 2 ? "odd" : "even"), v1::TrainingJob());
    ASSERT_OK(job);
    created.push_back(job->job_id());
  }
  ASSERT_OK(store.CreateJob("other", TestTrainRequest("even"), v1::TrainingJob()));
  v1::TrainingJob cancel = store.GetJob("t", created[1])->job;
  cancel.set_state(v1::CANCELLED);
  ASSERT_OK(store.UpdateJob("t", cancel));

  std::vector<std::string> seen;
  PageRequest page;
  page.page_size = 2;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<ListJobsResult> result = store.ListJobs("t", {}, page);
    ASSERT_OK(result);
    for (const std::string& id : JobIds(result->jobs)) seen.push_back(id);
    if (result->next_page_token.empty()) break;
    page.page_token = result->next_page_token;
  }
  EXPECT_THAT(seen, ElementsAre(created[4], created[3], created[2], created[1], created[0]));

  JobFilter odd;
  odd.profile_id = "odd";
  EXPECT_THAT(JobIds(store.ListJobs("t", odd, {})->jobs), ElementsAre(created[3], created[1]));
  JobFilter queued_odd = odd;
  queued_odd.states = {v1::QUEUED};
  EXPECT_THAT(JobIds(store.ListJobs("t", queued_odd, {})->jobs), ElementsAre(created[3]));
  JobFilter cancelled;
  cancelled.states = {v1::CANCELLED, v1::FAILED};
  EXPECT_THAT(JobIds(store.ListJobs("t", cancelled, {})->jobs), ElementsAre(created[1]));
  JobFilter bad;
  bad.profile_id = "a/b";
  EXPECT_THAT(store.ListJobs("t", bad, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "profile_id"));
}

TEST_F(InMemoryProfileStoreTest, ListsUnfinishedJobsOfAllTenantsOldestFirst) {
  InMemoryProfileStore store(BaseOptions());
  std::vector<std::string> ids;
  for (const char* tenant : {"b", "a", "b", "c"}) {
    Advance(absl::Seconds(1));
    absl::StatusOr<v1::TrainingJob> job =
        store.CreateJob(tenant, TestTrainRequest("p"), v1::TrainingJob());
    ASSERT_OK(job);
    ids.push_back(job->job_id());
  }
  // The second "b" job fails; the "c" one runs.
  v1::TrainingJob failed = store.GetJob("b", ids[2])->job;
  failed.set_state(v1::FAILED);
  ASSERT_OK(store.UpdateJob("b", failed));
  v1::TrainingJob running = store.GetJob("c", ids[3])->job;
  running.set_state(v1::RUNNING);
  ASSERT_OK(store.UpdateJob("c", running));

  absl::StatusOr<UnfinishedJobs> unfinished = store.ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  EXPECT_THAT(unfinished->unreadable, IsEmpty());
  ASSERT_EQ(unfinished->jobs.size(), 3u);
  EXPECT_EQ(unfinished->jobs[0].job.job_id(), ids[0]);
  EXPECT_EQ(unfinished->jobs[0].tenant, "b");
  EXPECT_EQ(unfinished->jobs[1].job.job_id(), ids[1]);
  EXPECT_EQ(unfinished->jobs[1].tenant, "a");
  EXPECT_EQ(unfinished->jobs[2].job.job_id(), ids[3]);
  EXPECT_EQ(unfinished->jobs[2].tenant, "c");
  EXPECT_EQ(unfinished->jobs[2].job.state(), v1::RUNNING);
  EXPECT_EQ(unfinished->jobs[2].request.examples_size(), 3);  // with requests
}

TEST_F(InMemoryProfileStoreTest, FailNextInjectsStatusesBeforeAnythingElse) {
  InMemoryProfileStore store(BaseOptions());
  store.FailNext(Op::kPublishProfile, absl::UnavailableError("disk full"), 2);
  EXPECT_EQ(store.pending_failures(Op::kPublishProfile), 2);
  EXPECT_THAT(store.PublishProfile("t", "p", TestPublish("x")),
              StatusIs(absl::StatusCode::kUnavailable, "disk full"));
  // Injected before validation too.
  EXPECT_THAT(store.PublishProfile("bad/tenant", "p", TestPublish("x")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(store.GetProfile("t", "p"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<v1::Profile> published = store.PublishProfile("t", "p", TestPublish("x"));
  ASSERT_OK(published);
  EXPECT_EQ(published->version(), 1u);
  EXPECT_EQ(store.pending_failures(Op::kPublishProfile), 0);
  EXPECT_EQ(store.calls(Op::kPublishProfile), 3);
  EXPECT_EQ(store.calls(Op::kGetProfile), 1);

  // Queued in order; an OK entry lets one call through.
  absl::StatusOr<v1::TrainingJob> job =
      store.CreateJob("t", TestTrainRequest("p"), v1::TrainingJob());
  ASSERT_OK(job);
  store.FailNext(Op::kGetJob, absl::OkStatus());
  store.FailNext(Op::kGetJob, absl::DeadlineExceededError("slow"));
  store.FailNext(Op::kGetJob, absl::InternalError("boom"));
  EXPECT_OK(store.GetJob("t", job->job_id()));
  EXPECT_THAT(store.GetJob("t", job->job_id()), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(store.GetJob("t", job->job_id()), StatusIs(absl::StatusCode::kInternal));
  EXPECT_OK(store.GetJob("t", job->job_id()));
  EXPECT_EQ(store.calls(Op::kGetJob), 4);

  // A failed UpdateJob changes nothing; other operations are unaffected.
  store.FailNext(Op::kUpdateJob, absl::UnavailableError("io"));
  v1::TrainingJob running = *job;
  running.set_state(v1::RUNNING);
  EXPECT_THAT(store.UpdateJob("t", running), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(store.GetJob("t", job->job_id())->job.state(), v1::QUEUED);
  EXPECT_EQ(store.UpdateJob("t", running)->state(), v1::RUNNING);

  store.FailNext(Op::kCreateJob, absl::UnavailableError("io"));
  EXPECT_THAT(store.CreateJob("t", TestTrainRequest("p"), v1::TrainingJob()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(store.ListJobs("t", {}, {})->jobs.size(), 1u);

  store.FailNext(Op::kGetProfile, absl::UnavailableError("io"), 3);
  store.ClearFailures();
  EXPECT_EQ(store.pending_failures(Op::kGetProfile), 0);
  EXPECT_OK(store.GetProfile("t", "p"));

  // times <= 0 queues nothing.
  store.FailNext(Op::kGetProfile, absl::UnavailableError("io"), 0);
  EXPECT_OK(store.GetProfile("t", "p"));
}

TEST_F(InMemoryProfileStoreTest, CallsCountEachOperationOnly) {
  InMemoryProfileStore store(BaseOptions());
  for (size_t i = 0; i < InMemoryProfileStore::kNumOperations; ++i) {
    EXPECT_EQ(store.calls(static_cast<Op>(i)), 0);
  }
  ASSERT_OK(store.PublishProfile("t", "p", TestPublish("x")));
  absl::StatusOr<ExportedProfile> exported = store.ExportProfile("t", "p");
  ASSERT_OK(exported);
  ASSERT_OK(store.ImportProfile("t", "q", exported->data, {}));
  EXPECT_THAT(store.GetProfile("t", "missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.CreateCheckpoint("/nonexistent/checkpoint"),
              StatusIs(absl::StatusCode::kUnimplemented));
  // Export and import do not count as GetProfile / PublishProfile calls.
  EXPECT_EQ(store.calls(Op::kPublishProfile), 1);
  EXPECT_EQ(store.calls(Op::kExportProfile), 1);
  EXPECT_EQ(store.calls(Op::kImportProfile), 1);
  EXPECT_EQ(store.calls(Op::kGetProfile), 1);  // failed calls count
  EXPECT_EQ(store.calls(Op::kCreateCheckpoint), 1);
  EXPECT_EQ(store.calls(Op::kListProfiles), 0);
  EXPECT_EQ(InMemoryProfileStore::OperationName(Op::kUpdateJob), "UpdateJob");
  store.ResetCalls();
  EXPECT_EQ(store.calls(Op::kPublishProfile), 0);
}

TEST(InMemoryProfileStoreConcurrencyTest, ConcurrentPublishesGetDistinctVersions) {
  InMemoryProfileStore store;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  absl::Mutex mu;
  std::set<uint64_t> versions;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<v1::Profile> p =
            store.PublishProfile("t", "shared", TestPublish(absl::StrCat(t, "/", i)));
        ASSERT_TRUE(p.ok()) << p.status();
        ASSERT_OK(store.PublishProfile("t", absl::StrCat("own-", t), TestPublish("x")));
        absl::MutexLock lock(&mu);
        versions.insert(p->version());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(versions.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*versions.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(store.GetProfile("t", "shared")->profile.version(),
            static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(*store.CountProfiles("t"), static_cast<uint64_t>(kThreads + 1));
  EXPECT_EQ(store.calls(Op::kPublishProfile), 2 * kThreads * kPerThread);
}

}  // namespace
}  // namespace maskserve
