#include "server/scrape_time_metrics.h"

#include <cmath>
#include <utility>

#include <prometheus/check_names.h>
#include <prometheus/client_metric.h>

#include "absl/strings/str_cat.h"

namespace maskserve {
namespace {

prometheus::ClientMetric GaugeMetric(const ScrapeTimeMetrics::Labels& labels, double value) {
  prometheus::ClientMetric metric;
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, label_value});
  metric.gauge.value = value;
  return metric;
}

}  // namespace

absl::Status ScrapeTimeMetrics::CheckLabels(const Labels& labels) {
  for (const auto& [name, value] : labels) {
    if (!prometheus::CheckLabelName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid label name '", name, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ScrapeTimeMetrics::AddGauge(const std::string& name, const std::string& help,
                                         const Labels& labels, Callback callback) {
  if (!prometheus::CheckMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", name, "'"));
  }
  if (absl::Status valid = CheckLabels(labels); !valid.ok()) return valid;
  if (!callback) return absl::InvalidArgumentError(absl::StrCat(name, ": no callback"));
  auto shared = std::make_shared<const Callback>(std::move(callback));
  absl::MutexLock lock(&mu_);
  for (Family& family : families_) {
    if (family.name != name) continue;
    if (family.computed != nullptr || family.help != help) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": added before as another family or with another help text"));
    }
    for (const auto& series : family.series) {
      if (series.first == labels) {
        return absl::AlreadyExistsError(absl::StrCat(name, ": this label set was added before"));
      }
    }
    family.series.emplace_back(labels, std::move(shared));
    return absl::OkStatus();
  }
  families_.push_back({name, help, {{labels, std::move(shared)}}, nullptr});
  return absl::OkStatus();
}

absl::Status ScrapeTimeMetrics::AddGaugeFamily(const std::string& name, const std::string& help,
                                               FamilyCallback callback) {
  if (!prometheus::CheckMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", name, "'"));
  }
  if (!callback) return absl::InvalidArgumentError(absl::StrCat(name, ": no callback"));
  absl::MutexLock lock(&mu_);
  for (const Family& family : families_) {
    if (family.name == name) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": added before"));
    }
  }
  families_.push_back(
      {name, help, {}, std::make_shared<const FamilyCallback>(std::move(callback))});
  return absl::OkStatus();
}

std::vector<prometheus::MetricFamily> ScrapeTimeMetrics::Collect() const {
  std::vector<Family> families;
  {
    absl::MutexLock lock(&mu_);
    families = families_;  // callbacks run unlocked
  }
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size());
  for (const Family& family : families) {
    prometheus::MetricFamily collected{family.name, family.help, prometheus::MetricType::Gauge, {}};
    if (family.computed != nullptr) {
      for (const Sample& sample : (*family.computed)()) {
        if (std::isnan(sample.value) || !CheckLabels(sample.labels).ok()) continue;
        collected.metric.push_back(GaugeMetric(sample.labels, sample.value));
      }
    } else {
      for (const auto& [labels, callback] : family.series) {
        const double value = (*callback)();
        if (!std::isnan(value)) collected.metric.push_back(GaugeMetric(labels, value));
      }
    }
    if (!collected.metric.empty()) out.push_back(std::move(collected));
  }
  return out;
}

}  // namespace maskserve
