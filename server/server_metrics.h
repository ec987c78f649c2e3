// File: server/server_metrics.h
//
// Every metric the server exports (SPEC section 7) that the server updates
// itself, registered once at start-up in a prometheus::Registry and held by
// reference so hot paths never look a metric up by string. Names follow
// maskserve_<subsystem>_<name>_<unit>; labels are low-cardinality (RPC,
// status code, phase, store operation), never a profile id. Values that
// live elsewhere (queue depth, resident profiles, job counts, memory) are
// read at scrape time (ScrapeTimeMetrics, wired in maskserve_server.cc).
//
// Thread safety: metric updates are thread-safe.
#ifndef MASKSERVE_SERVER_SERVER_METRICS_H_
#define MASKSERVE_SERVER_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <string>
#include <vector>

#include <grpcpp/support/status_code_enum.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace maskserve {

// The RPCs of maskserve.v1.Maskserve and maskserve.v1.Admin, in a fixed
// order (metric slots).
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
  kCreateBackup,
  kCount
};
const char* RpcName(Rpc rpc);

// `count` bucket bounds start, start*factor, start*factor^2, ...
prometheus::Histogram::BucketBoundaries ExponentialBuckets(double start, double factor, int count);

class ServerMetrics {
 public:
  explicit ServerMetrics(prometheus::Registry& registry);

  // One finished RPC.
  void RecordRequest(Rpc rpc, grpc::StatusCode code, double seconds);
  // One answered Predict call: where its time went, and each input's length
  // in tokens after truncation.
  void RecordPredict(double tokenize_seconds, double queue_seconds, double inference_seconds,
                     const std::vector<int64_t>& input_tokens);
  // Trainer time spent on `tenant`'s jobs since the last call for them.
  void RecordTrainingBusy(const std::string& tenant, double seconds);
  // A store operation's latency ("get_profile", ...; reads and writes apart).
  prometheus::Histogram& StoreRead(const std::string& op);
  prometheus::Histogram& StoreWrite(const std::string& op);

  prometheus::Histogram& batch_sequences;
  prometheus::Histogram& batch_tokens;
  prometheus::Histogram& batch_profiles;
  prometheus::Histogram& backbone_forward_seconds;
  prometheus::Histogram& queue_wait_seconds;
  prometheus::Counter& hot_swaps;
  prometheus::Counter& profile_loads;
  // The store's change feed (replicas sharing a PostgreSQL store).
  prometheus::Family<prometheus::Counter>& profile_changes;
  prometheus::Counter& profile_changes_published;
  prometheus::Counter& profile_changes_deleted;
  prometheus::Histogram& profile_change_delay_seconds;
  prometheus::Counter& change_feed_interruptions;
  prometheus::Histogram& training_duration_seconds;

 private:
  static constexpr int kCodes = 17;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Histogram>& store_read_seconds_;
  prometheus::Family<prometheus::Histogram>& store_write_seconds_;
  prometheus::Family<prometheus::Counter>& training_busy_seconds_;
  prometheus::Family<prometheus::Histogram>& predict_phase_seconds_;
  prometheus::Histogram& predict_tokenize_seconds_;
  prometheus::Histogram& predict_queue_seconds_;
  prometheus::Histogram& predict_inference_seconds_;
  prometheus::Histogram& predict_input_tokens_;
  // Filled lazily for error codes; Family::Add returns the series already
  // there for the same labels, so a race only stores the same pointer twice.
  std::array<std::array<std::atomic<prometheus::Counter*>, kCodes>, size_t(Rpc::kCount)>
      request_counters_;
  std::array<prometheus::Histogram*, size_t(Rpc::kCount)> latency_histograms_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_SERVER_METRICS_H_
