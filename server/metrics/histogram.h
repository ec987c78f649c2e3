// File: server/metrics/histogram.h
//
// Histogram: counts observations (latencies, batch sizes) into buckets with
// fixed upper bounds, plus their sum and count. Exposed as cumulative
// `<name>_bucket{le="..."}` series ending with le="+Inf", then `<name>_sum`
// and `<name>_count`. Bounds are inclusive (an observation equal to a bound
// lands in that bucket), as in Prometheus.
//
// Thread safety: Observe is thread-safe and lock-free (a binary search, one
// atomic add on the bucket, one compare-exchange on the sum); no global or
// per-histogram lock. A scrape that races with Observe may see the sum one
// observation ahead of or behind the buckets; buckets and count always agree.
//
// Example:
//   Histogram& latency = latency_family.Add(
//       {{"rpc", "Predict"}}, ExponentialBuckets(0.0005, 2, 14));
//   latency.Observe(elapsed_seconds);
#ifndef MASKSERVE_SERVER_METRICS_HISTOGRAM_H_
#define MASKSERVE_SERVER_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "server/metrics/metric_family.h"

namespace maskserve {
namespace metrics {

// Upper bounds of the finite buckets, strictly increasing. The +Inf bucket is
// implicit (a trailing +Inf given here is accepted and ignored).
using BucketBoundaries = std::vector<double>;

// `count` bounds start, start*factor, start*factor^2, ...
// REQUIRES: start > 0, factor > 1, count >= 1 (aborts otherwise).
BucketBoundaries ExponentialBuckets(double start, double factor, int count);

// `count` bounds start, start+width, start+2*width, ...
// REQUIRES: width > 0, count >= 1 (aborts otherwise).
BucketBoundaries LinearBuckets(double start, double width, int count);

// Request-latency bounds in seconds, 5 ms .. 10 s (those of Prometheus'
// client libraries).
BucketBoundaries DefaultLatencyBuckets();

class Histogram {
 public:
  static constexpr MetricType kType = MetricType::kHistogram;

  // REQUIRES: ValidateArgs(buckets).ok() (aborts otherwise).
  explicit Histogram(const BucketBoundaries& buckets);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one observation. NaN lands in the +Inf bucket and makes the sum
  // NaN, as in the Go client.
  void Observe(double value);

  // The finite bucket bounds (without +Inf).
  const BucketBoundaries& bucket_bounds() const { return bounds_; }

  // Snapshot for exposition: cumulative buckets (last is +Inf), count, sum.
  ClientMetric Collect() const;

  // OK when `buckets` are strictly increasing finite numbers, optionally
  // followed by +Inf.
  static absl::Status ValidateArgs(const BucketBoundaries& buckets);

 private:
  BucketBoundaries bounds_;
  // counts_[i] observations in (bounds_[i-1], bounds_[i]]; the last entry is
  // the +Inf bucket. Not cumulative: Observe touches exactly one counter.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_HISTOGRAM_H_
