// The load generator and profile setup against the in-process fake server.
#include "clients/loadgen/load_generator.h"

#include <sstream>

#include <gtest/gtest.h>

#include "clients/loadgen/profile_setup.h"
#include "clients/testing/fake_maskserve_service.h"

namespace maskserve {
namespace loadgen {
namespace {

using ::maskserve::testing::FakeMaskserveService;
using ::maskserve::testing::FakeServer;

class LoadGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    options_.connection.address = server_->address();
    options_.profiles = 5;
    options_.concurrency = 4;
    options_.requests = 200;
    options_.inputs_per_request = 3;
    options_.text_words = 4;
  }

  std::unique_ptr<FakeServer> server_;
  LoadOptions options_;
};

TEST_F(LoadGeneratorTest, MissingProfilesAreCountedAsNotFound) {
  absl::StatusOr<LoadReport> report = RunLoad(options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->requests, 200u);
  EXPECT_EQ(report->ok, 0u);
  EXPECT_EQ(report->errors.at("NOT_FOUND"), 200u);
}

TEST_F(LoadGeneratorTest, SetupThenRunCountsEveryRequest) {
  std::ostringstream log;
  SetupOptions setup;
  auto channel = client::MakeChannel(options_.connection);
  ASSERT_TRUE(channel.ok());
  ASSERT_TRUE(SetupProfiles(options_, setup, *channel, log).ok()) << log.str();
  EXPECT_NE(log.str().find("5 training jobs submitted"), std::string::npos) << log.str();
  // A second setup finds them all.
  std::ostringstream again;
  ASSERT_TRUE(SetupProfiles(options_, setup, *channel, again).ok());
  EXPECT_NE(again.str().find("5 profiles exist, 0 training jobs"), std::string::npos)
      << again.str();

  options_.popularity = Popularity::kUniform;
  absl::StatusOr<LoadReport> report = RunLoad(options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->requests, 200u);
  EXPECT_EQ(report->ok, 200u);
  EXPECT_TRUE(report->errors.empty());
  EXPECT_EQ(report->distinct_profiles, 5);
  EXPECT_EQ(report->latency.count, 200u);
  EXPECT_GT(report->requests_per_second, 0);
  EXPECT_DOUBLE_EQ(report->sequences_per_second, 3 * report->requests_per_second);
  EXPECT_LE(report->latency.p50_ms, report->latency.p99_ms);
  EXPECT_LE(report->latency.p99_ms, report->latency.max_ms);
}

// Setup (GetProfile, TrainProfile, then GetTrainingJob by job id) and the
// load (Predict) send `x-maskserve-profile` exactly on the profile-scoped
// calls: the fake fails any call that has it where it should not, or lacks
// it (or another profile's) where it should.
TEST_F(LoadGeneratorTest, RoutingHeaderIsSentExactlyOnProfileScopedCalls) {
  server_.reset();
  FakeMaskserveService::Options routed;
  routed.require_routing_header = true;
  auto server = FakeServer::Start(routed);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  options_.connection.address = server_->address();

  std::ostringstream log;
  auto channel = client::MakeChannel(options_.connection);
  ASSERT_TRUE(channel.ok());
  absl::Status setup = SetupProfiles(options_, SetupOptions(), *channel, log);
  ASSERT_TRUE(setup.ok()) << setup << "\n" << log.str();
  std::ostringstream again;  // every profile found by GetProfile
  ASSERT_TRUE(SetupProfiles(options_, SetupOptions(), *channel, again).ok()) << again.str();
  EXPECT_NE(again.str().find("5 profiles exist, 0 training jobs"), std::string::npos)
      << again.str();

  absl::StatusOr<LoadReport> report = RunLoad(options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->requests, 200u);
  EXPECT_EQ(report->ok, 200u);
  EXPECT_TRUE(report->errors.empty()) << report->errors.begin()->first;
}

TEST_F(LoadGeneratorTest, DurationModeStops) {
  options_.requests = 0;
  options_.duration = absl::Milliseconds(300);
  options_.warmup = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadReport> report = RunLoad(options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_GT(report->requests, 0u);
  EXPECT_NEAR(report->duration_seconds, 0.3, 0.2);
}

TEST_F(LoadGeneratorTest, RejectsBadOptions) {
  options_.concurrency = 0;
  EXPECT_EQ(RunLoad(options_).status().code(), absl::StatusCode::kInvalidArgument);
  options_.concurrency = 1;
  options_.requests = 0;
  options_.duration = absl::ZeroDuration();
  EXPECT_EQ(RunLoad(options_).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace loadgen
}  // namespace maskserve
