// The real server's /metrics: promtool accepts a live scrape, and a real
// Prometheus on loopback scrapes it and reports maskserve_requests_total
// after some Predict calls.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/testing/http_get.h"
#include "tests/testing/prometheus_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

namespace mt = maskserve::testing;

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
        "maskserve_training_jobs", "maskserve_predict_phase_seconds_count{phase=\"tokenize\"} 3",
        "maskserve_predict_phase_seconds_count{phase=\"queue\"} 3",
        "maskserve_predict_phase_seconds_count{phase=\"inference\"} 3",
        "maskserve_predict_input_tokens_count 6",
        "maskserve_training_busy_seconds_total{tenant=\"default\"}"}) {
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

// deploy/metric_names.txt is what dashboards and alert rules may use: it
// must be exactly what the server exports.
TEST_F(MetricsIntegrationTest, TheDeployMetricListIsWhatTheServerExports) {
  auto scrape = mt::HttpGet(server_->metrics_port(), "/metrics", absl::Seconds(5));
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  std::map<std::string, std::string> exported;  // name -> type
  for (absl::string_view line : absl::StrSplit(scrape->body, '\n')) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() == 4 && words[0] == "#" && words[1] == "TYPE" &&
        absl::StartsWith(words[2], "maskserve_")) {
      exported[words[2]] = words[3];
    }
  }
  const std::string list_path = std::string(MASKSERVE_SOURCE_DIR) + "/deploy/metric_names.txt";
  const std::string list = mt::ReadFileOrEmpty(list_path);
  ASSERT_FALSE(list.empty()) << list_path;
  std::set<std::string> listed;
  for (absl::string_view line : absl::StrSplit(list, '\n')) {
    line = line.substr(0, line.find('#'));
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    ASSERT_GE(words.size(), 2u) << line;
    listed.insert(words[0]);
    const bool sometimes = words.size() > 2 && words[2] == "sometimes";
    auto it = exported.find(words[0]);
    if (it == exported.end()) {
      EXPECT_TRUE(sometimes) << words[0] << " is listed but not exported";
      continue;
    }
    EXPECT_EQ(it->second, words[1]) << words[0];
  }
  for (const auto& [name, type] : exported) {
    EXPECT_TRUE(listed.count(name))
        << name << " (" << type << ") is exported but not in " << list_path;
  }
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
