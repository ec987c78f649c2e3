// File: clients/maskctl/format.h
//
// Human-readable renderings of API messages for maskctl's non-JSON output,
// and the parsers of enum-valued flags. Kept apart from the commands so that
// they can be unit tested without a server.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CLIENTS_MASKCTL_FORMAT_H_
#define MASKSERVE_CLIENTS_MASKCTL_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "maskserve/v1/maskserve.pb.h"
#include "proto/job_state.h"

namespace maskserve {
namespace maskctl {

// "XPEFT_HARD", "xpeft-hard" or "xpeft_hard" -> XPEFT_HARD. Refuses
// METHOD_UNSPECIFIED and unknown names, listing the valid ones.
absl::StatusOr<v1::Method> ParseMethod(absl::string_view name);

// "int8", "FP16" or "HEAD_PRECISION_INT8" -> the HeadPrecision; empty ->
// HEAD_PRECISION_UNSPECIFIED (the server's default). Refuses unknown names,
// listing the valid ones.
absl::StatusOr<v1::HeadPrecision> ParseHeadPrecision(absl::string_view name);

// "running,queued" -> {RUNNING, QUEUED}; empty -> {}.
absl::StatusOr<std::vector<v1::JobState>> ParseJobStates(absl::string_view list);

// One progress line of a job, e.g.
//   "RUNNING  epoch 3/20  step 12/80  loss 0.6931  val_acc 0.7500  best 0.8000"
// (validation columns only once a validation split has been evaluated).
std::string JobProgressLine(const v1::TrainingJob& job);

// "epoch 3/20 step 12/80" or "-" when nothing ran yet.
std::string JobProgress(const v1::TrainingJob& job);

// "2024-05-01 12:00:03Z" (UTC), or "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& time);

// The `get` output: one "key  value" line per field.
std::string ProfileDetails(const v1::Profile& profile);

// Fixed-width table: the first row is the header; columns are padded to the
// widest cell and separated by two spaces. The last column is not padded.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// "0.8500" (4 decimals).
std::string FormatFloat(double value);

}  // namespace maskctl
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_MASKCTL_FORMAT_H_
