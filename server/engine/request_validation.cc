#include "server/engine/request_validation.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/utf8.h"
#include "core/profile/profile_codec.h"
#include "server/engine/engine_errors.h"
#include "storage/ids.h"
#include "storage/status_macros.h"

namespace maskserve {

namespace {

std::string Index(absl::string_view field, int i) { return absl::StrCat(field, "[", i, "]"); }

}  // namespace

absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          const LimitsOptions& limits, bool allow_empty) {
  if (text.empty()) {
    if (allow_empty) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  }
  if (text.size() > limits.max_text_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", text.size(), " bytes, the limit is ", limits.max_text_bytes));
  }
  const size_t bad = InvalidUtf8At(std::string_view(text.data(), text.size()));
  if (bad != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": invalid UTF-8 at byte ", bad));
  }
  return absl::OkStatus();
}

absl::Status ValidateDescription(absl::string_view field, absl::string_view description,
                                 const LimitsOptions& limits) {
  if (description.size() > limits.max_description_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", description.size(), " bytes, the limit is ", limits.max_description_bytes));
  }
  const size_t bad = InvalidUtf8At(std::string_view(description.data(), description.size()));
  if (bad != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": invalid UTF-8 at byte ", bad));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelNames(absl::string_view field,
                                const google::protobuf::RepeatedPtrField<std::string>& labels,
                                const LimitsOptions& limits) {
  if (labels.size() < 2 || uint32_t(labels.size()) > limits.max_labels) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected 2..", limits.max_labels, " labels, got ", labels.size()));
  }
  std::set<std::string> seen;
  for (int i = 0; i < labels.size(); ++i) {
    const std::string name = Index(field, i);
    MASKSERVE_RETURN_IF_ERROR(ValidateText(name, labels[i], limits));
    if (labels[i].size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": longer than 256 bytes"));
    }
    if (!seen.insert(labels[i]).second) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": duplicate label '", labels[i], "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePredictInputs(const std::string& profile_id,
                                   const std::vector<TextInput>& inputs,
                                   const LimitsOptions& limits) {
  absl::Status id = ValidateProfileId(profile_id);
  if (!id.ok()) return id;
  if (inputs.empty()) return absl::InvalidArgumentError("inputs: at least one input");
  if (inputs.size() > limits.max_inputs_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs: ", inputs.size(), " inputs, the limit is ", limits.max_inputs_per_request));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string field = Index("inputs", int(i));
    absl::Status s = ValidateText(field + ".text", inputs[i].text, limits);
    if (!s.ok()) return s;
    s = ValidateText(field + ".text_pair", inputs[i].text_pair, limits, true);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateTrainRequest(const v1::TrainProfileRequest& request,
                                  const LimitsOptions& limits) {
  absl::Status id = ValidateProfileId(request.profile_id());
  if (!id.ok()) return id;
  if (request.method() == v1::METHOD_UNSPECIFIED || !v1::Method_IsValid(request.method())) {
    return absl::InvalidArgumentError(
        "method: must be one of XPEFT_HARD, XPEFT_SOFT, PROPETL_LAYER, PROPETL_HYBRID, "
        "HEAD_ONLY, ADAPTER");
  }
  MASKSERVE_RETURN_IF_ERROR(ValidateLabelNames("label_names", request.label_names(), limits));
  const std::set<std::string> labels(request.label_names().begin(), request.label_names().end());
  if (request.examples().empty()) {
    return absl::InvalidArgumentError("examples: at least one example");
  }
  if (uint32_t(request.examples_size()) > limits.max_examples_per_job) {
    return absl::InvalidArgumentError(absl::StrCat("examples: ", request.examples_size(),
                                                   " examples, the limit is ",
                                                   limits.max_examples_per_job));
  }
  for (int i = 0; i < request.examples_size(); ++i) {
    const v1::TrainingExample& e = request.examples(i);
    const std::string field = Index("examples", i);
    absl::Status s = ValidateText(field + ".text", e.text(), limits);
    if (!s.ok()) return s;
    s = ValidateText(field + ".text_pair", e.text_pair(), limits, true);
    if (!s.ok()) return s;
    if (!labels.count(e.label())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".label: '", e.label(), "' is not one of label_names"));
    }
  }
  MASKSERVE_RETURN_IF_ERROR(ValidateDescription("description", request.description(), limits));
  if (request.has_validation_fraction() &&
      !(request.validation_fraction() >= 0 && request.validation_fraction() <= 0.5)) {
    return absl::InvalidArgumentError("validation_fraction: must be in [0, 0.5]");
  }
  const v1::HyperParameters& h = request.hyper_parameters();
  if (!v1::HeadPrecision_IsValid(h.head_precision())) {
    return absl::InvalidArgumentError(
        absl::StrCat("hyper_parameters.head_precision: unknown value ", h.head_precision(),
                     "; expected HEAD_PRECISION_FP16 or HEAD_PRECISION_INT8"));
  }
  if (h.has_max_sequence_length() && h.max_sequence_length() > limits.max_sequence_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hyper_parameters.max_sequence_length: the limit is ", limits.max_sequence_length));
  }
  // The options' ranges are TrainingOptions::Validate's (PrepareTrainRequest).
  return absl::OkStatus();
}

