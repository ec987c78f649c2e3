// File: server/metrics/collectable.h
//
// Collectable: anything that contributes metric families at scrape time. The
// Registry is one; ProcessMetricsCollector and CallbackCollector compute their
// values on demand (memory from /proc, device memory, queue depth).
//
// Contract: Collect() is called from the exposer's HTTP threads, possibly
// concurrently, so implementations must be thread-safe. It must be quick (it
// runs once per scrape) and must not call back into the Registry or exposer it
// is registered with. Families it returns are merged with everyone else's and
// ordered by MergeFamilies; names must follow names.h.
//
// Example:
//   class QueueCollector : public Collectable {
//    public:
//     std::vector<MetricFamily> Collect() const override {
//       MetricFamily f{"maskserve_batch_queue_depth", "Requests waiting.",
//                      MetricType::kGauge, {}};
//       f.metrics.push_back(ClientMetric::WithValue({}, queue_->size()));
//       return {f};
//     }
//   };
#ifndef MASKSERVE_SERVER_METRICS_COLLECTABLE_H_
#define MASKSERVE_SERVER_METRICS_COLLECTABLE_H_

#include <vector>

#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

class Collectable {
 public:
  virtual ~Collectable() = default;

  // A snapshot of this collectable's families.
  virtual std::vector<MetricFamily> Collect() const = 0;
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_COLLECTABLE_H_
