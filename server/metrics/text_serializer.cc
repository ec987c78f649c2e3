#include "server/metrics/text_serializer.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace maskserve {
namespace metrics {
namespace {

// HELP text escapes backslash and newline.
void AppendEscapedHelp(absl::string_view help, std::string* out) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// Label values also escape the double quote.
void AppendEscapedLabelValue(absl::string_view value, std::string* out) {
  for (char c : value) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// Writes `{a="1",b="2"}` (nothing for no labels); `le`, when given, comes
// last as the text format's examples show it.
void AppendLabels(const Labels& labels, const std::string* le, std::string* out) {
  if (labels.empty() && le == nullptr) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, name, "=\"");
    AppendEscapedLabelValue(value, out);
    out->push_back('"');
  }
  if (le != nullptr) {
    if (!first) out->push_back(',');
    absl::StrAppend(out, "le=\"", *le, "\"");
  }
  out->push_back('}');
}

void AppendSample(absl::string_view name, absl::string_view suffix, const Labels& labels,
                  const std::string* le, const std::string& value, std::string* out) {
  absl::StrAppend(out, name, suffix);
  AppendLabels(labels, le, out);
  absl::StrAppend(out, " ", value, "\n");
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string SerializeText(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const MetricFamily& family : families) {
    absl::StrAppend(&out, "# HELP ", family.name, " ");
    AppendEscapedHelp(family.help, &out);
    absl::StrAppend(&out, "\n# TYPE ", family.name, " ", MetricTypeName(family.type), "\n");
    for (const ClientMetric& metric : family.metrics) {
      if (family.type != MetricType::kHistogram) {
        AppendSample(family.name, "", metric.labels, nullptr, FormatValue(metric.value), &out);
        continue;
      }
      for (const ClientMetric::Bucket& bucket : metric.buckets) {
        const std::string le = FormatValue(bucket.upper_bound);
        AppendSample(family.name, "_bucket", metric.labels, &le,
                     absl::StrCat(bucket.cumulative_count), &out);
      }
      // A hand-built histogram may leave out +Inf; the format requires it.
      if (metric.buckets.empty() || !std::isinf(metric.buckets.back().upper_bound)) {
        const std::string le = "+Inf";
        AppendSample(family.name, "_bucket", metric.labels, &le, absl::StrCat(metric.sample_count),
                     &out);
      }
      AppendSample(family.name, "_sum", metric.labels, nullptr, FormatValue(metric.sample_sum),
                   &out);
      AppendSample(family.name, "_count", metric.labels, nullptr, absl::StrCat(metric.sample_count),
                   &out);
    }
  }
  return out;
}

}  // namespace metrics
}  // namespace maskserve
