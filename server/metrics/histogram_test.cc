#include "server/metrics/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace maskserve {
namespace metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(MetricsHistogramTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (BucketBoundaries{1, 2, 4, 8}));
  EXPECT_EQ(LinearBuckets(0, 16, 3), (BucketBoundaries{0, 16, 32}));
  EXPECT_EQ(DefaultLatencyBuckets().size(), 11u);
  EXPECT_TRUE(Histogram::ValidateArgs(DefaultLatencyBuckets()).ok());
}

TEST(MetricsHistogramDeathTest, BucketHelpersRejectBadArguments) {
  EXPECT_DEATH(ExponentialBuckets(0, 2, 3), "ExponentialBuckets");
  EXPECT_DEATH(ExponentialBuckets(1, 1, 3), "ExponentialBuckets");
  EXPECT_DEATH(LinearBuckets(0, 0, 3), "LinearBuckets");
  EXPECT_DEATH(Histogram({2, 1}), "strictly increasing");
}

TEST(MetricsHistogramTest, ValidateArgs) {
  EXPECT_TRUE(Histogram::ValidateArgs({}).ok());
  EXPECT_TRUE(Histogram::ValidateArgs({1, 2, kInf}).ok());
  EXPECT_FALSE(Histogram::ValidateArgs({1, 1}).ok());
  EXPECT_FALSE(Histogram::ValidateArgs({2, 1}).ok());
  EXPECT_FALSE(Histogram::ValidateArgs({1, std::nan(""), 3}).ok());
  EXPECT_FALSE(Histogram::ValidateArgs({-kInf, 1}).ok());
}

TEST(MetricsHistogramTest, BoundsAreInclusiveAndBucketsCumulative) {
  Histogram histogram({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 100.0}) histogram.Observe(v);
  const ClientMetric m = histogram.Collect();
  ASSERT_EQ(m.buckets.size(), 4u);
  EXPECT_EQ(m.buckets[0].upper_bound, 1);
  EXPECT_EQ(m.buckets[0].cumulative_count, 2u);  // 0.5, 1.0
  EXPECT_EQ(m.buckets[1].cumulative_count, 4u);  // + 1.5, 2.0
  EXPECT_EQ(m.buckets[2].cumulative_count, 6u);  // + 3.0, 4.0
  EXPECT_TRUE(std::isinf(m.buckets[3].upper_bound));
  EXPECT_EQ(m.buckets[3].cumulative_count, 7u);
  EXPECT_EQ(m.sample_count, 7u);
  EXPECT_DOUBLE_EQ(m.sample_sum, 112.0);
}

TEST(MetricsHistogramTest, TrailingInfIsImplicit) {
  Histogram histogram({1, kInf});
  EXPECT_EQ(histogram.bucket_bounds(), (BucketBoundaries{1}));
  histogram.Observe(5);
  EXPECT_EQ(histogram.Collect().buckets.size(), 2u);
}

TEST(MetricsHistogramTest, NanGoesToInfBucket) {
  Histogram histogram({1});
  histogram.Observe(std::nan(""));
  const ClientMetric m = histogram.Collect();
  EXPECT_EQ(m.buckets[0].cumulative_count, 0u);
  EXPECT_EQ(m.buckets[1].cumulative_count, 1u);
  EXPECT_TRUE(std::isnan(m.sample_sum));
}

TEST(MetricsHistogramTest, NoFiniteBuckets) {
  Histogram histogram({});
  histogram.Observe(3);
  const ClientMetric m = histogram.Collect();
  ASSERT_EQ(m.buckets.size(), 1u);
  EXPECT_EQ(m.buckets[0].cumulative_count, 1u);
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
