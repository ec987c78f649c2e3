// The real server on the PostgreSQL store (--store=postgresql://...), on a
// throwaway PostgreSQL 15 cluster on loopback: a profile trained through one
// server is served, with the same probabilities, by a second server sharing
// the database (while the first still runs) and after a restart; bad --store
// values stop the server naming the flag; a version published through one
// server replaces the copy another holds (the change feed). Skips when the PostgreSQL server
// binaries are absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "storage/testing/postgres_server.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

const std::vector<std::string> kTexts = {"a wonderful warm film", "dull and cold", "meh"};

class PostgresStoreIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PostgresServer*> postgres = PostgresServer::Shared();
    if (!postgres.ok()) {
      if (PostgresServer::Required()) FAIL() << postgres.status();
      GTEST_SKIP() << postgres.status().message();
    }
    absl::StatusOr<std::string> url = (*postgres)->CreateDatabase("server");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }

  std::unique_ptr<MaskserveServer> Start() {
    ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("pgserver"));
    options.store = url_;
    auto server = MaskserveServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  static std::vector<float> Probabilities(MaskserveServer& server, const std::string& profile,
                                          uint64_t* version = nullptr) {
    testing::TestClient client(testing::Connect(server.port()), "");
    v1::PredictResponse response;
    grpc::Status status = client.Predict(profile, kTexts, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (version != nullptr) *version = response.profile_version();
    std::vector<float> out;
    for (const v1::Prediction& p : response.predictions()) {
      out.insert(out.end(), p.probabilities().begin(), p.probabilities().end());
    }
    return out;
  }

  std::string url_;
};

TEST_F(PostgresStoreIntegrationTest, ReplicasShareProfilesThroughTheDatabase) {
  std::unique_ptr<MaskserveServer> first = Start();
  ASSERT_NE(first, nullptr);
  testing::TestClient client(testing::Connect(first->port()), "");
  ASSERT_EQ(client.Train("alice", v1::XPEFT_HARD, 40).state(), v1::SUCCEEDED);
  uint64_t version = 0;
  const std::vector<float> trained = Probabilities(*first, "alice", &version);
  ASSERT_EQ(trained.size(), kTexts.size() * 2);
  EXPECT_EQ(version, 1u);

  // A second server on the same database, while the first runs.
  std::unique_ptr<MaskserveServer> second = Start();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(Probabilities(*second, "alice", &version), trained);
  EXPECT_EQ(version, 1u);
  second->Shutdown(absl::Seconds(1));
  second.reset();

  // Both gone, then a new one: the profile and its training job survive.
  first->Shutdown(absl::Seconds(1));
  first.reset();
  std::unique_ptr<MaskserveServer> restarted = Start();
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(Probabilities(*restarted, "alice"), trained);
  testing::TestClient again(testing::Connect(restarted->port()), "");
  grpc::ClientContext context;
  v1::ListTrainingJobsRequest request;
  request.set_profile_id("alice");
  v1::ListTrainingJobsResponse jobs;
  ASSERT_TRUE(again.stub().ListTrainingJobs(&context, request, &jobs).ok());
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).state(), v1::SUCCEEDED);
  EXPECT_EQ(jobs.jobs(0).published_version(), 1u);
}

