#include "server/metrics/metrics_exposer.h"

#include <gtest/gtest.h>

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/metrics/builder.h"
#include "server/metrics/process_metrics_collector.h"
#include "server/metrics/registry.h"
#include "server/metrics/testing/http_get.h"
#include "server/metrics/testing/subprocess.h"
#include "server/metrics/text_serializer.h"

namespace maskserve {
namespace metrics {
namespace {

using testing::HttpGet;
using testing::HttpRequest;
using testing::HttpResponse;

std::unique_ptr<MetricsExposer> StartOnFreePort() {
  MetricsExposer::Options options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer = MetricsExposer::Create(options);
  EXPECT_TRUE(exposer.ok()) << exposer.status();
  return exposer.ok() ? std::move(*exposer) : nullptr;
}

// One family of each kind, with label values that need escaping.
std::shared_ptr<Registry> MakeRegistry() {
  auto registry = std::make_shared<Registry>();
  BuildCounter()
      .Name("maskserve_requests_total")
      .Help("Requests by RPC and status code.")
      .Register(*registry)
      .Add({{"rpc", "Predict"}, {"code", "OK"}})
      .Increment(3);
  BuildGauge()
      .Name("maskserve_batch_queue_depth")
      .Help("Requests waiting; \"quoted\" help \\ with\nnewline.")
      .Register(*registry)
      .Add({{"queue", "we\"ird\\name\nx"}})
      .Set(2);
  Histogram& latency = BuildHistogram()
                           .Name("maskserve_request_duration_seconds")
                           .Help("Request latency.")
                           .Register(*registry)
                           .Add({{"rpc", "Predict"}}, DefaultLatencyBuckets());
  latency.Observe(0.02);
  latency.Observe(7);
  return registry;
}

TEST(MetricsExposerTest, AddressMapping) {
  EXPECT_EQ(*MetricsExposer::ToCivetwebPorts("127.0.0.1:0"), "127.0.0.1:0");
  EXPECT_EQ(*MetricsExposer::ToCivetwebPorts("localhost:9464"), "127.0.0.1:9464");
  EXPECT_EQ(*MetricsExposer::ToCivetwebPorts(":9464"), "0.0.0.0:9464");
  EXPECT_EQ(*MetricsExposer::ToCivetwebPorts("*:9464"), "0.0.0.0:9464");
  EXPECT_EQ(*MetricsExposer::ToCivetwebPorts("10.1.2.3:80"), "10.1.2.3:80");
  for (const char* bad :
       {"", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80s", "127.0.0.1:-1",
        "example.com:80", "1.2.3:80", "1.2.3.256:80", "127.0.0.1:80,8080"}) {
    EXPECT_EQ(MetricsExposer::ToCivetwebPorts(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(MetricsExposerTest, RejectsBadOptions) {
  MetricsExposer::Options options;
  options.address = "nonsense";
  EXPECT_EQ(MetricsExposer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.address = "127.0.0.1:0";
  options.metrics_path = "metrics";
  EXPECT_EQ(MetricsExposer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetricsExposerTest, ServesMetricsOverHttp) {
  std::unique_ptr<MetricsExposer> exposer = StartOnFreePort();
  ASSERT_NE(exposer, nullptr);
  EXPECT_GT(exposer->port(), 0);
  std::shared_ptr<Registry> registry = MakeRegistry();
  exposer->RegisterCollectable(registry);

  absl::StatusOr<HttpResponse> response = HttpGet(exposer->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->headers["content-length"], absl::StrCat(response->body.size()));
  EXPECT_EQ(response->body, SerializeText(registry->Collect()));
  EXPECT_EQ(response->body, exposer->Scrape());
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_requests_total{code=\"OK\",rpc=\"Predict\"} 3\n"));

  // Live values: a later scrape sees later increments.
  BuildCounter()
      .Name("maskserve_requests_total")
      .Help("Requests by RPC and status code.")
      .Register(*registry)
      .Add({{"rpc", "Predict"}, {"code", "OK"}})
      .Increment();
  response = HttpGet(exposer->port(), "/metrics?format=ignored");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_requests_total{code=\"OK\",rpc=\"Predict\"} 4\n"));
}

TEST(MetricsExposerTest, OtherPathsAndMethods) {
  std::unique_ptr<MetricsExposer> exposer = StartOnFreePort();
  ASSERT_NE(exposer, nullptr);
  exposer->RegisterCollectable(MakeRegistry());  // expires at once: skipped

  absl::StatusOr<HttpResponse> response = HttpGet(exposer->port(), "/healthz");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok\n");

  for (const char* path : {"/", "/metricsx", "/metrics/extra", "/favicon.ico"}) {
    response = HttpGet(exposer->port(), path);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 404) << path;
  }

  response = HttpRequest(exposer->port(), "POST", "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 405);
  EXPECT_EQ(response->headers["allow"], "GET, HEAD");

  response = HttpRequest(exposer->port(), "HEAD", "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->body.empty());

  response = HttpGet(exposer->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");  // nothing registered is alive
}

TEST(MetricsExposerTest, HealthzCanBeTurnedOff) {
  MetricsExposer::Options options;
  options.address = "127.0.0.1:0";
  options.serve_healthz = false;
  options.metrics_path = "/custom";
  absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer = MetricsExposer::Create(options);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  EXPECT_EQ(HttpGet((*exposer)->port(), "/healthz")->status, 404);
  EXPECT_EQ(HttpGet((*exposer)->port(), "/metrics")->status, 404);
  EXPECT_EQ(HttpGet((*exposer)->port(), "/custom")->status, 200);
}

TEST(MetricsExposerTest, BusyPortIsUnavailableWithReason) {
  std::unique_ptr<MetricsExposer> first = StartOnFreePort();
  ASSERT_NE(first, nullptr);
  MetricsExposer::Options options;
  options.address = absl::StrCat("127.0.0.1:", first->port());
  absl::StatusOr<std::unique_ptr<MetricsExposer>> second = MetricsExposer::Create(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "in use")) << second.status();
}

TEST(MetricsExposerTest, DestructorStopsServing) {
  std::unique_ptr<MetricsExposer> exposer = StartOnFreePort();
  ASSERT_NE(exposer, nullptr);
  const int port = exposer->port();
  ASSERT_TRUE(HttpGet(port, "/healthz").ok());
  exposer.reset();
  EXPECT_FALSE(HttpGet(port, "/healthz", absl::Seconds(2)).ok());
}

// `promtool check metrics` (parser + lint) on a live scrape with every kind
// of metric, escaping, and the process collector.
TEST(MetricsExposerTest, PromtoolAcceptsLiveScrape) {
  const std::optional<std::string> promtool =
      testing::FindExecutable("promtool", "MASKSERVE_PROMTOOL");
  if (!promtool) {
    GTEST_SKIP() << "promtool not found (Debian package 'prometheus'); "
                    "skipping the exposition lint";
  }
  std::unique_ptr<MetricsExposer> exposer = StartOnFreePort();
  ASSERT_NE(exposer, nullptr);
  std::shared_ptr<Registry> registry = MakeRegistry();
  auto process = std::make_shared<ProcessMetricsCollector>();
  registry->RegisterCollectable(process);
  exposer->RegisterCollectable(registry);

  absl::StatusOr<HttpResponse> response = HttpGet(exposer->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->status, 200);
  ASSERT_TRUE(absl::StrContains(response->body, "maskserve_process_open_fds"));

  absl::StatusOr<std::unique_ptr<testing::TempDir>> dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string scrape = (*dir)->path() + "/scrape.txt";
  const std::string output = (*dir)->path() + "/promtool.txt";
  ASSERT_TRUE(testing::WriteFile(scrape, response->body).ok());
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> run =
      testing::Subprocess::Start({*promtool, "check", "metrics"}, scrape, output);
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << "promtool says:\n"
                      << testing::ReadFileOrEmpty(output) << "\nscrape:\n"
                      << response->body;
}

// promtool must also fail on a bad exposition, or the test above proves
// nothing.
TEST(MetricsExposerTest, PromtoolRejectsBrokenExposition) {
  const std::optional<std::string> promtool =
      testing::FindExecutable("promtool", "MASKSERVE_PROMTOOL");
  if (!promtool) GTEST_SKIP() << "promtool not found";
  absl::StatusOr<std::unique_ptr<testing::TempDir>> dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string scrape = (*dir)->path() + "/scrape.txt";
  const std::string output = (*dir)->path() + "/promtool.txt";
  ASSERT_TRUE(testing::WriteFile(scrape,
                                 "# HELP maskserve_requests Requests.\n"
                                 "# TYPE maskserve_requests counter\n"
                                 "maskserve_requests{rpc=\"a\"} 1\n")
                  .ok());
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> run =
      testing::Subprocess::Start({*promtool, "check", "metrics"}, scrape, output);
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_NE(*code, 0) << testing::ReadFileOrEmpty(output);
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
