// File: server/metrics/callback_collector.h
//
// CallbackCollector: gauges and counters whose value is read from a callback
// at scrape time, for numbers that already live elsewhere and are cheap to
// read on demand (queue depth, profiles resident, device memory, RocksDB
// statistics) rather than kept current on the hot path.
//
// Callbacks run on the exposer's HTTP threads, once per scrape, without any
// lock of this class held: they must be thread-safe, quick, and must not
// outlive what they read (remove the collector from the Registry, or destroy
// it, before destroying the component; the Registry holds a weak_ptr).
//
// Thread safety: all methods are thread-safe.
//
// Example:
//   auto callbacks = std::make_shared<CallbackCollector>();
//   callbacks->AddGauge("maskserve_batch_queue_depth", "Requests waiting.",
//                       {{"queue", "predict"}},
//                       [queue] { return double(queue->size());
//                       }).IgnoreError();
//   registry.RegisterCollectable(callbacks);
#ifndef MASKSERVE_SERVER_METRICS_CALLBACK_COLLECTOR_H_
#define MASKSERVE_SERVER_METRICS_CALLBACK_COLLECTOR_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/collectable.h"
#include "server/metrics/labels.h"
#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

class CallbackCollector : public Collectable {
 public:
  // Returns the current value; NaN means "no value now" (sample skipped).
  using Callback = std::function<double()>;

  CallbackCollector() = default;
  CallbackCollector(const CallbackCollector&) = delete;
  CallbackCollector& operator=(const CallbackCollector&) = delete;

  // Adds one series of gauge `name`. InvalidArgument for invalid names, help
  // or labels, or when `name` was added before as a counter or with another
  // help text; AlreadyExists when the same series was added before.
  absl::Status AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                        Callback callback);

  // As AddGauge, for a counter (the callback must be monotonic; the name
  // ends in "_total").
  absl::Status AddCounter(const std::string& name, const std::string& help, const Labels& labels,
                          Callback callback);

  // Collectable interface.
  std::vector<MetricFamily> Collect() const override;

 private:
  struct Series {
    std::string name;
    std::string help;
    MetricType type;
    Labels labels;
    std::shared_ptr<const Callback> callback;
  };

  absl::Status Add(Series series);

  mutable absl::Mutex mu_;
  std::vector<Series> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_CALLBACK_COLLECTOR_H_
