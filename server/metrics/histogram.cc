#include "server/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "server/metrics/internal/atomic_double.h"
#include "server/metrics/internal/check.h"

namespace maskserve {
namespace metrics {
namespace {

BucketBoundaries WithoutTrailingInf(BucketBoundaries buckets) {
  if (!buckets.empty() && std::isinf(buckets.back()) && buckets.back() > 0) {
    buckets.pop_back();
  }
  return buckets;
}

}  // namespace

BucketBoundaries ExponentialBuckets(double start, double factor, int count) {
  internal::Check(start > 0 && factor > 1 && count >= 1,
                  "ExponentialBuckets needs start > 0, factor > 1, count >= 1");
  BucketBoundaries buckets;
  buckets.reserve(count);
  double bound = start;
  for (int i = 0; i < count; ++i) {
    buckets.push_back(bound);
    bound *= factor;
  }
  return buckets;
}

BucketBoundaries LinearBuckets(double start, double width, int count) {
  internal::Check(width > 0 && count >= 1, "LinearBuckets needs width > 0, count >= 1");
  BucketBoundaries buckets;
  buckets.reserve(count);
  for (int i = 0; i < count; ++i) buckets.push_back(start + i * width);
  return buckets;
}

BucketBoundaries DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

absl::Status Histogram::ValidateArgs(const BucketBoundaries& buckets) {
  const BucketBoundaries finite = WithoutTrailingInf(buckets);
  for (size_t i = 0; i < finite.size(); ++i) {
    if (!std::isfinite(finite[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram bucket bound ", i, " is not finite"));
    }
    if (i > 0 && !(finite[i - 1] < finite[i])) {
      return absl::InvalidArgumentError("histogram bucket bounds must be strictly increasing");
    }
  }
  return absl::OkStatus();
}

Histogram::Histogram(const BucketBoundaries& buckets)
    : bounds_(WithoutTrailingInf(buckets)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  internal::CheckOk(ValidateArgs(buckets), "Histogram");
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double value) {
  // First bound >= value; NaN compares false everywhere, send it to +Inf.
  const size_t index =
      std::isnan(value)
          ? bounds_.size()
          : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  internal::AtomicAdd(sum_, value);
}

ClientMetric Histogram::Collect() const {
  ClientMetric metric;
  metric.buckets.reserve(bounds_.size() + 1);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    const double bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    metric.buckets.push_back({bound, cumulative});
  }
  metric.sample_count = cumulative;
  metric.sample_sum = sum_.load(std::memory_order_relaxed);
  return metric;
}

}  // namespace metrics
}  // namespace maskserve