absl::Status ResolveSharedHead(const ServingBanks& banks, v1::TrainProfileRequest* request) {
  // An unknown method is ValidateTrainRequest's to name.
  if (request->shared_head().empty() || !v1::Method_IsValid(request->method())) {
    return absl::OkStatus();
  }
  const std::vector<std::string> labels(request->label_names().begin(),
                                        request->label_names().end());
  const SharedHead* head = nullptr;
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    head = banks.ResolveSharedHead(request->shared_head(), static_cast<Method>(request->method()),
                                   labels);
    return absl::OkStatus();
  }));
  if (labels.empty()) {
    for (const std::string& label : head->labels) request->add_label_names(label);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TrainProfileRequest> PrepareTrainRequest(v1::TrainProfileRequest request,
                                                            const LimitsOptions& limits,
                                                            const ServingBanks& banks) {
  MASKSERVE_RETURN_IF_ERROR(ResolveSharedHead(banks, &request));
  MASKSERVE_RETURN_IF_ERROR(ValidateTrainRequest(request, limits));
  TrainingOptions options = ToTrainingOptions(request);
  options.max_sequence_length =
      std::min<int64_t>(options.max_sequence_length, limits.max_sequence_length);
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    options.ResolveDefaults(banks, request.examples_size());
    options.Validate(banks);
    return absl::OkStatus();
  }));
  MASKSERVE_RETURN_IF_ERROR(CheckTrainingBudget(options, request.examples_size(), limits));
  // What is stored is what runs: the resolved values, read back as they are.
  *request.mutable_hyper_parameters() = ToHyperParameters(options);
  request.set_validation_fraction(options.validation_fraction);
  return request;
}

absl::Status CheckTrainingBudget(const TrainingOptions& options, int64_t num_examples,
                                 const LimitsOptions& limits) {
  const uint64_t length = uint64_t(options.max_sequence_length);
  const uint64_t per_step = uint64_t(options.batch_size) * length;
  if (per_step > limits.max_train_tokens_per_step) {
    return absl::InvalidArgumentError(
        absl::StrCat("hyper_parameters.batch_size: ", options.batch_size, " sequences of up to ",
                     length, " tokens is ", per_step, " tokens per step; the server's budget is ",
                     limits.max_train_tokens_per_step,
                     " (--max_train_tokens_per_step): lower batch_size or max_sequence_length"));
  }
  // HEAD_ONLY encodes its examples once; the others every epoch, plus the
  // evaluations.
  const uint64_t passes = options.method == Method::kHeadOnly ? 1 : uint64_t(options.epochs) + 1;
  const uint64_t work = uint64_t(num_examples) * length * passes;
  if (work > limits.max_train_tokens_per_job) {
    return absl::InvalidArgumentError(
        absl::StrCat("hyper_parameters.epochs: ", num_examples, " examples x ", length,
                     " tokens x ", passes, " passes is ", work,
                     " tokens; the server's budget per job is ", limits.max_train_tokens_per_job,
                     " (--max_train_tokens_per_job): use fewer examples or epochs"));
  }
  return absl::OkStatus();
}

absl::Status ValidateImportedProfile(const v1::Profile& metadata, const ProfileData& profile,
                                     size_t payload_bytes, const LimitsOptions& limits) {
  MASKSERVE_RETURN_IF_ERROR(
      ValidateLabelNames("data: label_names", metadata.label_names(), limits));
  MASKSERVE_RETURN_IF_ERROR(
      ValidateDescription("data: description", metadata.description(), limits));
  // The metadata is what clients are told about the profile; the payload
  // is what serves. They must describe the same profile.
  auto disagree = [](absl::string_view what, const std::string& said, const std::string& is) {
    return absl::InvalidArgumentError(absl::StrCat("data: the export's metadata says ", what, " ",
                                                   said, ", its payload has ", is));
  };
  if (int(metadata.method()) != int(profile.method)) {
    return disagree("method", v1::Method_Name(metadata.method()), MethodName(profile.method));
  }
  const std::vector<std::string> labels(metadata.label_names().begin(),
                                        metadata.label_names().end());
  if (labels != profile.labels) {
    return disagree("labels", absl::StrJoin(labels, ","), absl::StrJoin(profile.labels, ","));
  }
  if (metadata.shared_head() != profile.shared_head) {
    return disagree("shared_head", "'" + metadata.shared_head() + "'",
                    "'" + profile.shared_head + "'");
  }
  if (metadata.bank_fingerprint() != profile.bank_fingerprint) {
    return disagree("bank_fingerprint", "'" + metadata.bank_fingerprint() + "'",
                    "'" + profile.bank_fingerprint + "'");
  }
  const ProfileBytes size = MeasureProfile(profile, payload_bytes);
  const v1::ProfileSize& said = metadata.size();
  if (said.mask_bytes() != size.masks || said.head_bytes() != size.head ||
      said.metadata_bytes() != size.metadata || said.total_bytes() != size.total) {
    return disagree("sizes (masks/head/metadata/total)",
                    absl::StrCat(said.mask_bytes(), "/", said.head_bytes(), "/",
                                 said.metadata_bytes(), "/", said.total_bytes()),
                    absl::StrCat(size.masks, "/", size.head, "/", size.metadata, "/", size.total));
  }
  return absl::OkStatus();
}

