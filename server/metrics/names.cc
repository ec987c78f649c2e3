#include "server/metrics/names.h"

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace maskserve {
namespace metrics {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Shared by metric and label names: [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix.
absl::Status ValidateIdentifier(absl::string_view kind, absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kind, " is empty"));
  }
  if (!IsNameStart(name[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " '", name, "' must start with a letter or '_'"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kind, " '", name, "' may only contain [a-zA-Z0-9_]"));
    }
  }
  if (absl::StartsWith(name, "__")) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " '", name, "' starts with '__', reserved for Prometheus"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    int extra;
    uint32_t min_code;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, min_code = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min_code = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min_code = 0x10000, code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      const unsigned char cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return false;
      code = (code << 6) | (cont & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF.
    if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

absl::Status ValidateMetricName(absl::string_view name) {
  return ValidateIdentifier("metric name", name);
}

absl::Status ValidateLabelName(absl::string_view name) {
  return ValidateIdentifier("label name", name);
}

absl::Status ValidateLabelValue(absl::string_view value) {
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError("label value is not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status ValidateFamily(absl::string_view name, absl::string_view help, MetricType type,
                            const Labels& const_labels) {
  if (absl::Status s = ValidateMetricName(name); !s.ok()) return s;
  if (help.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("metric '", name, "' needs a help text"));
  }
  if (!IsValidUtf8(help)) {
    return absl::InvalidArgumentError(
        absl::StrCat("help of metric '", name, "' is not valid UTF-8"));
  }
  if (type == MetricType::kCounter && !absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(absl::StrCat("counter '", name, "' must end in '_total'"));
  }
  if (type != MetricType::kCounter && absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(
        absl::StrCat("only counters may end in '_total', not '", name, "'"));
  }
  return ValidateSeriesLabels(const_labels, Labels(), type);
}

absl::Status ValidateSeriesLabels(const Labels& labels, const Labels& const_labels,
                                  MetricType type) {
  for (const auto& [label, value] : labels) {
    if (absl::Status s = ValidateLabelName(label); !s.ok()) return s;
    if (absl::Status s = ValidateLabelValue(value); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("value of label '", label, "' is not valid UTF-8"));
    }
    if (type == MetricType::kHistogram && label == "le") {
      return absl::InvalidArgumentError("label 'le' is reserved for histogram buckets");
    }
    if (const_labels.count(label) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("label '", label, "' is already a constant label of the family"));
    }
  }
  return absl::OkStatus();
}

}  // namespace metrics
}  // namespace maskserve
