// File: server/metrics/names.h
//
// Validation of metric names, label names and label values, following the
// Prometheus data model plus the lint rules `promtool check metrics` applies,
// so that whatever registers cleanly also scrapes and lints cleanly:
//   metric name  [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (colons are
//                legal in Prometheus but reserved for recording rules)
//   label name   [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"
//   label value  any valid UTF-8 (escaped on output)
//   help         non-empty valid UTF-8
//   counters     end in "_total"; histograms never use the label "le"
//
// Thread safety: pure functions.
//
// Example:
//   absl::Status s = ValidateMetricName("maskserve_requests_total");
#ifndef MASKSERVE_SERVER_METRICS_NAMES_H_
#define MASKSERVE_SERVER_METRICS_NAMES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/metrics/labels.h"
#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

// InvalidArgument unless `name` is a valid metric name (rules above).
absl::Status ValidateMetricName(absl::string_view name);

// InvalidArgument unless `name` is a valid label name (rules above).
absl::Status ValidateLabelName(absl::string_view name);

// InvalidArgument unless `value` is valid UTF-8.
absl::Status ValidateLabelValue(absl::string_view value);

// Validates a whole family declaration: name, help, type-specific name rules
// (counters end in "_total") and the constant labels.
absl::Status ValidateFamily(absl::string_view name, absl::string_view help, MetricType type,
                            const Labels& const_labels);

// Validates the labels of one series of a family: names and values, no name
// shared with the family's constant labels, no "le" on histograms.
absl::Status ValidateSeriesLabels(const Labels& labels, const Labels& const_labels,
                                  MetricType type);

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view text);

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_NAMES_H_
