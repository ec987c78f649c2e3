// File: server/scrape_time_metrics.h
//
// ScrapeTimeMetrics: a prometheus::Collectable whose gauges are read from
// callbacks at scrape time, for numbers that already live elsewhere and are
// cheap to read on demand (queue depth, resident profiles, device memory,
// training jobs per tenant) instead of being kept current on the hot path.
// prometheus-cpp's Gauge holds a value; it has no callback form, so this is
// its documented extension point (a Collectable) rather than a second client.
//
// A family is either one series with fixed labels (AddGauge) or a set of
// series computed at each scrape (AddGaugeFamily), for label values that
// come and go (tenants). Callbacks run on the exposer's HTTP threads, once per
// scrape, with no lock of this class held: they must be thread-safe and
// quick, and what they read must outlive every scrape (register the
// collectable with the exposer after, and destroy the exposer before, what
// the callbacks read).
//
// Thread safety: all methods are thread-safe.
//
// Example:
//   auto gauges = std::make_shared<ScrapeTimeMetrics>();
//   MASKSERVE_RETURN_IF_ERROR(gauges->AddGauge(
//       "maskserve_queue_depth", "Sequences waiting.", {}, [engine] {
//         return double(engine->queued_sequences()); }));
//   endpoint->RegisterCollectable(gauges);
#ifndef MASKSERVE_SERVER_SCRAPE_TIME_METRICS_H_
#define MASKSERVE_SERVER_SCRAPE_TIME_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace maskserve {

class ScrapeTimeMetrics : public prometheus::Collectable {
 public:
  using Labels = std::map<std::string, std::string>;
  // One series of a family computed at scrape time.
  struct Sample {
    Labels labels;
    double value = 0;
  };
  // The current value; NaN means "no value now" (the series is left out).
  using Callback = std::function<double()>;
  // Every series of a family now; an empty result leaves the family out.
  using FamilyCallback = std::function<std::vector<Sample>()>;

  ScrapeTimeMetrics() = default;
  ScrapeTimeMetrics(const ScrapeTimeMetrics&) = delete;
  ScrapeTimeMetrics& operator=(const ScrapeTimeMetrics&) = delete;

  // Adds one series of gauge `name`. InvalidArgument for an invalid metric
  // or label name, or when `name` already is a computed family or has
  // another help text; AlreadyExists for the same series twice.
  absl::Status AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                        Callback callback);

  // Adds gauge `name` whose series `callback` lists at each scrape (samples
  // with invalid label names are dropped). InvalidArgument for an invalid
  // name or one added before.
  absl::Status AddGaugeFamily(const std::string& name, const std::string& help,
                              FamilyCallback callback);

  // prometheus::Collectable.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Family {
    std::string name;
    std::string help;
    // Fixed series (AddGauge), in the order added...
    std::vector<std::pair<Labels, std::shared_ptr<const Callback>>> series;
    // ...or all of them computed (AddGaugeFamily).
    std::shared_ptr<const FamilyCallback> computed;
  };

  static absl::Status CheckLabels(const Labels& labels);

  mutable absl::Mutex mu_;
  std::vector<Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_SCRAPE_TIME_METRICS_H_
