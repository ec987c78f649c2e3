#include "server/metrics/callback_collector.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/metrics/names.h"

namespace maskserve {
namespace metrics {

absl::Status CallbackCollector::AddGauge(const std::string& name, const std::string& help,
                                         const Labels& labels, Callback callback) {
  return Add({name, help, MetricType::kGauge, labels,
              std::make_shared<const Callback>(std::move(callback))});
}

absl::Status CallbackCollector::AddCounter(const std::string& name, const std::string& help,
                                           const Labels& labels, Callback callback) {
  return Add({name, help, MetricType::kCounter, labels,
              std::make_shared<const Callback>(std::move(callback))});
}

absl::Status CallbackCollector::Add(Series series) {
  if (absl::Status s = ValidateFamily(series.name, series.help, series.type, series.labels);
      !s.ok()) {
    return s;
  }
  if (!*series.callback) {
    return absl::InvalidArgumentError(absl::StrCat("metric '", series.name, "' has no callback"));
  }
  absl::MutexLock lock(&mu_);
  for (const Series& existing : series_) {
    if (existing.name != series.name) continue;
    if (existing.type != series.type || existing.help != series.help) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", series.name, "' was added with another type or help"));
    }
    if (existing.labels == series.labels) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric '", series.name, "' already has this series"));
    }
  }
  series_.push_back(std::move(series));
  return absl::OkStatus();
}

std::vector<MetricFamily> CallbackCollector::Collect() const {
  std::vector<Series> series;
  {
    absl::MutexLock lock(&mu_);
    series = series_;  // callbacks are shared, so this copy is cheap
  }
  std::vector<MetricFamily> families;
  for (const Series& one : series) {
    const double value = (*one.callback)();
    if (std::isnan(value)) continue;
    MetricFamily family{one.name, one.help, one.type, {}};
    family.metrics.push_back(ClientMetric::WithValue(one.labels, value));
    families.push_back(std::move(family));
  }
  return MergeFamilies(std::move(families));
}

}  // namespace metrics
}  // namespace maskserve
