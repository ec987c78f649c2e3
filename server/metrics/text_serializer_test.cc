#include "server/metrics/text_serializer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/metrics/builder.h"
#include "server/metrics/registry.h"

namespace maskserve {
namespace metrics {
namespace {

TEST(MetricsTextSerializerTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(1e6), "1e+06");
  EXPECT_EQ(FormatValue(123456), "123456");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTextSerializerTest, ExactExposition) {
  Registry registry;
  Family<Counter>& requests = BuildCounter()
                                  .Name("maskserve_requests_total")
                                  .Help("Requests by RPC and status code.")
                                  .Register(registry);
  requests.Add({{"rpc", "Predict"}, {"code", "OK"}}).Increment(7);
  requests.Add({{"rpc", "Predict"}, {"code", "NOT_FOUND"}}).Increment();

  Family<Gauge>& depth = BuildGauge()
                             .Name("maskserve_batch_queue_depth")
                             .Help("Requests waiting.\nSecond line \\ here.")
                             .Labels({{"instance_role", "primary"}})
                             .Register(registry);
  depth.Add({{"queue", "a \"quoted\"\nname \\ x"}}).Set(-1.5);

  Family<Histogram>& latency = BuildHistogram()
                                   .Name("maskserve_request_duration_seconds")
                                   .Help("Request latency.")
                                   .Register(registry);
  Histogram& predict = latency.Add({{"rpc", "Predict"}}, BucketBoundaries{0.01, 0.1, 1});
  predict.Observe(0.0078125);  // binary fractions: the sum is exact
  predict.Observe(0.0625);
  predict.Observe(0.5);
  predict.Observe(3);

  EXPECT_EQ(SerializeText(registry.Collect()),
            "# HELP maskserve_batch_queue_depth Requests waiting.\\nSecond line \\\\ "
            "here.\n"
            "# TYPE maskserve_batch_queue_depth gauge\n"
            "maskserve_batch_queue_depth{instance_role=\"primary\","
            "queue=\"a \\\"quoted\\\"\\nname \\\\ x\"} -1.5\n"
            "# HELP maskserve_request_duration_seconds Request latency.\n"
            "# TYPE maskserve_request_duration_seconds histogram\n"
            "maskserve_request_duration_seconds_bucket{rpc=\"Predict\",le=\"0.01\"} "
            "1\n"
            "maskserve_request_duration_seconds_bucket{rpc=\"Predict\",le=\"0.1\"} "
            "2\n"
            "maskserve_request_duration_seconds_bucket{rpc=\"Predict\",le=\"1\"} 3\n"
            "maskserve_request_duration_seconds_bucket{rpc=\"Predict\",le=\"+Inf\"} "
            "4\n"
            "maskserve_request_duration_seconds_sum{rpc=\"Predict\"} 3.5703125\n"
            "maskserve_request_duration_seconds_count{rpc=\"Predict\"} 4\n"
            "# HELP maskserve_requests_total Requests by RPC and status code.\n"
            "# TYPE maskserve_requests_total counter\n"
            "maskserve_requests_total{code=\"NOT_FOUND\",rpc=\"Predict\"} 1\n"
            "maskserve_requests_total{code=\"OK\",rpc=\"Predict\"} 7\n");
}

TEST(MetricsTextSerializerTest, UnlabelledSamplesAndHandBuiltHistogram) {
  MetricFamily gauge{"maskserve_up", "Up.", MetricType::kGauge, {ClientMetric::WithValue({}, 1)}};
  ClientMetric histogram_metric;
  histogram_metric.buckets = {{1, 2}};  // no +Inf given
  histogram_metric.sample_count = 3;
  histogram_metric.sample_sum = 4;
  MetricFamily histogram{"maskserve_h", "H.", MetricType::kHistogram, {histogram_metric}};
  EXPECT_EQ(SerializeText({gauge, histogram}),
            "# HELP maskserve_up Up.\n"
            "# TYPE maskserve_up gauge\n"
            "maskserve_up 1\n"
            "# HELP maskserve_h H.\n"
            "# TYPE maskserve_h histogram\n"
            "maskserve_h_bucket{le=\"1\"} 2\n"
            "maskserve_h_bucket{le=\"+Inf\"} 3\n"
            "maskserve_h_sum 4\n"
            "maskserve_h_count 3\n");
}

TEST(MetricsMergeFamiliesTest, SortsMergesAndDropsConflicts) {
  std::vector<MetricFamily> in = {
      {"b", "B.", MetricType::kGauge, {ClientMetric::WithValue({{"k", "2"}}, 2)}},
      {"a", "A.", MetricType::kGauge, {ClientMetric::WithValue({}, 1)}},
      {"b",
       "B.",
       MetricType::kGauge,
       {ClientMetric::WithValue({{"k", "1"}}, 1),
        ClientMetric::WithValue({{"k", "2"}}, 99)}},  // duplicate series
      {"a", "A.", MetricType::kCounter, {ClientMetric::WithValue({{"x", "y"}}, 5)}},
      {"c", "C.", MetricType::kGauge, {}},
  };
  const std::vector<MetricFamily> out = MergeFamilies(in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "a");
  EXPECT_EQ(out[0].type, MetricType::kGauge);
  EXPECT_EQ(out[0].metrics.size(), 1u);
  EXPECT_EQ(out[1].name, "b");
  ASSERT_EQ(out[1].metrics.size(), 2u);
  EXPECT_EQ(out[1].metrics[0].labels, (Labels{{"k", "1"}}));
  EXPECT_EQ(out[1].metrics[1].labels, (Labels{{"k", "2"}}));
  EXPECT_EQ(out[1].metrics[1].value, 2);  // the first one wins
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
