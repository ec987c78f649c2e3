#include "server/metrics/names.h"

#include <gtest/gtest.h>

namespace maskserve {
namespace metrics {
namespace {

TEST(MetricsNamesTest, MetricNames) {
  EXPECT_TRUE(ValidateMetricName("maskserve_requests_total").ok());
  EXPECT_TRUE(ValidateMetricName("_x9").ok());
  EXPECT_FALSE(ValidateMetricName("").ok());
  EXPECT_FALSE(ValidateMetricName("9lives").ok());
  EXPECT_FALSE(ValidateMetricName("a-b").ok());
  EXPECT_FALSE(ValidateMetricName("a b").ok());
  EXPECT_FALSE(ValidateMetricName("job:rate5m").ok());  // recording rules only
  EXPECT_FALSE(ValidateMetricName("__internal").ok());
  EXPECT_FALSE(ValidateMetricName("caf\xc3\xa9").ok());
}

TEST(MetricsNamesTest, LabelNamesAndValues) {
  EXPECT_TRUE(ValidateLabelName("rpc").ok());
  EXPECT_TRUE(ValidateLabelName("_a1").ok());
  EXPECT_FALSE(ValidateLabelName("").ok());
  EXPECT_FALSE(ValidateLabelName("1a").ok());
  EXPECT_FALSE(ValidateLabelName("a:b").ok());
  EXPECT_FALSE(ValidateLabelName("__name__").ok());

  EXPECT_TRUE(ValidateLabelValue("").ok());
  EXPECT_TRUE(ValidateLabelValue("with \"quotes\"\n and \\ backslash").ok());
  EXPECT_TRUE(ValidateLabelValue("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80").ok());
  EXPECT_FALSE(ValidateLabelValue("\xff").ok());
  EXPECT_FALSE(ValidateLabelValue("\xc3").ok());              // truncated
  EXPECT_FALSE(ValidateLabelValue("\xc0\xaf").ok());          // overlong
  EXPECT_FALSE(ValidateLabelValue("\xed\xa0\x80").ok());      // surrogate
  EXPECT_FALSE(ValidateLabelValue("\xf4\x90\x80\x80").ok());  // > U+10FFFF
}

TEST(MetricsNamesTest, FamilyRules) {
  EXPECT_TRUE(
      ValidateFamily("maskserve_requests_total", "Requests.", MetricType::kCounter, {}).ok());
  EXPECT_FALSE(ValidateFamily("maskserve_requests", "Requests.", MetricType::kCounter, {}).ok());
  EXPECT_FALSE(ValidateFamily("maskserve_depth_total", "Depth.", MetricType::kGauge, {}).ok());
  EXPECT_FALSE(ValidateFamily("maskserve_depth", "", MetricType::kGauge, {}).ok());
  EXPECT_FALSE(
      ValidateFamily("maskserve_latency_seconds", "Latency.", MetricType::kHistogram, {{"le", "1"}})
          .ok());
  EXPECT_TRUE(ValidateFamily("maskserve_depth", "Depth.", MetricType::kGauge, {{"le", "1"}}).ok());
}

TEST(MetricsNamesTest, SeriesLabelsMayNotRepeatConstantLabels) {
  EXPECT_FALSE(ValidateSeriesLabels({{"zone", "a"}}, {{"zone", "b"}}, MetricType::kGauge).ok());
  EXPECT_TRUE(ValidateSeriesLabels({{"rpc", "a"}}, {{"zone", "b"}}, MetricType::kGauge).ok());
  EXPECT_FALSE(ValidateSeriesLabels({{"le", "0.5"}}, {}, MetricType::kHistogram).ok());
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
