// RocksDbProfileStore: job listing details beyond the shared contract
// (storage/profile_store_contract_test.cc runs the job contract itself on
// every store).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace maskserve
