// maskserve_loadgen: Predict load against a maskserve server; prints one JSON
// line with throughput and latency percentiles, then a short table.
//
//   maskserve_loadgen --address=127.0.0.1:50051 --concurrency=16
//       --duration_seconds=30 --profiles=1000 --popularity=zipf --setup_profiles
//
// Exit codes: 0 ran (errors are counted in the report; see
// --max_error_fraction), 1 setup failed or too many requests failed,
// 2 usage.
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "clients/loadgen/load_generator.h"
#include "clients/loadgen/profile_setup.h"

constexpr char kDefaultAddress[] = "localhost:50051";

ABSL_FLAG(std::string, address, kDefaultAddress,
          "Server address host:port (default from env MASKSERVE_ADDRESS)");
ABSL_FLAG(std::string, api_key, "", "API key (default from env MASKSERVE_API_KEY)");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA of the server certificate (enables TLS)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "", "Name expected in the server certificate");
ABSL_FLAG(double, timeout_seconds, 10, "Deadline of each Predict");
ABSL_FLAG(int, concurrency, 8, "Worker threads, one request in flight each");
ABSL_FLAG(int, channels, 0, "Separate connections (0 = one per 16 threads)");
ABSL_FLAG(double, duration_seconds, 10, "Measured run time (ignored with --requests)");
ABSL_FLAG(uint64_t, requests, 0, "Stop after this many requests (0 = run for the duration)");
ABSL_FLAG(double, warmup_seconds, 0, "Unmeasured warm-up before the measured window");
ABSL_FLAG(double, max_duration_seconds, 3600, "Hard cap on the whole run");
ABSL_FLAG(int, profiles, 100, "Distinct profiles, ids <profile_prefix><i>");
ABSL_FLAG(std::string, profile_prefix, "loadgen-", "Prefix of the profile ids");
ABSL_FLAG(std::string, popularity, "zipf", "Profile popularity: uniform or zipf");
ABSL_FLAG(double, zipf_s, 1.1, "Zipf exponent s");
ABSL_FLAG(int, inputs_per_request, 1, "Texts per Predict call");
ABSL_FLAG(int, text_words, 16, "Words per text");
ABSL_FLAG(uint32_t, top_k, 0, "Predict top_k");
ABSL_FLAG(uint64_t, seed, 1, "Seed of profile choice and texts");
ABSL_FLAG(bool, setup_profiles, false, "Train the missing profiles first and wait for them");
ABSL_FLAG(bool, setup_retrain, false, "With --setup_profiles: retrain existing profiles too");
ABSL_FLAG(std::string, setup_method, "XPEFT_HARD",
          "Method of the setup training jobs (X-PEFT exercises per-profile adapters)");
ABSL_FLAG(int, setup_examples, 8, "Synthetic examples per setup profile");
ABSL_FLAG(uint32_t, setup_epochs, 2, "Epochs of the setup training jobs");
ABSL_FLAG(double, setup_timeout_seconds, 600, "Give up setup after this long");
ABSL_FLAG(double, max_error_fraction, 1.0,
          "Exit 1 when more than this fraction of the requests failed");
ABSL_FLAG(bool, table, true, "Also print the human-readable table (to stdout, after the JSON)");

namespace maskserve {
namespace loadgen {
namespace {

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "maskserve_loadgen [flags]: Predict load; prints a JSON line and a table");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // The environment fills in flags left at their defaults (read after parsing
  // so that --helpfull never prints the API key).
  if (const char* env = std::getenv("MASKSERVE_ADDRESS");
      env != nullptr && *env != '\0' && absl::GetFlag(FLAGS_address) == kDefaultAddress) {
    absl::SetFlag(&FLAGS_address, env);
  }
  if (const char* env = std::getenv("MASKSERVE_API_KEY");
      env != nullptr && *env != '\0' && absl::GetFlag(FLAGS_api_key).empty()) {
    absl::SetFlag(&FLAGS_api_key, env);
  }
  if (positional.size() > 1) {
    std::cerr << "maskserve_loadgen: unexpected argument '" << positional[1] << "'\n";
    return 2;
  }
  LoadOptions options;
  client::ConnectionOptions& c = options.connection;
  c.address = absl::GetFlag(FLAGS_address);
  c.api_key = absl::GetFlag(FLAGS_api_key);
  c.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  c.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  c.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  c.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  c.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.channels = absl::GetFlag(FLAGS_channels);
  options.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  options.requests = absl::GetFlag(FLAGS_requests);
  options.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  options.max_duration = absl::Seconds(absl::GetFlag(FLAGS_max_duration_seconds));
  options.profiles = absl::GetFlag(FLAGS_profiles);
  options.profile_prefix = absl::GetFlag(FLAGS_profile_prefix);
  absl::StatusOr<Popularity> popularity = ParsePopularity(absl::GetFlag(FLAGS_popularity));
  if (!popularity.ok()) {
    std::cerr << "maskserve_loadgen: " << popularity.status().message() << "\n";
    return 2;
  }
  options.popularity = *popularity;
  options.zipf_s = absl::GetFlag(FLAGS_zipf_s);
  options.inputs_per_request = absl::GetFlag(FLAGS_inputs_per_request);
  options.text_words = absl::GetFlag(FLAGS_text_words);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.seed = absl::GetFlag(FLAGS_seed);
  if (absl::Status status = ValidateLoadOptions(options); !status.ok()) {
    std::cerr << "maskserve_loadgen: " << status.message() << "\n";
    return 2;
  }

  if (absl::GetFlag(FLAGS_setup_profiles)) {
    SetupOptions setup;
    if (!v1::Method_Parse(absl::GetFlag(FLAGS_setup_method), &setup.method) ||
        setup.method == v1::METHOD_UNSPECIFIED) {
      std::cerr << "maskserve_loadgen: setup_method: unknown method '"
                << absl::GetFlag(FLAGS_setup_method) << "'\n";
      return 2;
    }
    setup.examples = absl::GetFlag(FLAGS_setup_examples);
    setup.epochs = absl::GetFlag(FLAGS_setup_epochs);
    setup.retrain = absl::GetFlag(FLAGS_setup_retrain);
    setup.timeout = absl::Seconds(absl::GetFlag(FLAGS_setup_timeout_seconds));
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client::MakeChannel(c);
    if (!channel.ok()) {
      std::cerr << "maskserve_loadgen: " << channel.status().message() << "\n";
      return 2;
    }
    absl::Status status = SetupProfiles(options, setup, *channel, std::cerr);
    if (!status.ok()) {
      std::cerr << "maskserve_loadgen: " << status.message() << "\n";
      return 1;
    }
  }

  absl::StatusOr<LoadReport> report = RunLoad(options);
  if (!report.ok()) {
    std::cerr << "maskserve_loadgen: " << report.status().message() << "\n";
    return 2;
  }
  std::cout << ReportJson(*report) << "\n";
  if (absl::GetFlag(FLAGS_table)) std::cout << ReportTable(*report);
  std::cout << std::flush;
  const uint64_t failed = report->requests - report->ok;
  if (report->requests == 0 ||
      double(failed) > absl::GetFlag(FLAGS_max_error_fraction) * double(report->requests)) {
    std::cerr << "maskserve_loadgen: " << failed << " of " << report->requests
              << " requests failed\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace loadgen
}  // namespace maskserve

int main(int argc, char** argv) { return maskserve::loadgen::Main(argc, argv); }
