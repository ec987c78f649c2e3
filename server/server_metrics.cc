#include "server/server_metrics.h"

#include "absl/status/status.h"
#include "server/metrics/builder.h"

namespace maskserve {

namespace {

metrics::Histogram& Plain(metrics::Registry& r, const char* name, const char* help,
                          metrics::BucketBoundaries buckets) {
  return metrics::BuildHistogram().Name(name).Help(help).Register(r).Add({}, std::move(buckets));
}
}  // namespace

const char* RpcName(Rpc rpc) {
  static const char* const kNames[] = {"Predict",          "TrainProfile",      "GetTrainingJob",
                                       "WatchTrainingJob", "CancelTrainingJob", "ListTrainingJobs",
                                       "GetProfile",       "ListProfiles",      "DeleteProfile",
                                       "ExportProfile",    "ImportProfile",     "GetModelInfo"};
  return kNames[size_t(rpc)];
}

ServerMetrics::ServerMetrics(metrics::Registry& r)
    : batch_sequences(Plain(r, "maskserve_batch_sequences", "Sequences per backbone forward.",
                            metrics::ExponentialBuckets(1, 2, 10))),
      batch_tokens(Plain(r, "maskserve_batch_tokens", "Padded tokens per backbone forward.",
                         metrics::ExponentialBuckets(16, 2, 12))),
      batch_profiles(Plain(r, "maskserve_batch_profiles", "Distinct profiles per backbone forward.",
                           metrics::ExponentialBuckets(1, 2, 10))),
      backbone_forward_seconds(Plain(r, "maskserve_backbone_forward_seconds",
                                     "Backbone forward time per batch.",
                                     metrics::ExponentialBuckets(0.0002, 2, 16))),
      queue_wait_seconds(Plain(r, "maskserve_queue_wait_seconds",
                               "Time a Predict call waited in the batching queue.",
                               metrics::ExponentialBuckets(0.0001, 2, 16))),
      hot_swaps(metrics::BuildCounter()
                    .Name("maskserve_hot_swaps_total")
                    .Help("Profile versions swapped into serving by the trainer.")
                    .Register(r)
                    .Add({})),
      profile_loads(metrics::BuildCounter()
                        .Name("maskserve_profile_loads_total")
                        .Help("Profiles loaded from the store into the resident table.")
                        .Register(r)
                        .Add({})),
      training_duration_seconds(Plain(r, "maskserve_training_duration_seconds",
                                      "Wall time of training jobs.",
                                      metrics::ExponentialBuckets(0.1, 2, 14))),
      store_read_seconds(metrics::BuildHistogram()
                             .Name("maskserve_store_read_seconds")
                             .Help("Profile store read latency by operation.")
                             .Register(r)),
      store_write_seconds(metrics::BuildHistogram()
                              .Name("maskserve_store_write_seconds")
                              .Help("Profile store write latency by operation.")
                              .Register(r)),
      requests_(metrics::BuildCounter()
                    .Name("maskserve_requests_total")
                    .Help("RPCs by method and status code.")
                    .Register(r)),
      latency_(metrics::BuildHistogram()
                   .Name("maskserve_request_duration_seconds")
                   .Help("RPC latency by method.")
                   .Register(r)) {
  for (size_t rpc = 0; rpc < size_t(Rpc::kCount); ++rpc) {
    for (int code = 0; code < kCodes; ++code) request_counters_[rpc][size_t(code)].store(nullptr);
    latency_histograms_[rpc] =
        &latency_.Add({{"rpc", RpcName(Rpc(rpc))}}, metrics::ExponentialBuckets(0.0002, 2, 18));
    // Pre-create the OK series so dashboards see every RPC from the start.
    request_counters_[rpc][0].store(&requests_.Add({{"rpc", RpcName(Rpc(rpc))}, {"code", "OK"}}));
  }
}

void ServerMetrics::RecordRequest(Rpc rpc, grpc::StatusCode code, double seconds) {
  const int c = int(code) >= 0 && int(code) < kCodes ? int(code) : 2;
  std::atomic<metrics::Counter*>& slot = request_counters_[size_t(rpc)][size_t(c)];
  metrics::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // absl's names are gRPC's ("NOT_FOUND", ...): the codes are kept in sync.
    counter = &requests_.Add(
        {{"rpc", RpcName(rpc)}, {"code", absl::StatusCodeToString(absl::StatusCode(c))}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
  latency_histograms_[size_t(rpc)]->Observe(seconds);
}

}  // namespace maskserve
