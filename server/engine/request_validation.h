// File: server/engine/request_validation.h
//
// Validation of API requests against the configured limits, and their
// translation into engine inputs. Every error is INVALID_ARGUMENT naming
// the offending field, e.g. "inputs[3].text: empty" or
// "examples[12].label: 'spam' is not one of label_names".
//
// Thread safety: pure functions.
#ifndef MASKSERVE_SERVER_ENGINE_REQUEST_VALIDATION_H_
#define MASKSERVE_SERVER_ENGINE_REQUEST_VALIDATION_H_

#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/peft/serving_banks.h"
#include "core/training/profile_trainer.h"
#include "maskserve/v1/maskserve.pb.h"
#include "server/engine/engine_options.h"
#include "server/engine/prediction.h"

namespace maskserve {

// Non-empty, at most limits.max_text_bytes, valid UTF-8.
absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          const LimitsOptions& limits, bool allow_empty = false);

// At most limits.max_description_bytes of valid UTF-8 (may be empty).
absl::Status ValidateDescription(absl::string_view field, absl::string_view description,
                                 const LimitsOptions& limits);
// 2..limits.max_labels distinct, non-empty UTF-8 names of at most 256 bytes.
absl::Status ValidateLabelNames(absl::string_view field,
                                const google::protobuf::RepeatedPtrField<std::string>& labels,
                                const LimitsOptions& limits);

// A Predict call's profile id and inputs: INVALID_ARGUMENT naming
// "profile_id" or "inputs[i].text" / "inputs[i].text_pair".
absl::Status ValidatePredictInputs(const std::string& profile_id,
                                   const std::vector<TextInput>& inputs,
                                   const LimitsOptions& limits);
// A TrainProfile request's own fields against the limits: profile id,
// method, labels, examples, validation_fraction, head precision and the
// sequence-length limit. (The options' ranges and what they need from the
// banks are checked by PrepareTrainRequest.)
absl::Status ValidateTrainRequest(const v1::TrainProfileRequest& request,
                                  const LimitsOptions& limits);

// Resolves `request->shared_head` (if set) against the loaded heads (the
// rule is ServingBanks::ResolveSharedHead): fills in the head's labels when
// label_names is empty. INVALID_ARGUMENT naming "shared_head" or
// "label_names".
absl::Status ResolveSharedHead(const ServingBanks& banks, v1::TrainProfileRequest* request);

// Everything TrainProfile checks before a job is accepted, in order: the
// shared head, ValidateTrainRequest(), the options' ranges and what they
// need from the banks (FAILED_PRECONDITION when the method's bank is not
// loaded). Returns the request to store: its hyper_parameters and
// validation_fraction hold the resolved values, which the job reports and
// the trainer runs with.
absl::StatusOr<v1::TrainProfileRequest> PrepareTrainRequest(v1::TrainProfileRequest request,
                                                            const LimitsOptions& limits,
                                                            const ServingBanks& banks);

// The training budgets (LimitsOptions::max_train_tokens_per_step and
// _per_job) for resolved `options` over `num_examples`: INVALID_ARGUMENT
// naming hyper_parameters.batch_size or hyper_parameters.epochs and the flag.
absl::Status CheckTrainingBudget(const TrainingOptions& options, int64_t num_examples,
                                 const LimitsOptions& limits);

// An imported export: its metadata (what clients are told) must describe
// its decoded payload (what serves): method, labels, shared head, bank and
// sizes; labels and description within the limits. INVALID_ARGUMENT
// naming "data: ...".
absl::Status ValidateImportedProfile(const v1::Profile& metadata, const ProfileData& profile,
                                     size_t payload_bytes, const LimitsOptions& limits);

// The engine's options for a validated request (defaults for unset
// hyper-parameters; method-dependent defaults are resolved by the trainer).
TrainingOptions ToTrainingOptions(const v1::TrainProfileRequest& request);
// Examples with label indices into request.label_names().
std::vector<TrainingExample> ToTrainingExamples(const v1::TrainProfileRequest& request);
// The hyper-parameters actually used, for TrainingJob.hyper_parameters.
v1::HyperParameters ToHyperParameters(const TrainingOptions& options);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_REQUEST_VALIDATION_H_
