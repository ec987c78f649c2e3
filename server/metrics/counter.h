// File: server/metrics/counter.h
//
// Counter: a value that only goes up (requests served, bytes written). Resets
// only when the process restarts; Prometheus' rate() handles that. Names end
// in "_total".
//
// Thread safety: every method is thread-safe and lock-free (one atomic
// compare-exchange per Increment). Obtain the Counter once at start-up from
// its Family and keep the reference; it lives as long as the Family.
//
// Example:
//   Counter& served = requests_family.Add({{"rpc", "Predict"}});
//   served.Increment();        // hot path: no lookup, no lock
#ifndef MASKSERVE_SERVER_METRICS_COUNTER_H_
#define MASKSERVE_SERVER_METRICS_COUNTER_H_

#include <atomic>

#include "absl/status/status.h"
#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

class Counter {
 public:
  static constexpr MetricType kType = MetricType::kCounter;

  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `delta`. A negative or NaN delta would break monotonicity and is
  // ignored.
  void Increment(double delta = 1.0);

  // The current value.
  double Value() const;

  // Snapshot for exposition (labels filled in by the Family).
  ClientMetric Collect() const;

  // Family<Counter>::TryAdd hook: a counter takes no constructor arguments.
  static absl::Status ValidateArgs() { return absl::OkStatus(); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_COUNTER_H_
