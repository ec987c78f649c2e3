// File: server/server_metrics.h
//
// Every metric the server exports (SPEC section 7), created once at start-up
// and held by reference so hot paths never look a metric up by string. Names
// follow maskserve_<subsystem>_<name>_<unit>; labels are low-cardinality
// (RPC, status code, job state, store operation), never a profile id.
// Values that live elsewhere (queue depth, resident profiles, job counts,
// memory) are read at scrape time through callbacks.
//
// Thread safety: metric updates are thread-safe.
#ifndef MASKSERVE_SERVER_SERVER_METRICS_H_
#define MASKSERVE_SERVER_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include <grpcpp/support/status_code_enum.h>

#include "server/metrics/callback_collector.h"
#include "server/metrics/counter.h"
#include "server/metrics/family.h"
#include "server/metrics/histogram.h"
#include "server/metrics/registry.h"

namespace maskserve {

// The RPCs of maskserve.v1.Maskserve, in a fixed order (metric slots).
enum class Rpc {
  kPredict,
  kTrainProfile,
  kGetTrainingJob,
  kWatchTrainingJob,
  kCancelTrainingJob,
  kListTrainingJobs,
  kGetProfile,
  kListProfiles,
  kDeleteProfile,
  kExportProfile,
  kImportProfile,
  kGetModelInfo,
  kCount
};
const char* RpcName(Rpc rpc);

class ServerMetrics {
 public:
  explicit ServerMetrics(metrics::Registry& registry);

  // One finished RPC.
  void RecordRequest(Rpc rpc, grpc::StatusCode code, double seconds);

  metrics::Histogram& batch_sequences;
  metrics::Histogram& batch_tokens;
  metrics::Histogram& batch_profiles;
  metrics::Histogram& backbone_forward_seconds;
  metrics::Histogram& queue_wait_seconds;
  metrics::Counter& hot_swaps;
  metrics::Counter& profile_loads;
  metrics::Histogram& training_duration_seconds;
  metrics::Family<metrics::Histogram>& store_read_seconds;
  metrics::Family<metrics::Histogram>& store_write_seconds;

 private:
  static constexpr int kCodes = 17;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
  // Filled lazily for error codes; Family::Add is idempotent, so a race only
  // stores the same pointer twice.
  std::array<std::array<std::atomic<metrics::Counter*>, kCodes>, size_t(Rpc::kCount)>
      request_counters_;
  std::array<metrics::Histogram*, size_t(Rpc::kCount)> latency_histograms_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_SERVER_METRICS_H_
