// File: server/metrics/text_serializer.h
//
// Writes metric families in the Prometheus text exposition format 0.0.4:
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram|untyped
//   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
// Histograms expand to cumulative <name>_bucket{...,le="<bound>"} series
// ending with le="+Inf", then <name>_sum and <name>_count. Values are the
// shortest text that round-trips (1, 0.25, 1e+06), or +Inf, -Inf, NaN. No
// timestamps. Families are written in the order given: pass the output of
// Registry::Collect or MergeFamilies for a stable, valid exposition.
//
// Thread safety: pure functions.
//
// Example:
//   std::string body = SerializeText(registry.Collect());
#ifndef MASKSERVE_SERVER_METRICS_TEXT_SERIALIZER_H_
#define MASKSERVE_SERVER_METRICS_TEXT_SERIALIZER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

// The Content-Type of the text format.
inline constexpr absl::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// The exposition of `families`.
std::string SerializeText(const std::vector<MetricFamily>& families);

// A sample value or bucket bound as the text format writes it.
std::string FormatValue(double value);

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_TEXT_SERIALIZER_H_
