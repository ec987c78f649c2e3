// File: server/metrics/internal/atomic_double.h
//
// Not part of the public API. Lock-free add on std::atomic<double> (C++17 has
// no fetch_add for floating point): a compare-exchange loop.
#ifndef MASKSERVE_SERVER_METRICS_INTERNAL_ATOMIC_DOUBLE_H_
#define MASKSERVE_SERVER_METRICS_INTERNAL_ATOMIC_DOUBLE_H_

#include <atomic>

namespace maskserve {
namespace metrics {
namespace internal {

inline void AtomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
  }
}

}  // namespace internal
}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_INTERNAL_ATOMIC_DOUBLE_H_
