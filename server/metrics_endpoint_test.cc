#include "server/metrics_endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/process_metrics.h"
#include "server/scrape_time_metrics.h"
#include "tests/testing/http_get.h"
#include "tests/testing/subprocess.h"

namespace maskserve {
namespace {

using testing::HttpGet;
using testing::HttpRequest;
using testing::HttpResponse;

std::unique_ptr<MetricsEndpoint> StartOn(const std::string& address) {
  MetricsEndpoint::Options options;
  options.address = address;
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start(options);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  return endpoint.ok() ? std::move(*endpoint) : nullptr;
}

std::unique_ptr<MetricsEndpoint> StartOnFreePort() { return StartOn("127.0.0.1:0"); }

// A registry with one gauge. prometheus-cpp's Exposer installs the /metrics
// handler with the first RegisterCollectable (before that /metrics is 404).
std::shared_ptr<prometheus::Registry> OneGauge() {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("maskserve_one").Help("One.").Register(*registry).Add({}).Set(1);
  return registry;
}

std::string Text(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

// One family of each kind, with label values that need escaping. (The help
// texts hold no backslash or newline: prometheus-cpp 1.0.1 writes HELP
// unescaped.)
std::shared_ptr<prometheus::Registry> MakeRegistry() {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("maskserve_requests_total")
      .Help("Requests by RPC and status code.")
      .Register(*registry)
      .Add({{"rpc", "Predict"}, {"code", "OK"}})
      .Increment(3);
  prometheus::BuildGauge()
      .Name("maskserve_batch_queue_depth")
      .Help("Requests waiting; \"quoted\" help.")
      .Register(*registry)
      .Add({{"queue", "we\"ird\\name\nx"}})
      .Set(2);
  prometheus::Histogram& latency =
      prometheus::BuildHistogram()
          .Name("maskserve_request_duration_seconds")
          .Help("Request latency.")
          .Register(*registry)
          .Add({{"rpc", "Predict"}},
               prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25, 0.5, 1, 2.5, 5, 10});
  latency.Observe(0.02);
  latency.Observe(7);
  return registry;
}

// Whether something accepts TCP connections on 127.0.0.1:port.
bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// A collectable whose Collect blocks until released, to hold a scrape in
// flight, and keeps reading a little after the release.
class BlockingCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    if (!entered_flag_.exchange(true)) entered_.set_value();
    release_.wait_for(std::chrono::seconds(10));
    absl::SleepFor(absl::Milliseconds(200));
    returned_ = true;
    return {};
  }
  bool WaitEntered() const {
    return entered_future_.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  }
  void Release() { release_promise_.set_value(); }
  bool returned() const { return returned_; }

 private:
  mutable std::atomic<bool> entered_flag_{false};
  mutable std::promise<void> entered_;
  std::shared_future<void> entered_future_ = entered_.get_future().share();
  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
  mutable std::atomic<bool> returned_{false};
};

TEST(MetricsEndpointTest, AddressMapping) {
  EXPECT_EQ(*MetricsEndpoint::ToCivetwebPorts("127.0.0.1:0"), "127.0.0.1:0");
  EXPECT_EQ(*MetricsEndpoint::ToCivetwebPorts("localhost:9464"), "127.0.0.1:9464");
  EXPECT_EQ(*MetricsEndpoint::ToCivetwebPorts(":9464"), "0.0.0.0:9464");
  EXPECT_EQ(*MetricsEndpoint::ToCivetwebPorts("*:9464"), "0.0.0.0:9464");
  EXPECT_EQ(*MetricsEndpoint::ToCivetwebPorts("10.1.2.3:80"), "10.1.2.3:80");
  EXPECT_EQ(*MetricsEndpoint::ToCivetwebPorts("10.1.2.3:65535"), "10.1.2.3:65535");
  for (const char* bad :
       {"", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80s", "127.0.0.1:-1",
        "127.0.0.1:+80", "127.0.0.1:999999", "example.com:80", "1.2.3:80", "1.2.3.256:80",
        "1.2.3.4.5:80", "1..2.3:80", "127.0.0.1:80,8080", "127.0.0.1:80s,8080"}) {
    const absl::StatusOr<std::string> ports = MetricsEndpoint::ToCivetwebPorts(bad);
    EXPECT_EQ(ports.status().code(), absl::StatusCode::kInvalidArgument)
        << bad << " -> " << ports.value_or("");
    if (!ports.ok()) {
      // The message quotes the address it rejects.
      EXPECT_TRUE(absl::StrContains(ports.status().message(), absl::StrCat("'", bad, "'")))
          << ports.status();
    }
  }
}

