#include "server/metrics/gauge.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/metrics/internal/atomic_double.h"

namespace maskserve {
namespace metrics {

void Gauge::Increment(double delta) { internal::AtomicAdd(value_, delta); }

void Gauge::Decrement(double delta) { internal::AtomicAdd(value_, -delta); }

void Gauge::Set(double value) { value_.store(value, std::memory_order_relaxed); }

void Gauge::SetToCurrentTime() { Set(absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch())); }

double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

ClientMetric Gauge::Collect() const {
  ClientMetric metric;
  metric.value = Value();
  return metric;
}

}  // namespace metrics
}  // namespace maskserve
