#include "server/metrics/callback_collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>

#include "server/metrics/registry.h"
#include "server/metrics/text_serializer.h"

namespace maskserve {
namespace metrics {
namespace {

TEST(MetricsCallbackCollectorTest, ValuesAreReadAtCollectTime) {
  std::atomic<int> depth{3};
  CallbackCollector collector;
  ASSERT_TRUE(collector
                  .AddGauge("maskserve_batch_queue_depth", "Requests waiting.",
                            {{"queue", "predict"}}, [&] { return double(depth); })
                  .ok());
  ASSERT_TRUE(collector
                  .AddGauge("maskserve_batch_queue_depth", "Requests waiting.",
                            {{"queue", "train"}}, [] { return 1.0; })
                  .ok());
  ASSERT_TRUE(
      collector.AddCounter("maskserve_store_reads_total", "Reads.", {}, [] { return 12.0; }).ok());
  depth = 5;
  EXPECT_EQ(SerializeText(collector.Collect()),
            "# HELP maskserve_batch_queue_depth Requests waiting.\n"
            "# TYPE maskserve_batch_queue_depth gauge\n"
            "maskserve_batch_queue_depth{queue=\"predict\"} 5\n"
            "maskserve_batch_queue_depth{queue=\"train\"} 1\n"
            "# HELP maskserve_store_reads_total Reads.\n"
            "# TYPE maskserve_store_reads_total counter\n"
            "maskserve_store_reads_total 12\n");
}

TEST(MetricsCallbackCollectorTest, NanSkipsTheSample) {
  CallbackCollector collector;
  ASSERT_TRUE(collector
                  .AddGauge("maskserve_device_memory_bytes", "Device memory.", {},
                            [] { return std::nan(""); })
                  .ok());
  EXPECT_TRUE(collector.Collect().empty());
}

TEST(MetricsCallbackCollectorTest, RejectsInvalidOrDuplicateSeries) {
  CallbackCollector collector;
  auto one = [] { return 1.0; };
  EXPECT_EQ(collector.AddCounter("maskserve_reads", "R.", {}, one).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(collector.AddGauge("maskserve_g", "", {}, one).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(collector.AddGauge("maskserve_g", "G.", {}, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(collector.AddGauge("maskserve_g", "G.", {}, one).ok());
  EXPECT_EQ(collector.AddGauge("maskserve_g", "G.", {}, one).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(collector.AddGauge("maskserve_g", "Other help.", {{"a", "b"}}, one).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsCallbackCollectorTest, ContributesThroughTheRegistry) {
  Registry registry;
  auto collector = std::make_shared<CallbackCollector>();
  ASSERT_TRUE(
      collector
          ->AddGauge("maskserve_profiles_resident", "Resident profiles.", {}, [] { return 7.0; })
          .ok());
  registry.RegisterCollectable(collector);
  const std::vector<MetricFamily> families = registry.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].metrics[0].value, 7);
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
