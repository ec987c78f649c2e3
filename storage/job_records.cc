#include "storage/job_records.h"

#include <utility>

#include "storage/absl_compat.h"

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"
#include "storage/time_util.h"

namespace maskserve {
namespace {

std::string Quoted(std::string_view id) { return absl::StrCat("\"", Sv(id), "\""); }

}  // namespace

v1::TrainingJob NewJob(std::string job_id, const v1::TrainProfileRequest& request,
                       const v1::TrainingJob& initial, absl::Time now) {
  v1::TrainingJob job;
  job.set_job_id(std::move(job_id));
  job.set_profile_id(request.profile_id());
  job.set_method(request.method());
  job.set_state(v1::QUEUED);
  job.set_num_examples(static_cast<uint32_t>(request.examples_size()));
  job.set_shared_head(request.shared_head());
  job.set_total_epochs(initial.total_epochs());
  if (initial.has_base_version()) job.set_base_version(initial.base_version());
  *job.mutable_hyper_parameters() =
      initial.has_hyper_parameters() ? initial.hyper_parameters() : request.hyper_parameters();
  SetTimestamp(now, job.mutable_create_time());
  return job;
}

absl::Status CheckJobNotFinal(const v1::TrainingJob& stored) {
  if (IsFinalJobState(stored.state())) {
    return absl::FailedPreconditionError(absl::StrCat("job_id: job ", Quoted(stored.job_id()),
                                                      " is already ",
                                                      v1::JobState_Name(stored.state())));
  }
  return absl::OkStatus();
}

absl::Status CheckJobUpdate(const v1::TrainingJob& stored, const v1::TrainingJob& update) {
  MASKSERVE_RETURN_IF_ERROR(CheckJobNotFinal(stored));
  switch (update.state()) {
    case v1::QUEUED:
    case v1::RUNNING:
    case v1::FAILED:
    case v1::CANCELLED:
      return absl::OkStatus();
    case v1::SUCCEEDED:
      return absl::FailedPreconditionError(
          "state: SUCCEEDED is recorded by publishing the profile with finished_job");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("state: must be QUEUED, RUNNING, FAILED or CANCELLED, not ",
                       static_cast<int>(update.state())));
  }
}

absl::Status CheckJobCanFinish(const v1::TrainingJob& stored, std::string_view profile_id) {
  if (IsFinalJobState(stored.state())) {
    return absl::FailedPreconditionError(absl::StrCat("finished_job: job ", Quoted(stored.job_id()),
                                                      " is already ",
                                                      v1::JobState_Name(stored.state())));
  }
  if (stored.profile_id() != profile_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("finished_job: job ", Quoted(stored.job_id()), " trains profile ",
                     Quoted(stored.profile_id()), ", not ", Quoted(profile_id)));
  }
  return absl::OkStatus();
}

void ApplyJobUpdate(const v1::TrainingJob& update, v1::JobState state, absl::Time now,
                    storage::v1::JobRecord* record) {
  v1::TrainingJob stored = std::move(*record->mutable_job());
  v1::TrainingJob& job = *record->mutable_job();
  job = update;
  job.set_job_id(stored.job_id());
  job.set_profile_id(stored.profile_id());
  job.set_method(stored.method());
  job.set_shared_head(stored.shared_head());
  job.set_num_examples(stored.num_examples());
  if (stored.has_base_version()) {
    job.set_base_version(stored.base_version());
  } else {
    job.clear_base_version();
  }
  *job.mutable_create_time() = stored.create_time();
  // A requested cancellation is never undone.
  job.set_cancel_requested(update.cancel_requested() || stored.cancel_requested());
  if (!job.has_start_time() && stored.has_start_time()) {
    *job.mutable_start_time() = stored.start_time();
  }
  if (!job.has_hyper_parameters() && stored.has_hyper_parameters()) {
    *job.mutable_hyper_parameters() = stored.hyper_parameters();
  }
  job.set_state(state);
  if (state == v1::RUNNING && !job.has_start_time()) SetTimestamp(now, job.mutable_start_time());
  if (IsFinalJobState(state)) {
    if (!job.has_end_time()) SetTimestamp(now, job.mutable_end_time());
    record->mutable_request()->clear_examples();
  }
}

}  // namespace maskserve
