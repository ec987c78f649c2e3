// Scale-out with the real parts on loopback: maskserve processes (the real
// binary) sharing one throwaway PostgreSQL 15 cluster, a real nginx routing
// by x-maskserve-profile in front of the serving replicas, and a TCP relay
// to cut one replica's database connection:
// - a profile trained through the proxy is served by every replica, and a
//   retrained version replaces every replica's resident copy;
// - a replica killed with SIGKILL: its profiles are served by the others;
// - a trainer killed with SIGKILL in the middle of a job: another trainer
//   claims it when its lease expires, finishes it, and the version is
//   published once;
// - a replica whose database connection is cut while a new version is
//   published never serves the old one again, and catches up once the
//   connection is back;
// - a job cancelled through a serving replica stops on the trainer.
// Skipped when PostgreSQL or nginx is absent, unless MASKSERVE_REQUIRE_POSTGRES
// or MASKSERVE_REQUIRE_NGINX make that a failure.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "storage/testing/postgres_server.h"
#include "tests/testing/nginx_proxy.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tcp_relay.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

const std::vector<std::string> kTexts = {"a wonderful warm film", "dull and cold"};

// One maskserve process on a free loopback port.
class Replica {
 public:
  static std::unique_ptr<Replica> Start(const std::string& name, const std::string& store,
                                        const std::string& roles,
                                        const std::vector<std::string>& extra = {}) {
    auto replica = std::unique_ptr<Replica>(new Replica());
    replica->name_ = name;
    replica->dir_ = testing::MakeTempDir("replica_" + name);
    const std::string port_file = replica->dir_ + "/port";
    std::vector<std::string> argv = {MASKSERVE_BINARY_DIR "/server/maskserve",
                                     "--address=127.0.0.1:0",
                                     "--port_file=" + port_file,
                                     "--model_dir=builtin",
                                     "--device=cpu",
                                     "--metrics_address=",
                                     "--store=" + store,
                                     "--roles=" + roles,
                                     "--data_dir=" + replica->dir_ + "/data",
                                     "--drain_timeout_seconds=1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> process =
        testing::Subprocess::Start(argv, "", replica->dir_ + "/log");
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    replica->process_ = *std::move(process);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline && replica->process_->Running()) {
      std::ifstream in(port_file);
      if (in >> replica->port_) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_GT(replica->port_, 0) << name << " did not start: " << replica->Log();
    if (replica->port_ <= 0) return nullptr;
    return replica;
  }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  void Kill() { kill(process_->pid(), SIGKILL), (void)process_->Wait(absl::Seconds(10)); }
  std::string Log() const {
    std::ifstream in(dir_ + "/log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  Replica() = default;
  std::string name_;
  std::string dir_;
  std::unique_ptr<testing::Subprocess> process_;
  int port_ = 0;
};

// A client as the real ones are: the routing header on profile-scoped calls.
class Client {
 public:
  explicit Client(const std::string& address)
      : stub_(v1::Maskserve::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& profile,
                                                      std::chrono::seconds timeout) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!profile.empty()) context->AddMetadata("x-maskserve-profile", profile);
    context->set_deadline(std::chrono::system_clock::now() + timeout);
    return context;
  }
  grpc::Status Submit(const v1::TrainProfileRequest& request, std::string* job_id) {
    v1::TrainProfileResponse response;
    grpc::Status status = stub_->TrainProfile(
        Context(request.profile_id(), std::chrono::seconds(30)).get(), request, &response);
    *job_id = response.job_id();
    return status;
  }
  v1::TrainingJob Job(const std::string& job_id) {
    v1::GetTrainingJobRequest request;
    request.set_job_id(job_id);
    v1::TrainingJob job;
    grpc::Status status =
        stub_->GetTrainingJob(Context("", std::chrono::seconds(10)).get(), request, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }
  // Polls GetTrainingJob until the job is final.
  v1::TrainingJob WaitFinal(const std::string& job_id, absl::Duration timeout = absl::Seconds(90)) {
    const absl::Time deadline = absl::Now() + timeout;
    v1::TrainingJob job;
    while (absl::Now() < deadline) {
      job = Job(job_id);
      if (job.state() == v1::SUCCEEDED || job.state() == v1::FAILED ||
          job.state() == v1::CANCELLED) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return job;
  }
  v1::TrainingJob Train(const v1::TrainProfileRequest& request) {
    std::string job_id;
    grpc::Status status = Submit(request, &job_id);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return WaitFinal(job_id);
  }
  grpc::Status Predict(const std::string& profile, v1::PredictResponse* response) {
    v1::PredictRequest request;
    request.set_profile_id(profile);
    for (const std::string& t : kTexts) request.add_inputs()->set_text(t);
    return stub_->Predict(Context(profile, std::chrono::seconds(10)).get(), request, response);
  }
  // The version Predict answers at (0 with *status set on an error).
  uint64_t Version(const std::string& profile, grpc::Status* status = nullptr) {
    v1::PredictResponse response;
    grpc::Status s = Predict(profile, &response);
    if (status != nullptr) *status = s;
    return s.ok() ? response.profile_version() : 0;
  }
  v1::Maskserve::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<v1::Maskserve::Stub> stub_;
};

v1::TrainProfileRequest TrainRequest(const std::string& profile, unsigned seed, int epochs = 3) {
  v1::TrainProfileRequest request =
      testing::TestClient::SyntheticTrainRequest(profile, v1::XPEFT_HARD, 40, seed);
  request.mutable_hyper_parameters()->set_epochs(uint32_t(epochs));
  return request;
}

// Waits until `client` answers `profile` at `version`.
bool EventuallyServes(Client& client, const std::string& profile, uint64_t version,
                      absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (client.Version(profile) == version) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

class MultiReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PostgresServer*> postgres = PostgresServer::Shared();
    if (!postgres.ok()) {
      if (PostgresServer::Required()) FAIL() << postgres.status();
      GTEST_SKIP() << postgres.status().message();
    }
    absl::Status nginx = testing::NginxProxy::Available();
    if (!nginx.ok()) {
      if (testing::NginxProxy::Required()) FAIL() << nginx;
      GTEST_SKIP() << nginx.message();
    }
    postgres_ = *postgres;
    absl::StatusOr<std::string> url = postgres_->CreateDatabase("replicas");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }

  PostgresServer* postgres_ = nullptr;
  std::string url_;
};

TEST_F(MultiReplicaTest, TrainedThroughTheProxyEveryReplicaServesTheNewVersion) {
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<std::string> upstreams;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(Replica::Start(absl::StrCat("serve", i), url_, "serve"));
    ASSERT_NE(replicas.back(), nullptr);
    upstreams.push_back(replicas.back()->address());
  }
  std::unique_ptr<Replica> trainer = Replica::Start("trainer", url_, "train");
  ASSERT_NE(trainer, nullptr);
  absl::StatusOr<std::unique_ptr<testing::NginxProxy>> proxy =
      testing::NginxProxy::Start(upstreams);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  Client through_proxy((*proxy)->address());

  v1::TrainingJob job = through_proxy.Train(TrainRequest("alice", 1));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.published_version(), 1u);
  for (auto& replica : replicas) {
    Client direct(replica->address());
    EXPECT_EQ(direct.Version("alice"), 1u) << replica->Log();
  }
  // The trainer trains; it does not serve.
  grpc::Status refused;
  Client(trainer->address()).Version("alice", &refused);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // Retrained: every replica drops its resident version 1.
  job = through_proxy.Train(TrainRequest("alice", 2));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.published_version(), 2u);
  for (auto& replica : replicas) {
    Client direct(replica->address());
    EXPECT_TRUE(EventuallyServes(direct, "alice", 2, absl::Seconds(5)));
  }
  EXPECT_EQ(through_proxy.Version("alice"), 2u);
}