TEST(MetricsEndpointTest, RejectsBadOptions) {
  struct Case {
    std::string address;
    int num_threads;
    int request_timeout_ms;
    std::vector<std::string> message_has;
  };
  const std::vector<Case> cases = {
      {"nonsense", 4, 10000, {"'nonsense'", "<host>:<port>"}},
      {"127.0.0.1:70000", 4, 10000, {"invalid port"}},
      {"example.com:0", 4, 10000, {"IPv4"}},
      // Debian's civetweb is built without IPv6 (see metrics_endpoint.h).
      {"[::1]:0", 4, 10000, {"IPv6"}},
      {"127.0.0.1:0", 0, 10000, {"num_threads"}},
      {"127.0.0.1:0", 1, 0, {"request_timeout_ms"}},
  };
  for (const Case& c : cases) {
    MetricsEndpoint::Options options;
    options.address = c.address;
    options.num_threads = c.num_threads;
    options.request_timeout_ms = c.request_timeout_ms;
    const absl::Status status = MetricsEndpoint::Start(options).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.address;
    for (const std::string& part : c.message_has) {
      EXPECT_TRUE(absl::StrContains(status.message(), part)) << part << " in " << status;
    }
  }
}

TEST(MetricsEndpointTest, PortZeroBindsARealPort) {
  std::unique_ptr<MetricsEndpoint> first = StartOnFreePort();
  std::unique_ptr<MetricsEndpoint> second = StartOn("localhost:0");
  std::unique_ptr<MetricsEndpoint> any = StartOn(":0");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_NE(any, nullptr);
  std::shared_ptr<prometheus::Registry> registry = OneGauge();
  for (MetricsEndpoint* endpoint : {first.get(), second.get(), any.get()}) {
    endpoint->RegisterCollectable(registry);
    EXPECT_GT(endpoint->port(), 0);
    EXPECT_LE(endpoint->port(), 65535);
    absl::StatusOr<HttpResponse> response = HttpGet(endpoint->port(), "/metrics");
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(absl::StrContains(response->body, "\nmaskserve_one 1\n")) << response->body;
  }
  EXPECT_NE(first->port(), second->port());
  EXPECT_NE(first->port(), any->port());
  EXPECT_NE(second->port(), any->port());
}

TEST(MetricsEndpointTest, ServesRegisteredMetricsOverHttp) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOnFreePort();
  ASSERT_NE(endpoint, nullptr);
  std::shared_ptr<prometheus::Registry> registry = MakeRegistry();
  auto process = std::make_shared<ProcessMetricsCollector>();
  auto gauges = std::make_shared<ScrapeTimeMetrics>();
  std::atomic<int> resident{3};
  ASSERT_TRUE(gauges
                  ->AddGauge("maskserve_profiles_resident", "Resident profiles.", {},
                             [&] { return double(resident); })
                  .ok());
  endpoint->RegisterCollectable(registry);
  endpoint->RegisterCollectable(process);
  endpoint->RegisterCollectable(gauges);

  absl::StatusOr<HttpResponse> response = HttpGet(endpoint->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  // prometheus-cpp 1.0.1 sends "text/plain; charset=utf-8", which
  // Prometheus reads as text format 0.0.4.
  EXPECT_TRUE(absl::StartsWith(response->headers["content-type"], "text/plain"))
      << response->headers["content-type"];
  if (response->headers.count("content-length") != 0) {
    EXPECT_EQ(response->headers["content-length"], absl::StrCat(response->body.size()));
  }
  // The registry's families, serialized exactly as the text format has them
  // (escaping included), in one piece.
  EXPECT_TRUE(absl::StrContains(response->body, Text(registry->Collect()))) << response->body;
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_requests_total{code=\"OK\",rpc=\"Predict\"} 3\n"))
      << response->body;
  EXPECT_TRUE(absl::StrContains(
      response->body, "# HELP maskserve_batch_queue_depth Requests waiting; \"quoted\" help.\n"))
      << response->body;
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_batch_queue_depth{queue=\"we\\\"ird\\\\name\\nx\"} 2\n"))
      << response->body;
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_request_duration_seconds_bucket{rpc=\"Predict\","
                                "le=\"0.025\"} 1\n"))
      << response->body;
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_request_duration_seconds_count{"
                                "rpc=\"Predict\"} 2\n"))
      << response->body;
  // The process collector's families.
  for (const char* family :
       {"maskserve_process_cpu_seconds_total counter",
        "maskserve_process_resident_memory_bytes gauge", "maskserve_process_open_fds gauge",
        "maskserve_process_threads gauge", "maskserve_process_start_time_seconds gauge"}) {
    EXPECT_TRUE(absl::StrContains(response->body, absl::StrCat("# TYPE ", family, "\n")))
        << family << "\n"
        << response->body;
  }
  EXPECT_TRUE(absl::StrContains(response->body, "maskserve_profiles_resident 3\n"))
      << response->body;

  // Live values: a later scrape sees later changes.
  prometheus::BuildCounter()
      .Name("maskserve_requests_total")
      .Help("Requests by RPC and status code.")
      .Register(*registry)
      .Add({{"rpc", "Predict"}, {"code", "OK"}})
      .Increment();
  resident = 4;
  response = HttpGet(endpoint->port(), "/metrics?format=ignored");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(absl::StrContains(response->body,
                                "maskserve_requests_total{code=\"OK\",rpc=\"Predict\"} 4\n"))
      << response->body;
  EXPECT_TRUE(absl::StrContains(response->body, "maskserve_profiles_resident 4\n"))
      << response->body;
}

