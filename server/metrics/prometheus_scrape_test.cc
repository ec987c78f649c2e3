// End to end: a real Prometheus server, started on loopback with a scrape
// config pointing at a live MetricsExposer, scrapes it; the test then reads
// the values back through Prometheus' HTTP query API. Skips when the
// `prometheus` binary is absent. Bounded waits only; the server is stopped
// (SIGTERM, then SIGKILL) and reaped whatever happens.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/metrics/builder.h"
#include "server/metrics/metrics_exposer.h"
#include "server/metrics/process_metrics_collector.h"
#include "server/metrics/registry.h"
#include "server/metrics/testing/http_get.h"
#include "server/metrics/testing/subprocess.h"

namespace maskserve {
namespace metrics {
namespace {

using testing::HttpGet;
using testing::HttpResponse;
using testing::Subprocess;
using testing::TempDir;

constexpr absl::Duration kScrapeDeadline = absl::Seconds(60);

// A Prometheus server owned by the test.
struct RunningPrometheus {
  std::unique_ptr<Subprocess> process;
  int port = 0;
  std::string log_path;
};

absl::StatusOr<RunningPrometheus> StartPrometheus(const std::string& binary,
                                                  const TempDir& dir,
                                                  int target_port) {
  const std::string config = dir.path() + "/prometheus.yml";
  absl::Status written =
      testing::WriteFile(config, absl::StrCat("global:\n"
                                              "  scrape_interval: 1s\n"
                                              "  scrape_timeout: 1s\n"
                                              "  evaluation_interval: 1s\n"
                                              "scrape_configs:\n"
                                              "  - job_name: maskserve\n"
                                              "    static_configs:\n"
                                              "      - targets: ['127.0.0.1:",
                                              target_port, "']\n"));
  if (!written.ok()) return written;
  // The port is picked free but may be taken before Prometheus binds it:
  // then Prometheus exits, and we try another.
  absl::Status last = absl::UnavailableError("not started");
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<int> port = testing::PickFreePort();
    if (!port.ok()) return port.status();
    RunningPrometheus prometheus;
    prometheus.port = *port;
    prometheus.log_path =
        absl::StrCat(dir.path(), "/prometheus", attempt, ".log");
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
        {binary, "--config.file=" + config,
         "--storage.tsdb.path=" + absl::StrCat(dir.path(), "/data", attempt),
         absl::StrCat("--web.listen-address=127.0.0.1:", *port),
         "--log.level=warn"},
        "", prometheus.log_path);
    if (!process.ok()) return process.status();
    prometheus.process = std::move(*process);
    // Ready when /-/ready answers 200.
    const absl::Time deadline = absl::Now() + kScrapeDeadline;
    while (absl::Now() < deadline && prometheus.process->Running()) {
      absl::StatusOr<HttpResponse> ready =
          HttpGet(prometheus.port, "/-/ready", absl::Seconds(2));
      if (ready.ok() && ready->status == 200) return prometheus;
      absl::SleepFor(absl::Milliseconds(200));
    }
    last = absl::UnavailableError(
        absl::StrCat("prometheus did not become ready; log:\n",
                     testing::ReadFileOrEmpty(prometheus.log_path)));
    prometheus.process->Stop();
  }
  return last;
}

// The value of the single sample an instant query returns, or nullopt
// while Prometheus has none.
std::optional<std::string> QueryValue(int prometheus_port,
                                      const std::string& promql) {
  absl::StatusOr<HttpResponse> response = HttpGet(
      prometheus_port, "/api/v1/query?query=" + testing::UrlEncode(promql),
      absl::Seconds(5));
  if (!response.ok() || response->status != 200) return std::nullopt;
  // {"status":"success","data":{"resultType":"vector","result":[{"metric":
  // {...},"value":[1700000000.123,"7"]}]}}
  static const std::regex kValue(R"re("value":\[[0-9.e+]+,"([^"]*)"\])re");
  std::smatch match;
  if (!absl::StrContains(response->body, "\"status\":\"success\"") ||
      !std::regex_search(response->body, match, kValue)) {
    return std::nullopt;
  }
  return match[1].str();
}

// Polls `promql` until it returns `expected` or the deadline passes; returns
// the last value seen.
std::optional<std::string> WaitForValue(int prometheus_port,
                                        const std::string& promql,
                                        const std::string& expected) {
  std::optional<std::string> value;
  const absl::Time deadline = absl::Now() + kScrapeDeadline;
  while (absl::Now() < deadline) {
    value = QueryValue(prometheus_port, promql);
    if (value == expected) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return value;
}

// Polls `promql` until it returns any sample (e.g. a filter like "x > 0"
// holds) or the deadline passes.
bool WaitForAnySample(int prometheus_port, const std::string& promql) {
  const absl::Time deadline = absl::Now() + kScrapeDeadline;
  while (absl::Now() < deadline) {
    if (QueryValue(prometheus_port, promql).has_value()) return true;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return false;
}

TEST(MetricsPrometheusScrapeTest, RealPrometheusScrapesTheExposer) {
  const std::optional<std::string> binary =
      testing::FindExecutable("prometheus", "MASKSERVE_PROMETHEUS");
  if (!binary) {
    GTEST_SKIP() << "prometheus not found (Debian package 'prometheus'); "
                    "skipping the end-to-end scrape";
  }

  auto registry = std::make_shared<Registry>();
  Family<Counter>& requests = BuildCounter()
                                  .Name("maskserve_requests_total")
                                  .Help("Requests by RPC and status code.")
                                  .Register(*registry);
  requests.Add({{"rpc", "Predict"}, {"code", "OK"}}).Increment(7);
  requests.Add({{"rpc", "Predict"}, {"code", "NOT_FOUND"}}).Increment(2);
  Histogram& latency = BuildHistogram()
                           .Name("maskserve_request_duration_seconds")
                           .Help("Request latency.")
                           .Register(*registry)
                           .Add({{"rpc", "Predict"}}, DefaultLatencyBuckets());
  for (int i = 0; i < 9; ++i) latency.Observe(0.003 * i);
  auto process = std::make_shared<ProcessMetricsCollector>();
  registry->RegisterCollectable(process);

  MetricsExposer::Options options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
      MetricsExposer::Create(options);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  (*exposer)->RegisterCollectable(registry);

  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<RunningPrometheus> prometheus =
      StartPrometheus(*binary, **dir, (*exposer)->port());
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();

  // The target is up: Prometheus scraped and parsed the exposition.
  EXPECT_EQ(WaitForValue(prometheus->port, "up{job=\"maskserve\"}", "1"), "1")
      << testing::ReadFileOrEmpty(prometheus->log_path);
  EXPECT_EQ(WaitForValue(
                prometheus->port,
                "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "7"),
            "7");
  EXPECT_EQ(
      WaitForValue(prometheus->port, "sum(maskserve_requests_total)", "9"),
      "9");
  EXPECT_EQ(WaitForValue(prometheus->port,
                         "maskserve_request_duration_seconds_count", "9"),
            "9");
  EXPECT_EQ(WaitForValue(
                prometheus->port,
                "maskserve_request_duration_seconds_bucket{le=\"0.01\"}", "4"),
            "4");  // 0, 0.003, 0.006, 0.009
  EXPECT_TRUE(WaitForAnySample(prometheus->port,
                               "maskserve_process_resident_memory_bytes > 0"));
  // No sample was rejected for being malformed or duplicated.
  EXPECT_TRUE(WaitForAnySample(
      prometheus->port,
      "scrape_samples_scraped{job=\"maskserve\"} > 0 and "
      "scrape_samples_post_metric_relabeling{job=\"maskserve\"}"
      " == scrape_samples_scraped{job=\"maskserve\"}"));

  // Updates after the first scrape arrive too.
  requests.Add({{"rpc", "Predict"}, {"code", "OK"}}).Increment(5);
  EXPECT_EQ(WaitForValue(
                prometheus->port,
                "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "12"),
            "12");

  Subprocess& server = *prometheus->process;
  server.Stop();
  EXPECT_FALSE(server.Running());
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
