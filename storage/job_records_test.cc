#include "storage/job_records.h"

#include <gtest/gtest.h>

#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

TEST(JobRecordsTest, NewJobIsQueuedWithDerivedFields) {
  v1::TrainingJob initial;
  initial.set_total_epochs(20);
  initial.mutable_hyper_parameters()->set_epochs(20);
  v1::TrainingJob job = NewJob("01ARZ3NDEKTSV4RRFFQ69G5FAV", TestTrainRequest("p", 5), initial,
                               absl::FromUnixSeconds(100));
  EXPECT_EQ(job.state(), v1::QUEUED);
  EXPECT_EQ(job.profile_id(), "p");
  EXPECT_EQ(job.method(), v1::XPEFT_HARD);
  EXPECT_EQ(job.num_examples(), 5u);
  EXPECT_EQ(job.total_epochs(), 20u);
  EXPECT_EQ(job.hyper_parameters().epochs(), 20u);
  EXPECT_EQ(job.create_time().seconds(), 100);
  EXPECT_EQ(job.shared_head(), "");

  v1::TrainProfileRequest with_head = TestTrainRequest("p", 5);
  with_head.set_shared_head("news");
  EXPECT_EQ(NewJob("J2", with_head, initial, absl::FromUnixSeconds(100)).shared_head(), "news");
}

TEST(JobRecordsTest, TransitionRules) {
  v1::TrainingJob stored, update;
  stored.set_job_id("j");
  stored.set_state(v1::RUNNING);
  for (v1::JobState s : {v1::QUEUED, v1::RUNNING, v1::FAILED, v1::CANCELLED}) {
    update.set_state(s);
    EXPECT_OK(CheckJobUpdate(stored, update));
  }
  update.set_state(v1::SUCCEEDED);
  EXPECT_THAT(CheckJobUpdate(stored, update), StatusIs(absl::StatusCode::kFailedPrecondition));
  update.set_state(v1::JOB_STATE_UNSPECIFIED);
  EXPECT_THAT(CheckJobUpdate(stored, update),
              StatusIs(absl::StatusCode::kInvalidArgument, "state"));
  stored.set_state(v1::CANCELLED);
  update.set_state(v1::RUNNING);
  EXPECT_THAT(CheckJobUpdate(stored, update),
              StatusIs(absl::StatusCode::kFailedPrecondition, "already CANCELLED"));
  EXPECT_THAT(CheckJobCanFinish(stored, "p"), StatusIs(absl::StatusCode::kFailedPrecondition));
  stored.set_state(v1::QUEUED);
  stored.set_profile_id("p");
  EXPECT_OK(CheckJobCanFinish(stored, "p"));
  EXPECT_THAT(CheckJobCanFinish(stored, "q"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "trains profile \"p\""));
}

TEST(JobRecordsTest, ApplyKeepsFixedFieldsAndFinalDropsExamples) {
  storage::v1::JobRecord record;
  *record.mutable_request() = TestTrainRequest("p", 4);
  record.mutable_request()->set_shared_head("news");
  *record.mutable_job() = NewJob("J1", record.request(), {}, absl::FromUnixSeconds(10));
  v1::TrainingJob update;
  update.set_job_id("J1");
  update.set_profile_id("hijack");
  update.set_step(7);
  ApplyJobUpdate(update, v1::RUNNING, absl::FromUnixSeconds(20), &record);
  EXPECT_EQ(record.job().profile_id(), "p");
  EXPECT_EQ(record.job().shared_head(), "news");
  EXPECT_EQ(record.job().step(), 7u);
  EXPECT_EQ(record.job().start_time().seconds(), 20);
  EXPECT_EQ(record.job().create_time().seconds(), 10);
  EXPECT_EQ(record.request().examples_size(), 4);
  update.set_step(9);
  ApplyJobUpdate(update, v1::FAILED, absl::FromUnixSeconds(30), &record);
  EXPECT_EQ(record.job().state(), v1::FAILED);
  EXPECT_EQ(record.job().start_time().seconds(), 20);
  EXPECT_EQ(record.job().end_time().seconds(), 30);
  EXPECT_EQ(record.job().num_examples(), 4u);
  EXPECT_EQ(record.request().examples_size(), 0);
  EXPECT_EQ(record.request().label_names_size(), 2);
}

TEST(JobRecordsTest, BaseVersionIsFixedAndACancelRequestIsNeverUndone) {
  storage::v1::JobRecord record;
  *record.mutable_request() = TestTrainRequest("p", 4);
  v1::TrainingJob initial;
  initial.set_base_version(3);
  *record.mutable_job() = NewJob("J1", record.request(), initial, absl::FromUnixSeconds(10));
  EXPECT_EQ(record.job().base_version(), 3u);
  v1::TrainingJob update = record.job();
  update.set_base_version(9);
  update.set_cancel_requested(true);
  update.set_attempts(1);
  ApplyJobUpdate(update, v1::RUNNING, absl::FromUnixSeconds(20), &record);
  EXPECT_EQ(record.job().base_version(), 3u);
  EXPECT_TRUE(record.job().cancel_requested());
  update.set_cancel_requested(false);  // a progress write from before the cancel
  ApplyJobUpdate(update, v1::RUNNING, absl::FromUnixSeconds(21), &record);
  EXPECT_TRUE(record.job().cancel_requested());
  EXPECT_EQ(record.job().attempts(), 1u);

  *record.mutable_job() = NewJob("J2", record.request(), {}, absl::FromUnixSeconds(10));
  EXPECT_FALSE(record.job().has_base_version());
}

}  // namespace
}  // namespace maskserve