TEST(MetricsEndpointTest, ExpiredCollectablesAreSkipped) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOnFreePort();
  ASSERT_NE(endpoint, nullptr);
  std::shared_ptr<prometheus::Registry> kept = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("maskserve_kept").Help("Kept.").Register(*kept).Add({}).Set(1);
  std::shared_ptr<prometheus::Registry> dropped = MakeRegistry();
  endpoint->RegisterCollectable(dropped);
  endpoint->RegisterCollectable(kept);
  endpoint->RegisterCollectable(MakeRegistry());  // expires at once

  absl::StatusOr<HttpResponse> response = HttpGet(endpoint->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(absl::StrContains(response->body, "maskserve_requests_total{")) << response->body;

  dropped.reset();
  response = HttpGet(endpoint->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_FALSE(absl::StrContains(response->body, "maskserve_requests_total")) << response->body;
  EXPECT_FALSE(absl::StrContains(response->body, "maskserve_batch_queue_depth")) << response->body;
  EXPECT_TRUE(absl::StrContains(response->body, "maskserve_kept 1\n")) << response->body;
}

TEST(MetricsEndpointTest, OnlyMetricsIsServed) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOnFreePort();
  ASSERT_NE(endpoint, nullptr);
  std::shared_ptr<prometheus::Registry> registry = MakeRegistry();
  endpoint->RegisterCollectable(registry);
  // The old hand-written exposer's /healthz is gone.
  for (const char* path : {"/", "/healthz", "/metric", "/favicon.ico"}) {
    absl::StatusOr<HttpResponse> response = HttpGet(endpoint->port(), path);
    ASSERT_TRUE(response.ok()) << path << ": " << response.status();
    EXPECT_EQ(response->status, 404) << path;
    EXPECT_FALSE(absl::StrContains(response->body, "maskserve_requests_total")) << path;
  }
}

TEST(MetricsEndpointTest, BusyPortIsUnavailableWithReason) {
  std::unique_ptr<MetricsEndpoint> first = StartOnFreePort();
  ASSERT_NE(first, nullptr);
  std::shared_ptr<prometheus::Registry> registry = OneGauge();
  first->RegisterCollectable(registry);
  MetricsEndpoint::Options options;
  options.address = absl::StrCat("127.0.0.1:", first->port());
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> second = MetricsEndpoint::Start(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(), options.address)) << second.status();
  // civetweb's reason, e.g. "cannot bind to 127.0.0.1:41709: 98 (Address
  // already in use)".
  EXPECT_TRUE(absl::StrContains(second.status().message(), "Address already in use"))
      << second.status();
  // The first one is unharmed.
  absl::StatusOr<HttpResponse> response = HttpGet(first->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
}

// Idle, civetweb's listener notices a stop only every 2 s by itself; the
// destructor wakes it (about 10 ms here). Several rounds, so that a
// destructor that waits for the listener's own timeout fails at least one
// of them with near certainty.
TEST(MetricsEndpointTest, DestructorStopsServingPromptly) {
  for (int round = 0; round < 3; ++round) {
    for (const char* address : {"127.0.0.1:0", ":0"}) {
      std::unique_ptr<MetricsEndpoint> endpoint = StartOn(address);
      ASSERT_NE(endpoint, nullptr) << address;
      std::shared_ptr<prometheus::Registry> registry = OneGauge();
      endpoint->RegisterCollectable(registry);
      const int port = endpoint->port();
      absl::StatusOr<HttpResponse> response = HttpGet(port, "/metrics");
      ASSERT_TRUE(response.ok()) << response.status();
      ASSERT_EQ(response->status, 200);
      const absl::Time start = absl::Now();
      endpoint.reset();
      const absl::Duration took = absl::Now() - start;
      EXPECT_LT(took, absl::Seconds(1)) << address;
      EXPECT_FALSE(Accepts(port)) << address;
      EXPECT_FALSE(HttpGet(port, "/metrics", absl::Seconds(2)).ok()) << address;
    }
  }
}

