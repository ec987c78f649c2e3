// File: server/metrics/family.h
//
// Family<T>: all series of one metric name (Counter, Gauge or Histogram),
// one per label set. Created by the Registry (see builder.h). Add() returns a
// reference that stays valid until the series is removed or the family's
// Registry is destroyed: take it once at start-up, keep it in the component,
// and never look a series up by labels on a hot path.
//
// Thread safety: Add, TryAdd, Has, Remove and Collect are thread-safe and take
// the family's own mutex (start-up and scrape only). The returned T is
// lock-free (see counter.h, gauge.h, histogram.h).
//
// Example:
//   Family<Counter>& requests = BuildCounter()
//       .Name("maskserve_requests_total")
//       .Help("Requests by RPC and status code.")
//       .Register(registry);
//   Counter& predict_ok = requests.Add({{"rpc", "Predict"}, {"code", "OK"}});
#ifndef MASKSERVE_SERVER_METRICS_FAMILY_H_
#define MASKSERVE_SERVER_METRICS_FAMILY_H_

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/internal/check.h"
#include "server/metrics/labels.h"
#include "server/metrics/metric_family.h"
#include "server/metrics/names.h"

namespace maskserve {
namespace metrics {

class Registry;

// What the Registry keeps of every family, whatever its metric type.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const Labels& constant_labels() const { return constant_labels_; }

  // A snapshot of every series (constant labels merged in).
  virtual MetricFamily Collect() const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type, Labels constant_labels)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        constant_labels_(std::move(constant_labels)) {}

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const Labels constant_labels_;
};

template <typename T>
class Family : public FamilyBase {
 public:
  // Returns the series for `labels`, creating it from `args` (the Histogram
  // takes its BucketBoundaries) on first use; later calls with the same
  // labels return the same object and ignore `args`. Aborts on invalid labels
  // or arguments: they are constants in the code. Use TryAdd for labels
  // computed at run time. Spell bucket lists out as BucketBoundaries{...}:
  // a bare braced list cannot pass through the template.
  template <typename... Args>
  T& Add(const Labels& labels, Args&&... args) {
    absl::StatusOr<T*> metric = TryAdd(labels, std::forward<Args>(args)...);
    internal::CheckOk(metric.status(), name());
    return **metric;
  }

  // As Add, but returns InvalidArgument instead of aborting.
  template <typename... Args>
  absl::StatusOr<T*> TryAdd(const Labels& labels, Args&&... args) {
    if (absl::Status s = ValidateSeriesLabels(labels, constant_labels(), T::kType); !s.ok()) {
      return s;
    }
    absl::MutexLock lock(&mu_);
    auto it = children_.find(labels);
    if (it != children_.end()) return it->second.metric.get();
    if (absl::Status s = T::ValidateArgs(args...); !s.ok()) return s;
    Labels all_labels = constant_labels();
    all_labels.insert(labels.begin(), labels.end());
    Child& child = children_[labels];
    child.all_labels = std::move(all_labels);
    child.metric = std::make_unique<T>(std::forward<Args>(args)...);
    return child.metric.get();
  }

  // True when a series with exactly these (non-constant) labels exists.
  bool Has(const Labels& labels) const {
    absl::MutexLock lock(&mu_);
    return children_.count(labels) != 0;
  }

  // Destroys `metric` (a series of this family); references to it dangle.
  // Returns false when it is not a series of this family.
  bool Remove(const T* metric) {
    absl::MutexLock lock(&mu_);
    for (auto it = children_.begin(); it != children_.end(); ++it) {
      if (it->second.metric.get() == metric) {
        children_.erase(it);
        return true;
      }
    }
    return false;
  }

  MetricFamily Collect() const override {
    MetricFamily family{name(), help(), type(), {}};
    absl::MutexLock lock(&mu_);
    family.metrics.reserve(children_.size());
    for (const auto& [labels, child] : children_) {
      ClientMetric metric = child.metric->Collect();
      metric.labels = child.all_labels;
      family.metrics.push_back(std::move(metric));
    }
    return family;
  }

 private:
  friend class Registry;

  struct Child {
    Labels all_labels;  // constant labels + the series' own labels
    std::unique_ptr<T> metric;
  };

  Family(std::string name, std::string help, Labels constant_labels)
      : FamilyBase(std::move(name), std::move(help), T::kType, std::move(constant_labels)) {}

  mutable absl::Mutex mu_;
  std::map<Labels, Child> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_FAMILY_H_
