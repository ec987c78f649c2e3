// File: server/metrics/gauge.h
//
// Gauge: a value that goes up and down (queue depth, profiles resident,
// bytes in use). For values that are cheaper to compute when scraped than to
// keep current, use a CallbackCollector instead.
//
// Thread safety: every method is thread-safe and lock-free. Obtain the Gauge
// once at start-up from its Family and keep the reference.
//
// Example:
//   Gauge& resident = resident_family.Add({});
//   resident.Increment();  // profile loaded
//   resident.Decrement();  // profile evicted
#ifndef MASKSERVE_SERVER_METRICS_GAUGE_H_
#define MASKSERVE_SERVER_METRICS_GAUGE_H_

#include <atomic>

#include "absl/status/status.h"
#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

class Gauge {
 public:
  static constexpr MetricType kType = MetricType::kGauge;

  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Increment(double delta = 1.0);
  void Decrement(double delta = 1.0);
  void Set(double value);

  // Sets the value to the current Unix time in seconds.
  void SetToCurrentTime();

  // The current value.
  double Value() const;

  // Snapshot for exposition (labels filled in by the Family).
  ClientMetric Collect() const;

  // Family<Gauge>::TryAdd hook: a gauge takes no constructor arguments.
  static absl::Status ValidateArgs() { return absl::OkStatus(); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_GAUGE_H_
