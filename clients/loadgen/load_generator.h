// File: clients/loadgen/load_generator.h
//
// Drives Predict load against a maskserve server: `concurrency` threads,
// each with a synchronous stub and one request in flight, spread over
// `channels` separate connections, pick a profile per request (uniform or
// Zipf), send `inputs_per_request` random texts and time the call. The run
// stops after `requests` requests or after `duration` (plus warm-up), and
// never runs longer than `max_duration`.
//
// Example:
//   LoadOptions options;
//   options.connection.address = "127.0.0.1:50051";
//   options.concurrency = 16;
//   absl::StatusOr<LoadReport> report = RunLoad(options);
//   std::cout << ReportJson(*report) << "\n";
//
// Thread safety: RunLoad() may be called from any thread; it owns its
// worker threads and joins them before returning.
#ifndef MASKSERVE_CLIENTS_LOADGEN_LOAD_GENERATOR_H_
#define MASKSERVE_CLIENTS_LOADGEN_LOAD_GENERATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/common/channel.h"
#include "clients/loadgen/load_report.h"
#include "clients/loadgen/popularity.h"

namespace maskserve {
namespace loadgen {

struct LoadOptions {
  client::ConnectionOptions connection;
  // Worker threads, each with one request in flight.
  int concurrency = 8;
  // Separate connections; 0 = one per 16 threads.
  int channels = 0;
  // Measured run time (after warm-up); ignored when `requests` > 0.
  absl::Duration duration = absl::Seconds(10);
  // Stop after this many requests (warm-up included); 0 = run for `duration`.
  uint64_t requests = 0;
  // Requests started during the warm-up are not measured.
  absl::Duration warmup = absl::ZeroDuration();
  // Hard cap on the whole run.
  absl::Duration max_duration = absl::Hours(1);
  // Profiles are "<profile_prefix><i>" for i in [0, profiles).
  int profiles = 100;
  std::string profile_prefix = "loadgen-";
  Popularity popularity = Popularity::kZipf;
  double zipf_s = 1.1;
  int inputs_per_request = 1;
  int text_words = 16;
  uint32_t top_k = 0;
  uint64_t seed = 1;
};

// The id of profile `index`.
std::string ProfileId(const LoadOptions& options, int index);

// Validates `options` (INVALID_ARGUMENT naming the option).
absl::Status ValidateLoadOptions(const LoadOptions& options);

// Opens the channels `options` asks for (each on its own connection).
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const LoadOptions& options);

// Runs the load and summarises it. Fails only when the options are invalid or
// a channel cannot be created; RPC errors are counted in the report.
absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace loadgen
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_LOADGEN_LOAD_GENERATOR_H_
