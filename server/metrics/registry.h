// File: server/metrics/registry.h
//
// Registry: owns metric families and the list of extra Collectables whose
// families are computed at scrape time. One Registry per process is the norm;
// every component registers its families on it at start-up (through the
// builders in builder.h) and keeps the returned references.
//
// Registering a family whose name is taken returns the existing family when
// type, help and constant labels match (two components may share one), and
// fails otherwise. Names that would collide in the exposition (a histogram
// "x" and a gauge "x_count") are rejected too.
//
// Thread safety: all methods are thread-safe. Collect() holds the registry
// lock only while snapshotting its own families, not while calling the
// registered Collectables. A Registry must outlive every reference taken from
// its families.
//
// Example:
//   auto registry = std::make_shared<Registry>();
//   Family<Gauge>& depth = BuildGauge().Name("maskserve_batch_queue_depth")
//                              .Help("Requests waiting.").Register(*registry);
//   registry->RegisterCollectable(process_collector);  // a weak_ptr
//   exposer->RegisterCollectable(registry);
#ifndef MASKSERVE_SERVER_METRICS_REGISTRY_H_
#define MASKSERVE_SERVER_METRICS_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/collectable.h"
#include "server/metrics/family.h"
#include "server/metrics/labels.h"
#include "server/metrics/names.h"

namespace maskserve {
namespace metrics {

class Registry : public Collectable {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the family `name` of metric type T (Counter, Gauge, Histogram),
  // creating it. InvalidArgument for invalid names, help or labels;
  // AlreadyExists when the name (or an exposition name derived from it) is
  // taken by a different family.
  template <typename T>
  absl::StatusOr<Family<T>*> TryAddFamily(const std::string& name, const std::string& help,
                                          const Labels& constant_labels) {
    if (absl::Status s = ValidateFamily(name, help, T::kType, constant_labels); !s.ok()) {
      return s;
    }
    std::unique_ptr<FamilyBase> candidate(new Family<T>(name, help, constant_labels));
    absl::StatusOr<FamilyBase*> family = Insert(std::move(candidate));
    if (!family.ok()) return family.status();
    return static_cast<Family<T>*>(*family);
  }

  // Destroys `family` and every series in it; references into it dangle.
  // Returns false when it does not belong to this registry.
  bool RemoveFamily(const FamilyBase& family);

  // Adds a Collectable consulted on every Collect() for as long as it is
  // alive; an expired one is skipped (and dropped). Do not register a
  // Registry in itself.
  void RegisterCollectable(const std::weak_ptr<Collectable>& collectable);

  // Returns false when `collectable` was not registered.
  bool RemoveCollectable(const std::weak_ptr<Collectable>& collectable);

  // Collectable interface: every family with at least one series, and the
  // registered collectables' families, merged and ordered (MergeFamilies).
  std::vector<MetricFamily> Collect() const override;

 private:
  // Inserts `candidate`, or returns the equal family already registered, or
  // AlreadyExists on a conflict.
  absl::StatusOr<FamilyBase*> Insert(std::unique_ptr<FamilyBase> candidate);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<std::weak_ptr<Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_REGISTRY_H_