// Polls `server` until Predict answers `profile` at `version` (0: until it is
// NOT_FOUND); checks that the versions seen never go backwards. Returns
// whether it got there within `timeout`.
bool ServesVersion(MaskserveServer& server, const std::string& profile, uint64_t version,
                   absl::Duration timeout = absl::Seconds(10)) {
  testing::TestClient client(testing::Connect(server.port()), "");
  uint64_t last_seen = 0;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    v1::PredictResponse response;
    grpc::Status status = client.Predict(profile, kTexts, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      if (version == 0) return true;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_GE(response.profile_version(), last_seen) << "a profile's version went backwards";
      last_seen = std::max(last_seen, response.profile_version());
      if (status.ok() && response.profile_version() == version) return true;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

TEST_F(PostgresStoreIntegrationTest, AVersionPublishedByOneReplicaReplacesTheOthersResidentCopy) {
  std::unique_ptr<MaskserveServer> first = Start();
  std::unique_ptr<MaskserveServer> second = Start();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  testing::TestClient client(testing::Connect(first->port()), "");
  ASSERT_EQ(client.Train("alice", v1::XPEFT_HARD, 40, /*seed=*/1).state(), v1::SUCCEEDED);
  // The second replica loads version 1 and keeps it resident.
  ASSERT_TRUE(ServesVersion(*second, "alice", 1));

  // Retrained through the first: the second drops its copy on the
  // notification and serves version 2, with the first's probabilities.
  ASSERT_EQ(client.Train("alice", v1::XPEFT_HARD, 40, /*seed=*/2).state(), v1::SUCCEEDED);
  ASSERT_TRUE(ServesVersion(*second, "alice", 2, absl::Seconds(5)));
  EXPECT_EQ(Probabilities(*second, "alice"), Probabilities(*first, "alice"));

  // Deleted through the first: the second stops serving it.
  grpc::ClientContext context;
  v1::DeleteProfileRequest remove;
  remove.set_profile_id("alice");
  v1::DeleteProfileResponse removed;
  ASSERT_TRUE(client.stub().DeleteProfile(&context, remove, &removed).ok());
  EXPECT_TRUE(ServesVersion(*second, "alice", 0, absl::Seconds(5)));
}

TEST_F(PostgresStoreIntegrationTest, BadStoreValuesStopTheServerNamingTheFlag) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("pgbad"));
  options.store = "mysql://nope";
  auto server = MaskserveServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message().rfind("store: ", 0), 0u) << server.status();

  // A server nobody listens on (port 1), with a password that must not be
  // echoed back.
  options.store = "postgresql://user:secret@127.0.0.1:1/db?connect_timeout=2";
  server = MaskserveServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable) << server.status();
  EXPECT_EQ(server.status().message().rfind("store: ", 0), 0u) << server.status();
  EXPECT_EQ(server.status().message().find("secret"), std::string::npos) << server.status();

  options.store = url_;
  options.postgres_pool_size = 0;
  server = MaskserveServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message().rfind("postgres_pool_size: ", 0), 0u) << server.status();
}

TEST_F(PostgresStoreIntegrationTest, RolesAreCheckedAndSplitOnlyOnASharedStore) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("roles"));
  options.roles = "serving";
  auto server = MaskserveServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message().rfind("roles: ", 0), 0u) << server.status();
  // The embedded store has no other process to train (or serve) for it.
  for (const char* roles : {"serve", "train"}) {
    options.roles = roles;
    server = MaskserveServer::Start(options);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << roles;
    EXPECT_NE(server.status().message().find("--store=postgresql"), std::string::npos)
        << server.status();
  }
  // On PostgreSQL a serving-only server starts, stores jobs and refuses
  // nothing it serves.
  options.store = url_;
  options.roles = "serve";
  server = MaskserveServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  testing::TestClient client(testing::Connect((*server)->port()), "");
  v1::TrainProfileResponse response;
  grpc::Status status = client.stub().TrainProfile(
      client.Context().get(),
      testing::TestClient::SyntheticTrainRequest("alice", v1::XPEFT_HARD, 20), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  absl::SleepFor(absl::Milliseconds(300));
  grpc::ClientContext context;
  v1::GetTrainingJobRequest get;
  get.set_job_id(response.job_id());
  v1::TrainingJob job;
  ASSERT_TRUE(client.stub().GetTrainingJob(&context, get, &job).ok());
  EXPECT_EQ(job.state(), v1::QUEUED);  // no trainer runs it here
}

}  // namespace
}  // namespace maskserve
