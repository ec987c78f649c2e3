// Many threads update the same series while others register series and
// scrape: totals must come out exact and scrapes must stay well-formed.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "server/metrics/builder.h"
#include "server/metrics/registry.h"
#include "server/metrics/text_serializer.h"

namespace maskserve {
namespace metrics {
namespace {

constexpr int kThreads = 8;
constexpr int kIterations = 100000;

TEST(MetricsRegistryConcurrencyTest, UpdatesFromManyThreadsAreExact) {
  Registry registry;
  Counter& counter =
      BuildCounter().Name("maskserve_test_events_total").Help("Events.").Register(registry).Add({});
  Gauge& gauge =
      BuildGauge().Name("maskserve_test_level").Help("Level.").Register(registry).Add({});
  Histogram& histogram = BuildHistogram()
                             .Name("maskserve_test_size")
                             .Help("Sizes.")
                             .Register(registry)
                             .Add({}, LinearBuckets(0, 1, 4));  // 0,1,2,3

  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (!done.load()) {
      for (const MetricFamily& family : registry.Collect()) {
        if (family.type != MetricType::kHistogram) continue;
        // Buckets are cumulative and end with the count, even mid-update.
        const ClientMetric& m = family.metrics[0];
        for (size_t i = 1; i < m.buckets.size(); ++i) {
          ASSERT_LE(m.buckets[i - 1].cumulative_count, m.buckets[i].cumulative_count);
        }
        ASSERT_EQ(m.buckets.back().cumulative_count, m.sample_count);
      }
      scrapes.fetch_add(1);
    }
  });

  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        counter.Increment();
        gauge.Increment(2);
        gauge.Decrement();
        histogram.Observe((i + t) % 5);  // 0..4, one in five goes to +Inf
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  done.store(true);
  scraper.join();

  const double total = static_cast<double>(kThreads) * kIterations;
  EXPECT_EQ(counter.Value(), total);
  EXPECT_EQ(gauge.Value(), total);
  const ClientMetric m = histogram.Collect();
  ASSERT_EQ(m.buckets.size(), 5u);
  EXPECT_EQ(m.sample_count, static_cast<uint64_t>(total));
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(m.buckets[i].cumulative_count, static_cast<uint64_t>(total / 5 * (i + 1)));
  }
  EXPECT_EQ(m.sample_sum, total / 5 * (0 + 1 + 2 + 3 + 4));
  EXPECT_GT(scrapes.load(), 0);
}

TEST(MetricsRegistryConcurrencyTest, ConcurrentRegistrationYieldsOneFamilyAndSeries) {
  Registry registry;
  std::vector<Counter*> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Family<Counter>& family =
          BuildCounter().Name("maskserve_test_shared_total").Help("Shared.").Register(registry);
      seen[t] = &family.Add({{"rpc", "Predict"}});
      for (int i = 0; i < 1000; ++i) {
        family.Add({{"rpc", "R" + std::to_string(i % 50)}}).Increment();
      }
      (void)SerializeText(registry.Collect());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::set<Counter*>(seen.begin(), seen.end()).size(), 1u);
  const std::vector<MetricFamily> families = registry.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].metrics.size(), 51u);
  double sum = 0;
  for (const ClientMetric& m : families[0].metrics) sum += m.value;
  EXPECT_EQ(sum, kThreads * 1000.0);
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
