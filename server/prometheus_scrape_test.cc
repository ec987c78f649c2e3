// End to end: a real Prometheus server, started on loopback with a scrape
// config pointing at a live MetricsEndpoint, scrapes it; the test then reads
// the values back through Prometheus' HTTP query API. Skips when the
// `prometheus` binary is absent. Bounded waits only; the server is stopped
// (SIGTERM, then SIGKILL) and reaped whatever happens.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "server/metrics_endpoint.h"
#include "server/process_metrics.h"
#include "server/scrape_time_metrics.h"
#include "tests/testing/prometheus_server.h"
#include "tests/testing/subprocess.h"

namespace maskserve {
namespace {

using testing::RunningPrometheus;
using testing::StartPrometheus;
using testing::Subprocess;
using testing::TempDir;
using testing::WaitForAnySample;
using testing::WaitForValue;

TEST(MetricsPrometheusScrapeTest, RealPrometheusScrapesTheEndpoint) {
  const std::optional<std::string> binary =
      testing::FindExecutable("prometheus", "MASKSERVE_PROMETHEUS");
  if (!binary) {
    GTEST_SKIP() << "prometheus not found (Debian package 'prometheus'); "
                    "skipping the end-to-end scrape";
  }

  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests = prometheus::BuildCounter()
                                                          .Name("maskserve_requests_total")
                                                          .Help("Requests by RPC and status code.")
                                                          .Register(*registry);
  requests.Add({{"rpc", "Predict"}, {"code", "OK"}}).Increment(7);
  requests.Add({{"rpc", "Predict"}, {"code", "NOT_FOUND"}}).Increment(2);
  prometheus::Histogram& latency =
      prometheus::BuildHistogram()
          .Name("maskserve_request_duration_seconds")
          .Help("Request latency.")
          .Register(*registry)
          .Add({{"rpc", "Predict"}},
               prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25, 0.5, 1, 2.5, 5, 10});
  for (int i = 0; i < 9; ++i) latency.Observe(0.003 * i);  // 0 .. 0.024
  ProcessMetricsCollector::Options process_options;
  process_options.standard_names = true;
  auto process = std::make_shared<ProcessMetricsCollector>(process_options);
  std::atomic<int> jobs{3};
  auto gauges = std::make_shared<ScrapeTimeMetrics>();
  ASSERT_TRUE(gauges
                  ->AddGaugeFamily("maskserve_training_jobs", "Training jobs by tenant.",
                                   [&jobs] {
                                     return std::vector<ScrapeTimeMetrics::Sample>{
                                         {{{"tenant", "acme"}}, double(jobs)},
                                         {{{"tenant", "globex"}}, 1}};
                                   })
                  .ok());

  MetricsEndpoint::Options options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start(options);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  (*endpoint)->RegisterCollectable(registry);
  (*endpoint)->RegisterCollectable(process);
  (*endpoint)->RegisterCollectable(gauges);

  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<RunningPrometheus> prometheus =
      StartPrometheus(*binary, **dir, (*endpoint)->port());
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  const int port = prometheus->port;

  // The target is up: Prometheus scraped and parsed the exposition.
  ASSERT_EQ(WaitForValue(port, "up{job=\"maskserve\"}", "1"), "1")
      << testing::ReadFileOrEmpty(prometheus->log_path);
  EXPECT_EQ(WaitForValue(port, "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "7"), "7");
  EXPECT_EQ(WaitForValue(port, "sum(maskserve_requests_total)", "9"), "9");
  EXPECT_EQ(WaitForValue(port, "maskserve_request_duration_seconds_count", "9"), "9");
  EXPECT_EQ(WaitForValue(port, "maskserve_request_duration_seconds_bucket{le=\"0.01\"}", "4"),
            "4");  // 0, 0.003, 0.006, 0.009
  EXPECT_EQ(WaitForValue(port, "maskserve_request_duration_seconds_bucket{le=\"+Inf\"}", "9"), "9");
  EXPECT_EQ(WaitForValue(port, "round(maskserve_request_duration_seconds_sum * 1000)", "108"),
            "108");  // 0.003 * (0 + 1 + ... + 8)
  EXPECT_EQ(WaitForValue(port, "maskserve_training_jobs{tenant=\"acme\"}", "3"), "3");
  EXPECT_EQ(WaitForValue(port, "sum(maskserve_training_jobs)", "4"), "4");
  EXPECT_TRUE(WaitForAnySample(port, "maskserve_process_resident_memory_bytes > 0"));
  EXPECT_TRUE(WaitForAnySample(port, "process_resident_memory_bytes > 0"));
  EXPECT_TRUE(WaitForAnySample(port, "maskserve_process_open_fds > 0"));
  // prometheus-cpp's own scrape metrics come along on the same endpoint.
  EXPECT_TRUE(WaitForAnySample(port, "exposer_scrapes_total > 0"));
  // No sample was rejected for being malformed or duplicated.
  EXPECT_TRUE(WaitForAnySample(port,
                               "scrape_samples_scraped{job=\"maskserve\"} > 0 and "
                               "scrape_samples_post_metric_relabeling{job=\"maskserve\"}"
                               " == scrape_samples_scraped{job=\"maskserve\"}"));

  // Updates after the first scrape arrive too.
  requests.Add({{"rpc", "Predict"}, {"code", "OK"}}).Increment(5);
  jobs = 6;
  EXPECT_EQ(WaitForValue(port, "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "12"),
            "12");
  EXPECT_EQ(WaitForValue(port, "maskserve_training_jobs{tenant=\"acme\"}", "6"), "6");

  Subprocess& server = *prometheus->process;
  server.Stop();
  EXPECT_FALSE(server.Running());
}

}  // namespace
}  // namespace maskserve
