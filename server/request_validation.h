// File: server/request_validation.h
//
// Validation of API requests against the configured limits, and their
// translation into engine inputs. Every error is INVALID_ARGUMENT naming
// the offending field, e.g. "inputs[3].text: empty" or
// "examples[12].label: 'spam' is not one of label_names".
//
// Thread safety: pure functions.
#ifndef MASKSERVE_SERVER_REQUEST_VALIDATION_H_
#define MASKSERVE_SERVER_REQUEST_VALIDATION_H_

#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/peft/shared_heads.h"
#include "core/training/profile_trainer.h"
#include "maskserve/v1/maskserve.pb.h"
#include "server/server_options.h"

namespace maskserve {

// Non-empty, at most limits.max_text_bytes, valid UTF-8.
absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          const LimitsOptions& limits, bool allow_empty = false);

absl::Status ValidatePredictRequest(const v1::PredictRequest& request, const LimitsOptions& limits);
absl::Status ValidateTrainRequest(const v1::TrainProfileRequest& request,
                                  const LimitsOptions& limits);

// Resolves `request->shared_head` (if set) against the loaded `heads` (null:
// none is loaded), before ValidateTrainRequest: checks the name, that such a
// head is loaded and that the method can use one (not HEAD_ONLY); fills in
// the head's labels when label_names is empty, and otherwise requires them
// to equal the head's, in order. INVALID_ARGUMENT naming "shared_head" or
// "label_names".
absl::Status ResolveSharedHead(const SharedHeadSet* heads, v1::TrainProfileRequest* request);

// The engine's options for a validated request (defaults for unset
// hyper-parameters; method-dependent defaults are resolved by the trainer).
TrainingOptions ToTrainingOptions(const v1::TrainProfileRequest& request);
// Examples with label indices into request.label_names().
std::vector<TrainingExample> ToTrainingExamples(const v1::TrainProfileRequest& request);
// The hyper-parameters actually used, for TrainingJob.hyper_parameters.
v1::HyperParameters ToHyperParameters(const TrainingOptions& options);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_REQUEST_VALIDATION_H_