TEST_F(MultiReplicaTest, AKilledReplicasProfilesAreServedByTheOthers) {
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<std::string> upstreams;
  for (int i = 0; i < 3; ++i) {
    // Each also trains: no separate trainer needed here.
    replicas.push_back(Replica::Start(absl::StrCat("both", i), url_, "serve,train"));
    ASSERT_NE(replicas.back(), nullptr);
    upstreams.push_back(replicas.back()->address());
  }
  absl::StatusOr<std::unique_ptr<testing::NginxProxy>> proxy =
      testing::NginxProxy::Start(upstreams);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  Client through_proxy((*proxy)->address());
  std::vector<std::string> profiles;
  std::vector<std::string> jobs;
  for (int i = 0; i < 6; ++i) {
    profiles.push_back(absl::StrCat("user", i));
    std::string job_id;
    ASSERT_TRUE(through_proxy.Submit(TrainRequest(profiles.back(), i + 1, 2), &job_id).ok());
    jobs.push_back(job_id);
  }
  for (const std::string& job_id : jobs) {
    ASSERT_EQ(through_proxy.WaitFinal(job_id).state(), v1::SUCCEEDED);
  }
  for (const std::string& profile : profiles) EXPECT_EQ(through_proxy.Version(profile), 1u);

  replicas[0]->Kill();
  for (const std::string& profile : profiles) {
    grpc::Status status;
    EXPECT_EQ(through_proxy.Version(profile, &status), 1u)
        << profile << ": " << status.error_message();
  }
}

