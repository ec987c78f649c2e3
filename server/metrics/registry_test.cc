#include "server/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "absl/time/clock.h"
#include "server/metrics/builder.h"
#include "server/metrics/counter.h"
#include "server/metrics/gauge.h"
#include "server/metrics/histogram.h"

namespace maskserve {
namespace metrics {
namespace {

TEST(MetricsCounterTest, IncrementsAndIgnoresNegative) {
  Counter counter;
  counter.Increment();
  counter.Increment(2.5);
  counter.Increment(-4);
  counter.Increment(std::nan(""));
  EXPECT_DOUBLE_EQ(counter.Value(), 3.5);
}

TEST(MetricsGaugeTest, SetIncrementDecrement) {
  Gauge gauge;
  gauge.Set(10);
  gauge.Increment();
  gauge.Decrement(3);
  gauge.Increment(0.5);
  EXPECT_DOUBLE_EQ(gauge.Value(), 8.5);
  const double before = absl::ToUnixSeconds(absl::Now());
  gauge.SetToCurrentTime();
  EXPECT_GE(gauge.Value(), before);
  EXPECT_LE(gauge.Value(), before + 60);
}

TEST(MetricsRegistryTest, BuilderRegistersFamilyAndAddReturnsStableSeries) {
  Registry registry;
  Family<Counter>& requests =
      BuildCounter().Name("maskserve_requests_total").Help("Requests.").Register(registry);
  EXPECT_EQ(requests.name(), "maskserve_requests_total");
  EXPECT_EQ(requests.type(), MetricType::kCounter);
  Counter& ok = requests.Add({{"rpc", "Predict"}, {"code", "OK"}});
  Counter& same = requests.Add({{"code", "OK"}, {"rpc", "Predict"}});
  Counter& other = requests.Add({{"rpc", "Predict"}, {"code", "NOT_FOUND"}});
  EXPECT_EQ(&ok, &same);
  EXPECT_NE(&ok, &other);
  // Adding many more series never moves existing ones.
  for (int i = 0; i < 100; ++i) {
    requests.Add({{"rpc", "R" + std::to_string(i)}, {"code", "OK"}});
  }
  EXPECT_EQ(&ok, &requests.Add({{"rpc", "Predict"}, {"code", "OK"}}));
  EXPECT_TRUE(requests.Has({{"rpc", "Predict"}, {"code", "OK"}}));
  EXPECT_FALSE(requests.Has({{"rpc", "Predict"}}));
}

TEST(MetricsRegistryTest, IdenticalRegistrationReturnsSameFamily) {
  Registry registry;
  Family<Gauge>& a = BuildGauge().Name("maskserve_x").Help("X.").Register(registry);
  Family<Gauge>& b = BuildGauge().Name("maskserve_x").Help("X.").Register(registry);
  EXPECT_EQ(&a, &b);
}

TEST(MetricsRegistryTest, ConflictingRegistrationFails) {
  Registry registry;
  BuildGauge().Name("maskserve_x").Help("X.").Register(registry);
  EXPECT_EQ(BuildGauge().Name("maskserve_x").Help("Other.").TryRegister(registry).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(BuildHistogram().Name("maskserve_x").Help("X.").TryRegister(registry).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(BuildGauge()
                .Name("maskserve_x")
                .Help("X.")
                .Labels({{"zone", "a"}})
                .TryRegister(registry)
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(MetricsRegistryTest, HistogramSuffixesCollide) {
  Registry registry;
  BuildHistogram().Name("maskserve_latency_seconds").Help("L.").Register(registry);
  EXPECT_EQ(BuildGauge()
                .Name("maskserve_latency_seconds_count")
                .Help("C.")
                .TryRegister(registry)
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
  BuildGauge().Name("maskserve_size_bucket").Help("B.").Register(registry);
  EXPECT_EQ(
      BuildHistogram().Name("maskserve_size").Help("S.").TryRegister(registry).status().code(),
      absl::StatusCode::kAlreadyExists);
}

TEST(MetricsRegistryTest, InvalidDeclarationsAreErrors) {
  Registry registry;
  EXPECT_EQ(
      BuildCounter().Name("maskserve_requests").Help("R.").TryRegister(registry).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildGauge().Name("bad-name").Help("R.").TryRegister(registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildGauge().Name("maskserve_no_help").TryRegister(registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  Family<Gauge>& family =
      BuildGauge().Name("maskserve_depth").Help("D.").Labels({{"zone", "a"}}).Register(registry);
  EXPECT_EQ(family.TryAdd({{"zone", "b"}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(family.TryAdd({{"bad-label", "b"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(family.TryAdd({{"queue", "\xff"}}).status().code(), absl::StatusCode::kInvalidArgument);
  Family<Histogram>& histograms =
      BuildHistogram().Name("maskserve_h").Help("H.").Register(registry);
  EXPECT_EQ(histograms.TryAdd({}, BucketBoundaries{2, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(histograms.TryAdd({{"le", "1"}}, BucketBoundaries{1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsRegistryDeathTest, RegisterAndAddAbortOnProgrammingErrors) {
  Registry registry;
  EXPECT_DEATH(BuildCounter().Name("maskserve_requests").Help("R.").Register(registry),
               "must end in '_total'");
  Family<Gauge>& family = BuildGauge().Name("maskserve_depth").Help("D.").Register(registry);
  EXPECT_DEATH(family.Add({{"1bad", "x"}}), "maskserve_depth");
}

TEST(MetricsRegistryTest, CollectMergesConstantLabelsAndSortsFamilies) {
  Registry registry;
  Family<Gauge>& zebra = BuildGauge().Name("maskserve_zebra").Help("Z.").Register(registry);
  Family<Counter>& alpha = BuildCounter()
                               .Name("maskserve_alpha_total")
                               .Help("A.")
                               .Labels({{"zone", "eu"}})
                               .Register(registry);
  BuildGauge().Name("maskserve_empty").Help("No series yet.").Register(registry);
  zebra.Add({}).Set(3);
  alpha.Add({{"rpc", "b"}}).Increment(2);
  alpha.Add({{"rpc", "a"}}).Increment(1);

  const std::vector<MetricFamily> families = registry.Collect();
  ASSERT_EQ(families.size(), 2u);  // the empty family is left out
  EXPECT_EQ(families[0].name, "maskserve_alpha_total");
  ASSERT_EQ(families[0].metrics.size(), 2u);
  EXPECT_EQ(families[0].metrics[0].labels, (Labels{{"rpc", "a"}, {"zone", "eu"}}));
  EXPECT_EQ(families[0].metrics[0].value, 1);
  EXPECT_EQ(families[0].metrics[1].value, 2);
  EXPECT_EQ(families[1].name, "maskserve_zebra");
  EXPECT_EQ(families[1].metrics[0].value, 3);
}

TEST(MetricsRegistryTest, RemoveSeriesAndFamily) {
  Registry registry;
  Family<Gauge>& family = BuildGauge().Name("maskserve_g").Help("G.").Register(registry);
  Gauge& a = family.Add({{"k", "a"}});
  family.Add({{"k", "b"}});
  EXPECT_TRUE(family.Remove(&a));
  EXPECT_FALSE(family.Remove(&a));
  ASSERT_EQ(registry.Collect().size(), 1u);
  EXPECT_EQ(registry.Collect()[0].metrics.size(), 1u);
  EXPECT_TRUE(registry.RemoveFamily(family));
  EXPECT_TRUE(registry.Collect().empty());
}

class FixedCollectable : public Collectable {
 public:
  explicit FixedCollectable(std::string name) : name_(std::move(name)) {}
  std::vector<MetricFamily> Collect() const override {
    return {{name_, "Fixed.", MetricType::kGauge, {ClientMetric::WithValue({}, 42)}}};
  }

 private:
  std::string name_;
};

TEST(MetricsRegistryTest, CollectablesAreWeakAndMerged) {
  Registry registry;
  BuildGauge().Name("maskserve_own").Help("Own.").Register(registry).Add({}).Set(1);
  auto fixed = std::make_shared<FixedCollectable>("maskserve_fixed");
  registry.RegisterCollectable(fixed);
  registry.RegisterCollectable(fixed);  // no duplicate
  std::vector<MetricFamily> families = registry.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "maskserve_fixed");
  EXPECT_EQ(families[0].metrics.size(), 1u);
  EXPECT_EQ(families[1].name, "maskserve_own");

  fixed.reset();  // expired: skipped
  EXPECT_EQ(registry.Collect().size(), 1u);

  auto other = std::make_shared<FixedCollectable>("maskserve_other");
  registry.RegisterCollectable(other);
  EXPECT_TRUE(registry.RemoveCollectable(other));
  EXPECT_FALSE(registry.RemoveCollectable(other));
  EXPECT_EQ(registry.Collect().size(), 1u);
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
