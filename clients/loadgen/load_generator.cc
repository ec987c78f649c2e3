#include "clients/loadgen/load_generator.h"

#include <atomic>
#include <thread>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/loadgen/text_source.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace loadgen {
namespace {

// What one worker thread measured.
struct WorkerResult {
  std::vector<double> latencies_ms;
  std::map<std::string, uint64_t> errors;
  uint64_t requests = 0;
  uint64_t ok = 0;
  std::unordered_set<int> profiles;
};

struct RunWindow {
  absl::Time measure_from;  // requests started earlier are warm-up
  absl::Time stop_at;       // duration mode (and the hard cap)
};

void Worker(const LoadOptions& options, const ProfileSampler& sampler,
            const std::shared_ptr<grpc::Channel>& channel, int index, const RunWindow& window,
            std::atomic<uint64_t>* issued, WorkerResult* result) {
  std::mt19937_64 rng(options.seed * 1000003 + uint64_t(index));
  auto stub = v1::Maskserve::NewStub(channel);
  while (true) {
    const absl::Time start = absl::Now();
    if (start >= window.stop_at) break;
    if (options.requests > 0 && issued->fetch_add(1) >= options.requests) break;
    const int profile = sampler.Sample(rng);
    v1::PredictRequest request;
    request.set_profile_id(ProfileId(options, profile));
    request.set_top_k(options.top_k);
    for (int i = 0; i < options.inputs_per_request; ++i) {
      request.add_inputs()->set_text(RandomText(rng, options.text_words));
    }
    grpc::ClientContext context;
    client::PrepareUnaryContext(options.connection, &context);
    client::SetProfileRoutingHeader(request.profile_id(), &context);
    v1::PredictResponse response;
    const absl::Time sent = absl::Now();
    grpc::Status status = stub->Predict(&context, request, &response);
    const absl::Time done = absl::Now();
    if (sent < window.measure_from) continue;
    ++result->requests;
    result->profiles.insert(profile);
    if (status.ok()) {
      ++result->ok;
      result->latencies_ms.push_back(absl::ToDoubleMilliseconds(done - sent));
    } else {
      ++result->errors[client::StatusCodeName(status.error_code())];
    }
  }
}

}  // namespace

std::string ProfileId(const LoadOptions& options, int index) {
  return absl::StrCat(options.profile_prefix, index);
}

absl::Status ValidateLoadOptions(const LoadOptions& o) {
  if (o.concurrency < 1 || o.concurrency > 4096) {
    return absl::InvalidArgumentError("concurrency: must be in [1, 4096]");
  }
  if (o.channels < 0 || o.channels > 1024) {
    return absl::InvalidArgumentError("channels: must be in [0, 1024]");
  }
  if (o.requests == 0 && o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration_seconds: must be positive (or give --requests)");
  }
  if (o.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("warmup_seconds: must not be negative");
  }
  if (o.inputs_per_request < 1 || o.inputs_per_request > 100000) {
    return absl::InvalidArgumentError("inputs_per_request: must be positive");
  }
  if (o.text_words < 1 || o.text_words > 100000) {
    return absl::InvalidArgumentError("text_words: must be positive");
  }
  return ProfileSampler::Create(o.popularity, o.profiles, o.zipf_s).status();
}

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const LoadOptions& options) {
  const int count = options.channels > 0 ? options.channels : (options.concurrency + 15) / 16;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments arguments;
    // Separate subchannel pools keep the channels on separate connections.
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    arguments.SetInt("maskserve.loadgen.channel", i);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::MakeChannel(options.connection, arguments);
    if (!channel.ok()) return channel.status();
    channels.push_back(*std::move(channel));
  }
  return channels;
}

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options) {
  if (absl::Status status = ValidateLoadOptions(options); !status.ok()) return status;
  absl::StatusOr<ProfileSampler> sampler =
      ProfileSampler::Create(options.popularity, options.profiles, options.zipf_s);
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels = OpenChannels(options);
  if (!channels.ok()) return channels.status();

  const absl::Time start = absl::Now();
  RunWindow window;
  window.measure_from = start + options.warmup;
  window.stop_at = start + options.max_duration;
  if (options.requests == 0) {
    window.stop_at = std::min(window.stop_at, window.measure_from + options.duration);
  }
  std::atomic<uint64_t> issued{0};
  std::vector<WorkerResult> results(size_t(options.concurrency));
  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) {
    const auto& channel = (*channels)[size_t(i) % channels->size()];
    threads.emplace_back(Worker, std::cref(options), std::cref(*sampler), std::cref(channel), i,
                         std::cref(window), &issued, &results[size_t(i)]);
  }
  for (std::thread& thread : threads) thread.join();
  const absl::Time end = absl::Now();

  LoadReport report;
  report.address = options.connection.address;
  report.concurrency = options.concurrency;
  report.channels = static_cast<int>(channels->size());
  report.profiles = options.profiles;
  report.popularity = options.popularity == Popularity::kZipf ? "zipf" : "uniform";
  report.zipf_s = options.popularity == Popularity::kZipf ? options.zipf_s : 0;
  report.inputs_per_request = options.inputs_per_request;
  report.text_words = options.text_words;
  report.duration_seconds = absl::ToDoubleSeconds(end - std::min(end, window.measure_from));
  std::vector<double> latencies;
  std::unordered_set<int> profiles;
  for (WorkerResult& result : results) {
    report.requests += result.requests;
    report.ok += result.ok;
    for (const auto& [code, count] : result.errors) report.errors[code] += count;
    latencies.insert(latencies.end(), result.latencies_ms.begin(), result.latencies_ms.end());
    profiles.insert(result.profiles.begin(), result.profiles.end());
  }
  report.distinct_profiles = static_cast<int>(profiles.size());
  report.latency = SummarizeLatencies(std::move(latencies));
  ComputeThroughput(&report);
  return report;
}

}  // namespace loadgen
}  // namespace maskserve
