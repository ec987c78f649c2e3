#include "server/metrics/counter.h"

#include "server/metrics/internal/atomic_double.h"

namespace maskserve {
namespace metrics {

void Counter::Increment(double delta) {
  if (!(delta >= 0.0)) return;  // negative or NaN
  internal::AtomicAdd(value_, delta);
}

double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

ClientMetric Counter::Collect() const {
  ClientMetric metric;
  metric.value = Value();
  return metric;
}

}  // namespace metrics
}  // namespace maskserve
