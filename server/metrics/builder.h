// File: server/metrics/builder.h
//
// Builder: the prometheus-cpp way of declaring a family on a Registry.
// Name and Help are required; Labels sets constant labels shared by every
// series of the family. Register aborts on an invalid or conflicting
// declaration (metric declarations are constants: a bad one is a bug);
// TryRegister returns the error instead.
//
// Thread safety: a Builder is a plain value; Register is as thread-safe as
// Registry::TryAddFamily.
//
// Example:
//   Family<Histogram>& latency = BuildHistogram()
//       .Name("maskserve_request_duration_seconds")
//       .Help("Time from RPC arrival to reply, by RPC.")
//       .Register(registry);
//   Histogram& predict = latency.Add({{"rpc", "Predict"}},
//                                    DefaultLatencyBuckets());
#ifndef MASKSERVE_SERVER_METRICS_BUILDER_H_
#define MASKSERVE_SERVER_METRICS_BUILDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/metrics/counter.h"
#include "server/metrics/family.h"
#include "server/metrics/gauge.h"
#include "server/metrics/histogram.h"
#include "server/metrics/internal/check.h"
#include "server/metrics/labels.h"
#include "server/metrics/registry.h"

namespace maskserve {
namespace metrics {

template <typename T>
class Builder {
 public:
  Builder& Name(const std::string& name) {
    name_ = name;
    return *this;
  }
  Builder& Help(const std::string& help) {
    help_ = help;
    return *this;
  }
  // Constant labels, added to every series of the family.
  Builder& Labels(const metrics::Labels& labels) {
    labels_ = labels;
    return *this;
  }

  // Registers (or finds the identical) family; aborts on error.
  Family<T>& Register(Registry& registry) const {
    absl::StatusOr<Family<T>*> family = TryRegister(registry);
    internal::CheckOk(family.status(), name_);
    return **family;
  }

  absl::StatusOr<Family<T>*> TryRegister(Registry& registry) const {
    return registry.TryAddFamily<T>(name_, help_, labels_);
  }

 private:
  std::string name_;
  std::string help_;
  metrics::Labels labels_;
};

inline Builder<Counter> BuildCounter() { return {}; }
inline Builder<Gauge> BuildGauge() { return {}; }
inline Builder<Histogram> BuildHistogram() { return {}; }

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_BUILDER_H_
