#include "server/metrics/metric_family.h"

#include <algorithm>
#include <map>
#include <utility>

namespace maskserve {
namespace metrics {

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

ClientMetric ClientMetric::WithValue(Labels labels, double value) {
  ClientMetric metric;
  metric.labels = std::move(labels);
  metric.value = value;
  return metric;
}

std::vector<MetricFamily> MergeFamilies(std::vector<MetricFamily> families) {
  // Stable: among families of one name the first collected wins its type.
  std::stable_sort(families.begin(), families.end(),
                   [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  std::vector<MetricFamily> merged;
  for (MetricFamily& family : families) {
    if (!merged.empty() && merged.back().name == family.name) {
      MetricFamily& into = merged.back();
      if (into.type != family.type) continue;
      for (ClientMetric& metric : family.metrics) {
        into.metrics.push_back(std::move(metric));
      }
    } else {
      merged.push_back(std::move(family));
    }
  }
  std::vector<MetricFamily> result;
  result.reserve(merged.size());
  for (MetricFamily& family : merged) {
    std::stable_sort(
        family.metrics.begin(), family.metrics.end(),
        [](const ClientMetric& a, const ClientMetric& b) { return a.labels < b.labels; });
    family.metrics.erase(std::unique(family.metrics.begin(), family.metrics.end(),
                                     [](const ClientMetric& a, const ClientMetric& b) {
                                       return a.labels == b.labels;
                                     }),
                         family.metrics.end());
    if (!family.metrics.empty()) result.push_back(std::move(family));
  }
  return result;
}

}  // namespace metrics
}  // namespace maskserve