TrainingOptions ToTrainingOptions(const v1::TrainProfileRequest& request) {
  TrainingOptions o;
  o.method = static_cast<Method>(request.method());
  const v1::HyperParameters& h = request.hyper_parameters();
  // In TrainingOptions 0 means "the default"; an explicit 0 is out of range
  // (-1 makes Validate() name the field).
  auto explicit_value = [](double v) { return v == 0 ? -1.0 : v; };
  if (h.has_epochs()) o.epochs = int64_t(explicit_value(h.epochs()));
  if (h.has_batch_size()) o.batch_size = int64_t(explicit_value(h.batch_size()));
  if (h.has_mask_learning_rate()) o.mask_learning_rate = explicit_value(h.mask_learning_rate());
  if (h.has_head_learning_rate()) o.head_learning_rate = explicit_value(h.head_learning_rate());
  if (h.has_weight_decay()) o.weight_decay = h.weight_decay();
  if (h.has_warmup_fraction()) o.warmup_fraction = h.warmup_fraction();
  if (h.has_max_sequence_length()) o.max_sequence_length = h.max_sequence_length();
  if (h.has_early_stopping_patience()) o.early_stopping_patience = h.early_stopping_patience();
  if (h.has_xpeft_top_k()) o.xpeft_top_k = int64_t(explicit_value(h.xpeft_top_k()));
  if (h.has_gumbel_noise_start()) o.gumbel_noise_start = h.gumbel_noise_start();
  if (h.has_gumbel_noise_end()) o.gumbel_noise_end = h.gumbel_noise_end();
  if (h.has_temperature_start()) o.temperature_start = h.temperature_start();
  if (h.has_temperature_end()) o.temperature_end = h.temperature_end();
  if (h.has_propetl_keep_fraction()) o.propetl_keep_fraction = h.propetl_keep_fraction();
  o.head_int8 = h.head_precision() == v1::HEAD_PRECISION_INT8;
  o.shared_head = request.shared_head();
  if (request.has_validation_fraction()) o.validation_fraction = request.validation_fraction();
  o.seed = request.seed();
  return o;
}

std::vector<TrainingExample> ToTrainingExamples(const v1::TrainProfileRequest& request) {
  std::map<std::string, int64_t> index;
  for (int i = 0; i < request.label_names_size(); ++i) index[request.label_names(i)] = i;
  std::vector<TrainingExample> out;
  out.reserve(size_t(request.examples_size()));
  for (const v1::TrainingExample& e : request.examples()) {
    out.push_back({e.text(), e.text_pair(), index.at(e.label())});
  }
  return out;
}

v1::HyperParameters ToHyperParameters(const TrainingOptions& o) {
  v1::HyperParameters h;
  h.set_epochs(uint32_t(o.epochs));
  h.set_batch_size(uint32_t(o.batch_size));
  h.set_mask_learning_rate(float(o.mask_learning_rate));
  h.set_head_learning_rate(float(o.head_learning_rate));
  h.set_weight_decay(float(o.weight_decay));
  h.set_warmup_fraction(float(o.warmup_fraction));
  h.set_max_sequence_length(uint32_t(o.max_sequence_length));
  h.set_early_stopping_patience(uint32_t(o.early_stopping_patience));
  if (IsXpeft(o.method)) {
    h.set_xpeft_top_k(uint32_t(o.xpeft_top_k));
    h.set_gumbel_noise_start(float(o.gumbel_noise_start));
    h.set_gumbel_noise_end(float(o.gumbel_noise_end));
    h.set_temperature_start(float(o.temperature_start));
    h.set_temperature_end(float(o.temperature_end));
  }
  if (IsPropetl(o.method)) h.set_propetl_keep_fraction(float(o.propetl_keep_fraction));
  h.set_head_precision(o.head_int8 ? v1::HEAD_PRECISION_INT8 : v1::HEAD_PRECISION_FP16);
  return h;
}

}  // namespace maskserve
