// File: storage/job_records.h
//
// The rules of a training job's life in the store, as pure functions over
// records: what a new job looks like, which updates are allowed, and what
// finishing does (final state, end time, examples dropped). The store applies
// them under the tenant's lock and writes the result atomically.
//
//   QUEUED -> RUNNING -> SUCCEEDED (only with a profile publication)
//        \          \--> FAILED | CANCELLED
//         \-----------> FAILED | CANCELLED
//   A final state is never left. QUEUED <-> RUNNING moves are allowed (the
//   server re-queues jobs that were running when it stopped).
//
//   v1::TrainingJob job = NewJob(ids.Next(), request, initial, absl::Now());
//   absl::Status ok = CheckJobUpdate(stored.job(), update);
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_JOB_RECORDS_H_
#define MASKSERVE_STORAGE_JOB_RECORDS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "maskserve/storage/v1/records.pb.h"
#include "maskserve/v1/maskserve.pb.h"
#include "proto/job_state.h"

namespace maskserve {

// A QUEUED job for `request`: id, profile_id, method, shared_head,
// num_examples and create_time derived; hyper_parameters, total_epochs and
// base_version taken from `initial`.
v1::TrainingJob NewJob(std::string job_id, const v1::TrainProfileRequest& request,
                       const v1::TrainingJob& initial, absl::Time now);

// FAILED_PRECONDITION ("job_id: job \"..\" is already CANCELLED") when
// `stored` is in a final state.
absl::Status CheckJobNotFinal(const v1::TrainingJob& stored);

// OK if `stored` may take `update` through UpdateJob: not final yet, and the
// new state is QUEUED, RUNNING, FAILED or CANCELLED.
absl::Status CheckJobUpdate(const v1::TrainingJob& stored, const v1::TrainingJob& update);

// OK if `stored` may be finished by publishing `profile_id`.
absl::Status CheckJobCanFinish(const v1::TrainingJob& stored, std::string_view profile_id);

// Replaces record->job with `update` in state `state`, keeping the fields
// fixed at creation (job_id, profile_id, method, shared_head, num_examples,
// base_version, create_time) and any start_time/hyper_parameters the update
// leaves unset. cancel_requested, once set, stays set.
// A final state sets end_time (if unset) and drops record->request's
// examples.
void ApplyJobUpdate(const v1::TrainingJob& update, v1::JobState state, absl::Time now,
                    storage::v1::JobRecord* record);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_JOB_RECORDS_H_