TEST_F(MultiReplicaTest, AKilledTrainersJobIsFinishedByAnotherAndPublishedOnce) {
  const std::vector<std::string> lease = {"--job_lease_seconds=2"};
  std::unique_ptr<Replica> serving = Replica::Start("serve", url_, "serve");
  std::unique_ptr<Replica> first = Replica::Start("trainer1", url_, "train", lease);
  ASSERT_NE(serving, nullptr);
  ASSERT_NE(first, nullptr);
  Client client(serving->address());
  std::string job_id;
  ASSERT_TRUE(client.Submit(TrainRequest("alice", 1, 120), &job_id).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (client.Job(job_id).state() != v1::RUNNING && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(client.Job(job_id).state(), v1::RUNNING);
  std::unique_ptr<Replica> second = Replica::Start("trainer2", url_, "train", lease);
  ASSERT_NE(second, nullptr);
  first->Kill();

  v1::TrainingJob job = client.WaitFinal(job_id, absl::Seconds(120));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error() << second->Log();
  EXPECT_EQ(job.published_version(), 1u);
  EXPECT_EQ(job.attempts(), 2u);
  EXPECT_EQ(client.Version("alice"), 1u);
  // Published once: no second version appeared.
  v1::GetProfileRequest get;
  get.set_profile_id("alice");
  v1::Profile profile;
  ASSERT_TRUE(
      client.stub()
          .GetProfile(Client::Context("alice", std::chrono::seconds(10)).get(), get, &profile)
          .ok());
  EXPECT_EQ(profile.version(), 1u);
  EXPECT_EQ(profile.training_job_id(), job_id);
}

TEST_F(MultiReplicaTest, ACutDatabaseConnectionCatchesUpWithoutServingAStaleVersion) {
  std::unique_ptr<Replica> writer = Replica::Start("writer", url_, "serve,train");
  ASSERT_NE(writer, nullptr);
  absl::StatusOr<std::unique_ptr<testing::TcpRelay>> relay =
      testing::TcpRelay::Start("127.0.0.1", postgres_->port());
  ASSERT_TRUE(relay.ok()) << relay.status();
  // The same database through the relay.
  std::string relayed = url_;
  const std::string direct_port = absl::StrCat(":", postgres_->port(), "/");
  relayed.replace(relayed.find(direct_port), direct_port.size(),
                  absl::StrCat(":", (*relay)->port(), "/"));
  std::unique_ptr<Replica> reader = Replica::Start("reader", relayed, "serve");
  ASSERT_NE(reader, nullptr);
  Client to_writer(writer->address());
  Client to_reader(reader->address());
  ASSERT_EQ(to_writer.Train(TrainRequest("alice", 1)).state(), v1::SUCCEEDED);
  ASSERT_EQ(to_reader.Version("alice"), 1u);  // resident on the reader

  (*relay)->Cut();
  ASSERT_EQ(to_writer.Train(TrainRequest("alice", 2)).state(), v1::SUCCEEDED);
  // Version 2 is committed: the reader answers it or nothing, never 1.
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    grpc::Status status;
    const uint64_t version = to_reader.Version("alice", &status);
    EXPECT_NE(version, 1u) << "the cut-off replica served a stale version";
    if (!status.ok()) {
      ++refused;
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    }
    absl::SleepFor(absl::Milliseconds(25));
  }
  EXPECT_EQ(refused, 20);

  (*relay)->Restore();
  EXPECT_TRUE(EventuallyServes(to_reader, "alice", 2, absl::Seconds(15))) << reader->Log();
}

TEST_F(MultiReplicaTest, ACancelThroughAServingReplicaStopsTheJobOnTheTrainer) {
  std::unique_ptr<Replica> serving = Replica::Start("serve", url_, "serve");
  std::unique_ptr<Replica> trainer = Replica::Start("trainer", url_, "train");
  ASSERT_NE(serving, nullptr);
  ASSERT_NE(trainer, nullptr);
  Client client(serving->address());
  std::string job_id;
  grpc::Status submitted = client.Submit(TrainRequest("alice", 1, 1000), &job_id);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (client.Job(job_id).state() != v1::RUNNING && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(client.Job(job_id).state(), v1::RUNNING);
  v1::CancelTrainingJobRequest cancel;
  cancel.set_job_id(job_id);
  v1::TrainingJob cancelled;
  grpc::Status cancel_status = client.stub().CancelTrainingJob(
      Client::Context("", std::chrono::seconds(10)).get(), cancel, &cancelled);
  ASSERT_TRUE(cancel_status.ok()) << cancel_status.error_message();
  EXPECT_TRUE(cancelled.cancel_requested());
  v1::TrainingJob job = client.WaitFinal(job_id, absl::Seconds(30));
  EXPECT_EQ(job.state(), v1::CANCELLED) << job.error();
  grpc::Status status;
  client.Version("alice", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// Publish-to-live latency across replicas: a version published through one
// server (an ImportProfile with overwrite, acknowledged once committed)
// until each of three other replicas, which hold the previous version
// resident, answers Predict with it. Opt-in (MASKSERVE_SCALE_OUT_LATENCY=1);
// prints JSON and a table.
TEST_F(MultiReplicaTest, PublishToLiveLatencyAcrossReplicas) {
  if (getenv("MASKSERVE_SCALE_OUT_LATENCY") == nullptr) {
    GTEST_SKIP() << "set MASKSERVE_SCALE_OUT_LATENCY=1 to measure";
  }
  std::unique_ptr<Replica> writer = Replica::Start("writer", url_, "serve,train");
  ASSERT_NE(writer, nullptr);
  std::vector<std::unique_ptr<Replica>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(Replica::Start(absl::StrCat("reader", i), url_, "serve"));
    ASSERT_NE(readers.back(), nullptr);
  }
  Client to_writer(writer->address());
  ASSERT_EQ(to_writer.Train(TrainRequest("alice", 1)).state(), v1::SUCCEEDED);
  v1::ExportProfileRequest export_request;
  export_request.set_profile_id("alice");
  v1::ExportProfileResponse exported;
  ASSERT_TRUE(to_writer.stub()
                  .ExportProfile(Client::Context("alice", std::chrono::seconds(10)).get(),
                                 export_request, &exported)
                  .ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (auto& reader : readers) clients.push_back(std::make_unique<Client>(reader->address()));

  constexpr int kRounds = 100;
  std::vector<double> latency_ms;
  for (int round = 0; round < kRounds; ++round) {
    for (auto& client : clients) ASSERT_GT(client->Version("alice"), 0u);  // resident
    v1::ImportProfileRequest import;
    import.set_profile_id("alice");
    import.set_data(exported.data());
    import.set_overwrite(true);
    v1::Profile imported;
    ASSERT_TRUE(to_writer.stub()
                    .ImportProfile(Client::Context("alice", std::chrono::seconds(10)).get(), import,
                                   &imported)
                    .ok());
    const absl::Time published = absl::Now();
    for (auto& client : clients) {
      while (client->Version("alice") != imported.version()) {
        ASSERT_LT(absl::Now() - published, absl::Seconds(10));
      }
      latency_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - published));
    }
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  auto quantile = [&](double q) {
    return latency_ms[std::min(latency_ms.size() - 1, size_t(q * double(latency_ms.size())))];
  };
  // One Predict round trip on a replica that needs no reload, for scale.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) clients[0]->Version("alice");
  const double predict_ms = absl::ToDoubleMilliseconds(absl::Now() - start) / 100;
  std::printf(
      "{\"benchmark\": \"publish_to_live\", \"replicas\": 3, \"samples\": %zu, "
      "\"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, "
      "\"resident_predict_ms\": %.2f}\n",
      latency_ms.size(), quantile(0.5), quantile(0.9), quantile(0.99), latency_ms.back(),
      predict_ms);
  std::printf("publish-to-live across 3 replicas (%zu samples)\n", latency_ms.size());
  std::printf("  p50 %7.2f ms   p90 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", quantile(0.5),
              quantile(0.9), quantile(0.99), latency_ms.back());
  std::printf("  (one Predict on a resident profile: %.2f ms)\n", predict_ms);
}

}  // namespace
}  // namespace maskserve
