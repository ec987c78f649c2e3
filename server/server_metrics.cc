#include "server/server_metrics.h"

#include <utility>

#include "absl/status/status.h"

namespace maskserve {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Histogram;
using prometheus::Registry;

Histogram& Plain(Registry& r, const char* name, const char* help,
                 const Histogram::BucketBoundaries& buckets) {
  return BuildHistogram().Name(name).Help(help).Register(r).Add({}, buckets);
}

Counter& PlainCounter(Registry& r, const char* name, const char* help) {
  return BuildCounter().Name(name).Help(help).Register(r).Add({});
}

Family<Histogram>& HistogramFamily(Registry& r, const char* name, const char* help) {
  return BuildHistogram().Name(name).Help(help).Register(r);
}

const Histogram::BucketBoundaries& StoreBuckets() {
  static const Histogram::BucketBoundaries buckets = ExponentialBuckets(0.00001, 2, 20);
  return buckets;
}

const Histogram::BucketBoundaries& PhaseBuckets() {
  static const Histogram::BucketBoundaries buckets = ExponentialBuckets(0.00005, 2, 18);
  return buckets;
}

}  // namespace

const char* RpcName(Rpc rpc) {
  static const char* const kNames[] = {
      "Predict",          "TrainProfile", "GetTrainingJob", "WatchTrainingJob", "CancelTrainingJob",
      "ListTrainingJobs", "GetProfile",   "ListProfiles",   "DeleteProfile",    "ExportProfile",
      "ImportProfile",    "GetModelInfo", "CreateBackup"};
  return kNames[size_t(rpc)];
}