TEST(MetricsEndpointTest, DestructorWaitsForScrapesInFlight) {
  std::unique_ptr<MetricsEndpoint> endpoint = StartOnFreePort();
  ASSERT_NE(endpoint, nullptr);
  auto blocking = std::make_shared<BlockingCollectable>();
  endpoint->RegisterCollectable(blocking);
  const int port = endpoint->port();
  std::future<absl::StatusOr<HttpResponse>> scrape =
      std::async(std::launch::async, [port] { return HttpGet(port, "/metrics"); });
  ASSERT_TRUE(blocking->WaitEntered());
  std::thread destroyer([&endpoint] { endpoint.reset(); });
  absl::SleepFor(absl::Milliseconds(100));
  blocking->Release();
  destroyer.join();
  // Once the destructor returned, no collectable is being read any more.
  EXPECT_TRUE(blocking->returned());
  EXPECT_EQ(scrape.wait_for(std::chrono::seconds(15)), std::future_status::ready);
}

// `promtool check metrics` (parser + lint) on a live scrape with every kind
// of metric, escaping, and the process collector.
TEST(MetricsEndpointTest, PromtoolAcceptsLiveScrape) {
  const std::optional<std::string> promtool =
      testing::FindExecutable("promtool", "MASKSERVE_PROMTOOL");
  if (!promtool) {
    GTEST_SKIP() << "promtool not found (Debian package 'prometheus'); "
                    "skipping the exposition lint";
  }
  std::unique_ptr<MetricsEndpoint> endpoint = StartOnFreePort();
  ASSERT_NE(endpoint, nullptr);
  std::shared_ptr<prometheus::Registry> registry = MakeRegistry();
  ProcessMetricsCollector::Options process_options;
  process_options.standard_names = true;
  auto process = std::make_shared<ProcessMetricsCollector>(process_options);
  auto gauges = std::make_shared<ScrapeTimeMetrics>();
  ASSERT_TRUE(gauges
                  ->AddGaugeFamily("maskserve_training_jobs", "Training jobs by tenant.",
                                   [] {
                                     return std::vector<ScrapeTimeMetrics::Sample>{
                                         {{{"tenant", "a"}}, 1}, {{{"tenant", "b\"\\"}}, 2}};
                                   })
                  .ok());
  endpoint->RegisterCollectable(registry);
  endpoint->RegisterCollectable(process);
  endpoint->RegisterCollectable(gauges);

  absl::StatusOr<HttpResponse> response = HttpGet(endpoint->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->status, 200);
  ASSERT_TRUE(absl::StrContains(response->body, "maskserve_process_open_fds"));
  ASSERT_TRUE(absl::StrContains(response->body, "\nprocess_open_fds"));
  ASSERT_TRUE(absl::StrContains(response->body, "maskserve_training_jobs{tenant=\"b"));

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
TEST(MetricsEndpointTest, PromtoolRejectsBrokenExposition) {
  const std::optional<std::string> promtool =
      testing::FindExecutable("promtool", "MASKSERVE_PROMTOOL");
  if (!promtool) GTEST_SKIP() << "promtool not found";
  absl::StatusOr<std::unique_ptr<testing::TempDir>> dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  for (const char* broken : {
           // Lint: a counter without the _total suffix.
           "# HELP maskserve_requests Requests.\n"
           "# TYPE maskserve_requests counter\n"
           "maskserve_requests{rpc=\"a\"} 1\n",
           // Parse error: an unescaped quote in a label value.
           "# HELP maskserve_up Up.\n"
           "# TYPE maskserve_up gauge\n"
           "maskserve_up{a=\"b\"c\"} 1\n",
       }) {
    const std::string scrape = (*dir)->path() + "/scrape.txt";
    const std::string output = (*dir)->path() + "/promtool.txt";
    ASSERT_TRUE(testing::WriteFile(scrape, broken).ok());
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> run =
        testing::Subprocess::Start({*promtool, "check", "metrics"}, scrape, output);
    ASSERT_TRUE(run.ok()) << run.status();
    absl::StatusOr<int> code = (*run)->Wait(absl::Seconds(60));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_NE(*code, 0) << broken << testing::ReadFileOrEmpty(output);
  }
}

}  // namespace
}  // namespace maskserve
