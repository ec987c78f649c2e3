// The real server's /metrics: promtool accepts a live scrape, and a real
// Prometheus on loopback scrapes it and reports maskserve_requests_total
// after some Predict calls.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/metrics/testing/http_get.h"
#include "server/metrics/testing/prometheus_server.h"
#include "server/metrics/testing/subprocess.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

namespace mt = metrics::testing;

class MetricsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("metrics"));
    options.metrics_address = "127.0.0.1:0";
    auto server = MaskserveServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->metrics_port(), 0);
    client_ = std::make_unique<testing::TestClient>(testing::Connect(server_->port()), "");
    ASSERT_EQ(client_->Train("m", v1::HEAD_ONLY, 20).state(), v1::SUCCEEDED);
    for (int i = 0; i < 3; ++i) {
      v1::PredictResponse response;
      ASSERT_TRUE(client_->Predict("m", {"great", "awful"}, &response).ok());
    }
    v1::PredictResponse missing;
    EXPECT_EQ(client_->Predict("nobody", {"x"}, &missing).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  std::unique_ptr<MaskserveServer> server_;
  std::unique_ptr<testing::TestClient> client_;
};

TEST_F(MetricsIntegrationTest, ExposesTheServersMetricsAndPromtoolAcceptsThem) {
  auto scrape = mt::HttpGet(server_->metrics_port(), "/metrics", absl::Seconds(5));
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  const std::string& body = scrape->body;
  for (const char* expected :
       {"maskserve_requests_total{code=\"OK\",rpc=\"Predict\"} 3",
        "maskserve_requests_total{code=\"NOT_FOUND\",rpc=\"Predict\"} 1",
        "maskserve_request_duration_seconds_bucket", "maskserve_batch_sequences_count",
        "maskserve_backbone_forward_seconds_count", "maskserve_queue_depth",
        "maskserve_profiles_resident 1", "maskserve_profiles_stored 1",
        "maskserve_training_duration_seconds_count 1", "maskserve_hot_swaps_total 1",
        "maskserve_store_write_seconds_bucket", "maskserve_process_resident_memory_bytes",
        "maskserve_training_jobs"}) {
    EXPECT_NE(body.find(expected), std::string::npos) << expected << "\n" << body;
  }
  auto promtool = mt::FindExecutable("promtool", "MASKSERVE_PROMTOOL");
  if (!promtool) GTEST_SKIP() << "promtool not found (Debian package 'prometheus')";
  auto dir = mt::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string path = (*dir)->path() + "/scrape.txt";
  ASSERT_TRUE(mt::WriteFile(path, body).ok());
  auto check =
      mt::Subprocess::Start({*promtool, "check", "metrics"}, path, (*dir)->path() + "/out");
  ASSERT_TRUE(check.ok());
  auto code = (*check)->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << mt::ReadFileOrEmpty((*dir)->path() + "/out");
}

TEST_F(MetricsIntegrationTest, RealPrometheusScrapesRequestCounts) {
  auto binary = mt::FindExecutable("prometheus", "MASKSERVE_PROMETHEUS");
  if (!binary) GTEST_SKIP() << "prometheus not found (Debian package 'prometheus')";
  auto dir = mt::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  auto prometheus = mt::StartPrometheus(*binary, **dir, server_->metrics_port());
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  EXPECT_EQ(mt::WaitForValue(prometheus->port,
                             "maskserve_requests_total{rpc=\"Predict\",code=\"OK\"}", "3"),
            std::optional<std::string>("3"))
      << mt::ReadFileOrEmpty(prometheus->log_path);
  EXPECT_TRUE(mt::WaitForAnySample(prometheus->port, "maskserve_hot_swaps_total >= 1"));
}

}  // namespace
}  // namespace maskserve
