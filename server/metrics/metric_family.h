// File: server/metrics/metric_family.h
//
// Plain snapshot types that travel from metrics to serializers: the value of
// one labelled series (`ClientMetric`) and a named group of them
// (`MetricFamily`). They hold copies, never references into live metrics, so
// a snapshot can be serialized without any lock held.
//
// Thread safety: plain values; thread-compatible.
//
// Example (what a Collectable returns):
//   MetricFamily family{"maskserve_queue_depth", "Requests waiting.",
//                       MetricType::kGauge, {}};
//   family.metrics.push_back(ClientMetric::WithValue({{"queue", "predict"}},
//   3));
#ifndef MASKSERVE_SERVER_METRICS_METRIC_FAMILY_H_
#define MASKSERVE_SERVER_METRICS_METRIC_FAMILY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/metrics/labels.h"

namespace maskserve {
namespace metrics {

// The metric types of the text exposition format 0.0.4 that we produce.
enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

// Returns "counter", "gauge", "histogram" or "untyped".
const char* MetricTypeName(MetricType type);

// One series (one label set) at collection time.
struct ClientMetric {
  // One histogram bucket: the number of observations <= upper_bound,
  // cumulative over all smaller buckets. The last bucket's bound is +Inf.
  struct Bucket {
    double upper_bound = 0;
    uint64_t cumulative_count = 0;
  };

  // Convenience constructor for counters, gauges and untyped samples.
  static ClientMetric WithValue(Labels labels, double value);

  Labels labels;     // every label of the series, constant labels included
  double value = 0;  // counters, gauges, untyped

  // Histograms only.
  std::vector<Bucket> buckets;
  uint64_t sample_count = 0;
  double sample_sum = 0;
};

// A named group of series of one type, as one HELP/TYPE block.
struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<ClientMetric> metrics;
};

// Puts families from several collectables into the stable order the
// serializer emits: families sorted by name, series by labels. Families that
// share a name and type are merged; a later family whose type differs from
// the first one of that name is dropped, as is a series whose label set
// repeats, and families without series. The result is always a valid
// exposition whatever the inputs.
std::vector<MetricFamily> MergeFamilies(std::vector<MetricFamily> families);

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_METRIC_FAMILY_H_
