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
#include "server/metrics/testing/prometheus_server.h"
#include "server/metrics/testing/subprocess.h"

namespace maskserve {
namespace metrics {
namespace {

using testing::HttpGet;
using testing::HttpResponse;
using testing::QueryValue;
using testing::RunningPrometheus;
using testing::StartPrometheus;
using testing::Subprocess;
using testing::TempDir;
using testing::WaitForAnySample;
using testing::WaitForValue;

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
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer = MetricsExposer::Create(options);
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
  EXPECT_EQ(
      WaitForValue(prometheus->port, "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "7"),
      "7");
  EXPECT_EQ(WaitForValue(prometheus->port, "sum(maskserve_requests_total)", "9"), "9");
  EXPECT_EQ(WaitForValue(prometheus->port, "maskserve_request_duration_seconds_count", "9"), "9");
  EXPECT_EQ(
      WaitForValue(prometheus->port, "maskserve_request_duration_seconds_bucket{le=\"0.01\"}", "4"),
      "4");  // 0, 0.003, 0.006, 0.009
  EXPECT_TRUE(WaitForAnySample(prometheus->port, "maskserve_process_resident_memory_bytes > 0"));
  // No sample was rejected for being malformed or duplicated.
  EXPECT_TRUE(WaitForAnySample(prometheus->port,
                               "scrape_samples_scraped{job=\"maskserve\"} > 0 and "
                               "scrape_samples_post_metric_relabeling{job=\"maskserve\"}"
                               " == scrape_samples_scraped{job=\"maskserve\"}"));

  // Updates after the first scrape arrive too.
  requests.Add({{"rpc", "Predict"}, {"code", "OK"}}).Increment(5);
  EXPECT_EQ(
      WaitForValue(prometheus->port, "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "12"),
      "12");

  Subprocess& server = *prometheus->process;
  server.Stop();
  EXPECT_FALSE(server.Running());
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
