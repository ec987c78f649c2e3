// RocksDbProfileStore: training jobs, and publishing a profile together with
// finishing its job.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "storage/job_id.h"
#include "storage/testing/store_fixture.h"

namespace maskserve {
namespace {

using absl::StatusCode;

class StoreJobsTest : public StoreFixture {
 protected:
  std::string Create(const std::string& tenant, const std::string& profile_id, int examples = 3) {
    Advance(absl::Milliseconds(1));
    absl::StatusOr<v1::TrainingJob> job =
        store().CreateJob(tenant, TestTrainRequest(profile_id, examples), {});
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? job->job_id() : "";
  }
  v1::TrainingJob Status(const std::string& job_id, v1::JobState state) {
    v1::TrainingJob job;
    job.set_job_id(job_id);
    job.set_state(state);
    return job;
  }
};

TEST_F(StoreJobsTest, CreateKeepsTheRequestUntilTheJobEnds) {
  v1::TrainingJob initial;
  initial.set_total_epochs(20);
  absl::StatusOr<v1::TrainingJob> job = store().CreateJob("t", TestTrainRequest("p", 7), initial);
  ASSERT_OK(job);
  EXPECT_OK(ValidateJobId(job->job_id()));
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_EQ(job->num_examples(), 7u);
  EXPECT_EQ(job->total_epochs(), 20u);
  Reopen();
  absl::StatusOr<StoredJob> stored = store().GetJob("t", job->job_id());
  ASSERT_OK(stored);
  EXPECT_EQ(stored->tenant, "t");
  EXPECT_EQ(stored->request.examples_size(), 7);
  EXPECT_EQ(stored->job.SerializeAsString(), job->SerializeAsString());
  EXPECT_THAT(store().GetJob("other", job->job_id()), StatusIs(StatusCode::kNotFound, "job_id"));
  EXPECT_THAT(store().GetJob("t", "not-a-job-id"),
              StatusIs(StatusCode::kInvalidArgument, "job_id"));
  EXPECT_THAT(store().CreateJob("t", TestTrainRequest("bad/id"), {}),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
}

TEST_F(StoreJobsTest, UpdatesRecordProgressAndFinalStatesDropExamples) {
  std::string id = Create("t", "p");
  v1::TrainingJob running = Status(id, v1::RUNNING);
  running.set_epoch(2);
  running.set_step(40);
  running.set_profile_id("hijack");
  absl::StatusOr<v1::TrainingJob> updated = store().UpdateJob("t", running);
  ASSERT_OK(updated);
  EXPECT_EQ(updated->profile_id(), "p");
  EXPECT_EQ(updated->step(), 40u);
  EXPECT_TRUE(updated->has_start_time());
  EXPECT_THAT(store().UpdateJob("t", Status(id, v1::SUCCEEDED)),
              StatusIs(StatusCode::kFailedPrecondition, "finished_job"));
  v1::TrainingJob failed = Status(id, v1::FAILED);
  failed.set_error("out of memory");
  ASSERT_OK(store().UpdateJob("t", failed));
  Reopen();
  absl::StatusOr<StoredJob> stored = store().GetJob("t", id);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->job.state(), v1::FAILED);
  EXPECT_EQ(stored->job.error(), "out of memory");
  EXPECT_EQ(stored->job.num_examples(), 3u);
  EXPECT_TRUE(stored->job.has_end_time());
  EXPECT_EQ(stored->request.examples_size(), 0);
  EXPECT_THAT(store().UpdateJob("t", Status(id, v1::RUNNING)),
              StatusIs(StatusCode::kFailedPrecondition, "already FAILED"));
  EXPECT_THAT(store().UpdateJob("t", Status("01ARZ3NDEKTSV4RRFFQ69G5FAV", v1::RUNNING)),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(StoreJobsTest, PublishingFinishesTheJobAtomically) {
  std::string id = Create("t", "p", 5);
  v1::TrainingJob done = Status(id, v1::RUNNING);
  done.mutable_best_validation()->set_accuracy(0.9f);
  PublishProfileRequest publish = TestPublish("trained");
  publish.finished_job = done;
  absl::StatusOr<v1::Profile> profile = store().PublishProfile("t", "p", publish);
  ASSERT_OK(profile);
  EXPECT_EQ(profile->training_job_id(), id);
  Reopen();
  absl::StatusOr<StoredJob> job = store().GetJob("t", id);
  ASSERT_OK(job);
  EXPECT_EQ(job->job.state(), v1::SUCCEEDED);
  EXPECT_EQ(job->job.published_version(), 1u);
  EXPECT_FLOAT_EQ(job->job.best_validation().accuracy(), 0.9f);
  EXPECT_EQ(job->request.examples_size(), 0);
  EXPECT_TRUE(store().ListUnfinishedJobs()->jobs.empty());

  // A finished job cannot publish again, and nothing is published then.
  publish.payload = "again";
  EXPECT_THAT(store().PublishProfile("t", "p", publish),
              StatusIs(StatusCode::kFailedPrecondition, "already SUCCEEDED"));
  EXPECT_EQ(store().GetProfile("t", "p")->payload, "trained");
  // A job for another profile, or an unknown job, publishes nothing.
  std::string other = Create("t", "q");
  publish.finished_job = Status(other, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p", publish),
              StatusIs(StatusCode::kFailedPrecondition, "trains profile \"q\""));
  publish.finished_job = Status("01ARZ3NDEKTSV4RRFFQ69G5FAV", v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p", publish), StatusIs(StatusCode::kNotFound));
  publish.finished_job = Status(other, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("u", "q", publish), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(store().GetProfile("t", "p")->profile.version(), 1u);
  EXPECT_THAT(store().GetProfile("t", "q"), StatusIs(StatusCode::kNotFound));
  // A failed CAS publishes nothing and leaves the job running.
  publish.finished_job = Status(other, v1::RUNNING);
  publish.expected_version = 3;
  EXPECT_THAT(store().PublishProfile("t", "q", publish), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(store().GetJob("t", other)->job.state(), v1::QUEUED);
  EXPECT_EQ(store().GetJob("t", other)->request.examples_size(), 3);
}

TEST_F(StoreJobsTest, ListsNewestFirstWithFiltersAndPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(Create("t", i % 3 == 0 ? "a" : "b"));
  Create("u", "a");
  ASSERT_OK(store().UpdateJob("t", Status(ids[4], v1::CANCELLED)));
  ASSERT_OK(store().UpdateJob("t", Status(ids[5], v1::RUNNING)));

  std::vector<std::string> seen;
  PageRequest page;
  page.page_size = 5;
  int pages = 0;
  do {
    absl::StatusOr<ListJobsResult> result = store().ListJobs("t", {}, page);
    ASSERT_OK(result);
    for (const v1::TrainingJob& job : result->jobs) seen.push_back(job.job_id());
    page.page_token = result->next_page_token;
    ++pages;
  } while (!page.page_token.empty() && pages < 10);
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));
  EXPECT_EQ(pages, 3);

  JobFilter by_profile;
  by_profile.profile_id = "a";
  absl::StatusOr<ListJobsResult> a = store().ListJobs("t", by_profile, {});
  ASSERT_OK(a);
  EXPECT_EQ(a->jobs.size(), 4u);
  for (const v1::TrainingJob& job : a->jobs) EXPECT_EQ(job.profile_id(), "a");

  JobFilter by_state;
  by_state.states = {v1::CANCELLED, v1::RUNNING};
  absl::StatusOr<ListJobsResult> s = store().ListJobs("t", by_state, {});
  ASSERT_OK(s);
  ASSERT_EQ(s->jobs.size(), 2u);
  EXPECT_EQ(s->jobs[0].job_id(), ids[5]);
  EXPECT_EQ(s->jobs[1].job_id(), ids[4]);
  by_profile.profile_id = "bad/id";
  EXPECT_THAT(store().ListJobs("t", by_profile, {}),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_EQ(store().ListJobs("u", {}, {})->jobs.size(), 1u);
}

TEST_F(StoreJobsTest, UnfinishedJobsOfEveryTenantAreFoundAfterReopen) {
  std::string a = Create("t1", "p", 4);
  std::string b = Create("t2", "p", 2);
  std::string c = Create("t1", "q");
  std::string d = Create("t3", "r");
  ASSERT_OK(store().UpdateJob("t1", Status(a, v1::RUNNING)));
  ASSERT_OK(store().UpdateJob("t1", Status(c, v1::CANCELLED)));
  PublishProfileRequest publish = TestPublish("x");
  publish.finished_job = Status(d, v1::RUNNING);
  ASSERT_OK(store().PublishProfile("t3", "r", publish));
  Reopen();
  absl::StatusOr<UnfinishedJobs> unfinished = store().ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  EXPECT_TRUE(unfinished->unreadable.empty());
  ASSERT_EQ(unfinished->jobs.size(), 2u);
  EXPECT_EQ(unfinished->jobs[0].job.job_id(), a);  // oldest first
  EXPECT_EQ(unfinished->jobs[0].tenant, "t1");
  EXPECT_EQ(unfinished->jobs[0].job.state(), v1::RUNNING);
  EXPECT_EQ(unfinished->jobs[0].request.examples_size(), 4);
  EXPECT_EQ(unfinished->jobs[1].job.job_id(), b);
  EXPECT_EQ(unfinished->jobs[1].tenant, "t2");
  // Re-queue a running job after a restart.
  ASSERT_OK(store().UpdateJob("t1", Status(a, v1::QUEUED)));
  EXPECT_EQ(store().ListUnfinishedJobs()->jobs.size(), 2u);
}

}  // namespace
}  // namespace maskserve