Histogram::BucketBoundaries ExponentialBuckets(double start, double factor, int count) {
  Histogram::BucketBoundaries bounds;
  bounds.reserve(size_t(count));
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

ServerMetrics::ServerMetrics(Registry& r)
    : batch_sequences(Plain(r, "maskserve_batch_sequences", "Sequences per backbone forward.",
                            ExponentialBuckets(1, 2, 10))),
      batch_tokens(Plain(r, "maskserve_batch_tokens", "Padded tokens per backbone forward.",
                         ExponentialBuckets(16, 2, 12))),
      batch_profiles(Plain(r, "maskserve_batch_profiles", "Distinct profiles per backbone forward.",
                           ExponentialBuckets(1, 2, 10))),
      backbone_forward_seconds(Plain(r, "maskserve_backbone_forward_seconds",
                                     "Backbone forward time per batch.",
                                     ExponentialBuckets(0.0002, 2, 16))),
      queue_wait_seconds(Plain(r, "maskserve_queue_wait_seconds",
                               "Time a Predict call waited in the batching queue.",
                               ExponentialBuckets(0.0001, 2, 16))),
      hot_swaps(PlainCounter(r, "maskserve_hot_swaps_total",
                             "Profile versions swapped into serving by the trainer.")),
      profile_loads(PlainCounter(r, "maskserve_profile_loads_total",
                                 "Profiles loaded from the store into the resident table.")),
      profile_changes(BuildCounter()
                          .Name("maskserve_profile_changes_total")
                          .Help("Profile changes (this replica's and others') delivered by the "
                                "store's change feed, by kind.")
                          .Register(r)),
      profile_changes_published(profile_changes.Add({{"kind", "published"}})),
      profile_changes_deleted(profile_changes.Add({{"kind", "deleted"}})),
      profile_change_delay_seconds(
          Plain(r, "maskserve_profile_change_delay_seconds",
                "Time from a change's commit by its writer (on the writer's clock) until the "
                "change feed delivered it here.",
                ExponentialBuckets(0.0005, 2, 16))),
      change_feed_interruptions(
          PlainCounter(r, "maskserve_profile_change_feed_interruptions_total",
                       "Times the store's change feed was lost (resident profiles are then "
                       "confirmed with the store until it is back).")),
      training_duration_seconds(Plain(r, "maskserve_training_duration_seconds",
                                      "Wall time of training jobs.",
                                      ExponentialBuckets(0.1, 2, 14))),
      requests_(BuildCounter()
                    .Name("maskserve_requests_total")
                    .Help("RPCs by method and status code.")
                    .Register(r)),
      latency_(HistogramFamily(r, "maskserve_request_duration_seconds", "RPC latency by method.")),
      store_read_seconds_(HistogramFamily(r, "maskserve_store_read_seconds",
                                          "Profile store read latency by operation.")),
      store_write_seconds_(HistogramFamily(r, "maskserve_store_write_seconds",
                                           "Profile store write latency by operation.")),
      training_busy_seconds_(
          BuildCounter()
              .Name("maskserve_training_busy_seconds_total")
              .Help("Trainer time spent on each tenant's jobs (its share of the trainer).")
              .Register(r)),
      predict_phase_seconds_(HistogramFamily(
          r, "maskserve_predict_phase_seconds",
          "Time of an answered Predict call by phase: tokenize (on the RPC thread), queue "
          "(waiting for a batch), inference (from its batch's start until the answer).")),
      predict_tokenize_seconds_(
          predict_phase_seconds_.Add({{"phase", "tokenize"}}, PhaseBuckets())),
      predict_queue_seconds_(predict_phase_seconds_.Add({{"phase", "queue"}}, PhaseBuckets())),
      predict_inference_seconds_(
          predict_phase_seconds_.Add({{"phase", "inference"}}, PhaseBuckets())),
      predict_input_tokens_(Plain(r, "maskserve_predict_input_tokens",
                                  "Tokens per Predict input after truncation, special tokens "
                                  "included.",
                                  ExponentialBuckets(4, 2, 10))) {
  for (size_t rpc = 0; rpc < size_t(Rpc::kCount); ++rpc) {
    for (int code = 0; code < kCodes; ++code) request_counters_[rpc][size_t(code)].store(nullptr);
    latency_histograms_[rpc] =
        &latency_.Add({{"rpc", RpcName(Rpc(rpc))}}, ExponentialBuckets(0.0002, 2, 18));
    // Pre-create the OK series so dashboards see every RPC from the start.
    request_counters_[rpc][0].store(&requests_.Add({{"rpc", RpcName(Rpc(rpc))}, {"code", "OK"}}));
  }
}

void ServerMetrics::RecordRequest(Rpc rpc, grpc::StatusCode code, double seconds) {
  const int c = int(code) >= 0 && int(code) < kCodes ? int(code) : 2;
  std::atomic<Counter*>& slot = request_counters_[size_t(rpc)][size_t(c)];
  Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // absl's names are gRPC's ("NOT_FOUND", ...): the codes are kept in sync.
    counter = &requests_.Add(
        {{"rpc", RpcName(rpc)}, {"code", absl::StatusCodeToString(absl::StatusCode(c))}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
  latency_histograms_[size_t(rpc)]->Observe(seconds);
}

void ServerMetrics::RecordPredict(double tokenize_seconds, double queue_seconds,
                                  double inference_seconds,
                                  const std::vector<int64_t>& input_tokens) {
  predict_tokenize_seconds_.Observe(tokenize_seconds);
  predict_queue_seconds_.Observe(queue_seconds);
  predict_inference_seconds_.Observe(inference_seconds);
  for (int64_t tokens : input_tokens) predict_input_tokens_.Observe(double(tokens));
}

void ServerMetrics::RecordTrainingBusy(const std::string& tenant, double seconds) {
  if (seconds > 0) training_busy_seconds_.Add({{"tenant", tenant}}).Increment(seconds);
}

Histogram& ServerMetrics::StoreRead(const std::string& op) {
  return store_read_seconds_.Add({{"op", op}}, StoreBuckets());
}

Histogram& ServerMetrics::StoreWrite(const std::string& op) {
  return store_write_seconds_.Add({{"op", op}}, StoreBuckets());
}

}  // namespace maskserve
