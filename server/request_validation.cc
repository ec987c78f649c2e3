#include "server/request_validation.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/ids.h"

namespace maskserve {

namespace {

// Index of the first byte of an invalid UTF-8 sequence, or npos.
size_t InvalidUtf8At(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else
      return i;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return i;
    }
    i += n + 1;
  }
  return absl::string_view::npos;
}

std::string Index(absl::string_view field, int i) { return absl::StrCat(field, "[", i, "]"); }

// "loaded: a, b" or "this server has none", for error messages.
std::string LoadedHeadNames(const SharedHeadSet* heads) {
  if (heads == nullptr || heads->heads().empty()) return "this server has none";
  std::vector<std::string> names;
  for (const SharedHead& head : heads->heads()) names.push_back(head.name);
  return absl::StrCat("loaded: ", absl::StrJoin(names, ", "));
}

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
  const size_t bad = InvalidUtf8At(text);
  if (bad != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": invalid UTF-8 at byte ", bad));
  }
  return absl::OkStatus();
}

absl::Status ValidatePredictRequest(const v1::PredictRequest& request,
                                    const LimitsOptions& limits) {
  absl::Status id = ValidateProfileId(request.profile_id());
  if (!id.ok()) return id;
  if (request.inputs().empty()) return absl::InvalidArgumentError("inputs: at least one input");
  if (uint32_t(request.inputs_size()) > limits.max_inputs_per_request) {
    return absl::InvalidArgumentError(absl::StrCat("inputs: ", request.inputs_size(),
                                                   " inputs, the limit is ",
                                                   limits.max_inputs_per_request));
  }
  for (int i = 0; i < request.inputs_size(); ++i) {
    const std::string field = Index("inputs", i);
    absl::Status s = ValidateText(field + ".text", request.inputs(i).text(), limits);
    if (!s.ok()) return s;
    s = ValidateText(field + ".text_pair", request.inputs(i).text_pair(), limits, true);
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
  if (request.label_names_size() < 2 || uint32_t(request.label_names_size()) > limits.max_labels) {
    return absl::InvalidArgumentError(absl::StrCat("label_names: expected 2..", limits.max_labels,
                                                   " labels, got ", request.label_names_size()));
  }
  std::set<std::string> labels;
  for (int i = 0; i < request.label_names_size(); ++i) {
    const std::string field = Index("label_names", i);
    absl::Status s = ValidateText(field, request.label_names(i), limits);
    if (!s.ok()) return s;
    if (request.label_names(i).size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": longer than 256 bytes"));
    }
    if (!labels.insert(request.label_names(i)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": duplicate label '", request.label_names(i), "'"));
    }
  }
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
  // Ranges of the hyper-parameters are checked by the engine's Validate().
  TrainingOptions options = ToTrainingOptions(request);
  if (options.max_sequence_length > int64_t(limits.max_sequence_length)) {
    options.max_sequence_length = limits.max_sequence_length;
  }
  options.ResolveDefaults(ServingBanks(), request.examples_size());
  try {
    options.Validate();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return absl::OkStatus();
}

absl::Status ResolveSharedHead(const SharedHeadSet* heads, v1::TrainProfileRequest* request) {
  const std::string& name = request->shared_head();
  if (name.empty()) return absl::OkStatus();
  try {
    ValidateSharedHeadName(name, "shared_head");
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (request->method() == v1::HEAD_ONLY) {
    return absl::InvalidArgumentError(
        "shared_head: HEAD_ONLY trains only a head, so it cannot use a shared one");
  }
  const SharedHead* head = heads != nullptr ? heads->Find(name) : nullptr;
  if (head == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("shared_head: no shared head '", name,
                                                   "' is loaded (", LoadedHeadNames(heads), ")"));
  }
  if (request->label_names().empty()) {
    for (const std::string& label : head->labels) request->add_label_names(label);
    return absl::OkStatus();
  }
  if (!std::equal(request->label_names().begin(), request->label_names().end(),
                  head->labels.begin(), head->labels.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat("label_names: must equal the labels of shared head '", name, "' in order (",
                     absl::StrJoin(head->labels, ", "), ") or be left empty"));
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
  if (h.has_xpeft_top_k()) o.xpeft_top_k = h.xpeft_top_k();
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
