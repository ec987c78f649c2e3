#include "clients/maskctl/format.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace maskserve {
namespace maskctl {
namespace {

std::string Normalize(absl::string_view name) {
  return absl::StrReplaceAll(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name)), {{"-", "_"}});
}

// `split` names the examples ("validation", "training").
std::string Metrics(const v1::EvalMetrics& metrics, absl::string_view split) {
  if (metrics.num_examples() == 0) return "-";
  return absl::StrCat("accuracy ", FormatFloat(metrics.accuracy()), "  macro_f1 ",
                      FormatFloat(metrics.macro_f1()), "  loss ", FormatFloat(metrics.loss()),
                      "  (", metrics.num_examples(), " ", split, " examples)");
}

}  // namespace

absl::StatusOr<v1::Method> ParseMethod(absl::string_view name) {
  v1::Method method;
  if (v1::Method_Parse(Normalize(name), &method) && method != v1::METHOD_UNSPECIFIED) {
    return method;
  }
  std::vector<std::string> valid;
  for (int i = v1::Method_MIN; i <= v1::Method_MAX; ++i) {
    if (v1::Method_IsValid(i) && i != v1::METHOD_UNSPECIFIED) {
      valid.push_back(v1::Method_Name(static_cast<v1::Method>(i)));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "method: unknown method '", name, "'; expected one of ", absl::StrJoin(valid, ", ")));
}

absl::StatusOr<v1::HeadPrecision> ParseHeadPrecision(absl::string_view name) {
  const std::string normalized = Normalize(name);
  if (normalized.empty()) return v1::HEAD_PRECISION_UNSPECIFIED;
  v1::HeadPrecision precision;
  for (const std::string& spelling : {normalized, "HEAD_PRECISION_" + normalized}) {
    if (v1::HeadPrecision_Parse(spelling, &precision) &&
        precision != v1::HEAD_PRECISION_UNSPECIFIED) {
      return precision;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("head_precision: unknown precision '", name, "'; expected fp16 or int8"));
}

absl::StatusOr<std::vector<v1::JobState>> ParseJobStates(absl::string_view list) {
  std::vector<v1::JobState> states;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    v1::JobState state;
    if (!v1::JobState_Parse(Normalize(part), &state) || state == v1::JOB_STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("states: unknown job state '", part,
                       "'; expected QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED"));
    }
    states.push_back(state);
  }
  return states;
}

std::string FormatFloat(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", value);
  return text;
}

std::string JobProgress(const v1::TrainingJob& job) {
  if (job.epoch() == 0 && job.step() == 0) return "-";
  return absl::StrCat("epoch ", job.epoch(), "/", job.total_epochs(), " step ", job.step(), "/",
                      job.total_steps());
}

std::string JobProgressLine(const v1::TrainingJob& job) {
  std::vector<std::string> parts = {v1::JobState_Name(job.state())};
  if (job.epoch() > 0 || job.step() > 0) {
    parts.push_back(absl::StrCat("epoch ", job.epoch(), "/", job.total_epochs()));
    parts.push_back(absl::StrCat("step ", job.step(), "/", job.total_steps()));
    parts.push_back(absl::StrCat("loss ", FormatFloat(job.train_loss())));
  }
  if (job.validation().num_examples() > 0) {
    parts.push_back(absl::StrCat("val_acc ", FormatFloat(job.validation().accuracy())));
  }
  if (job.best_validation().num_examples() > 0) {
    parts.push_back(absl::StrCat("best ", FormatFloat(job.best_validation().accuracy())));
  }
  if (job.state() == v1::SUCCEEDED && job.published_version() > 0) {
    parts.push_back(absl::StrCat("version ", job.published_version()));
  }
  if (!job.error().empty()) parts.push_back(absl::StrCat("error: ", job.error()));
  return absl::StrJoin(parts, "  ");
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

std::string ProfileDetails(const v1::Profile& profile) {
  const v1::ProfileSize& size = profile.size();
  std::vector<std::vector<std::string>> rows = {
      {"profile", profile.profile_id()},
      {"version", absl::StrCat(profile.version())},
      {"method", v1::Method_Name(profile.method())},
      {"labels", absl::StrJoin(profile.label_names(), ", ")},
      {"size", absl::StrCat(size.total_bytes(), " B (masks ", size.mask_bytes(), " B, head ",
                            size.head_bytes(), " B, metadata ", size.metadata_bytes(), " B)")},
      {"training", Metrics(profile.train_metrics(), "training")},
      {"validation",
       profile.metrics().num_examples() == 0 && profile.train_metrics().num_examples() > 0
           ? "- (too few examples to hold any out)"
           : Metrics(profile.metrics(), "validation")},
      {"training_job", profile.training_job_id().empty() ? "-" : profile.training_job_id()},
      {"bank", profile.bank_fingerprint().empty() ? "-" : profile.bank_fingerprint()},
      {"shared_head", profile.shared_head().empty() ? "-" : profile.shared_head()},
      {"description", profile.description().empty() ? "-" : profile.description()},
      {"created", FormatTimestamp(profile.create_time())},
      {"updated", FormatTimestamp(profile.update_time())},
  };
  std::string out;
  for (const auto& row : rows) {
    out += row[0];
    out.append(14 - row[0].size(), ' ');
    out += row[1];
    out += "\n";
  }
  return out;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (row.size() > widths.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(widths[i] - row[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace maskctl
}  // namespace maskserve
