// End to end over a real loopback gRPC connection with the built-in
// backbone: train, watch, predict, export/delete/import, restart, errors.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

using testing::Connect;
using testing::MakeTempDir;
using testing::TestClient;
using testing::TestServerOptions;

class ServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = MakeTempDir("serving");
    Restart();
  }
  void Restart() {
    server_.reset();
    auto server = MaskserveServer::Start(TestServerOptions(data_dir_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<TestClient>(Connect(server_->port()), "");
  }

  std::string data_dir_;
  std::unique_ptr<MaskserveServer> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(ServingTest, TrainWatchPredictReturnsTheTrainedLabels) {
  v1::TrainingJob job = client_->Train("alice", v1::XPEFT_HARD, 80);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.published_version(), 1u);
  EXPECT_GT(job.step(), 0u);
  EXPECT_EQ(job.hyper_parameters().xpeft_top_k(), 50u);

  v1::PredictResponse response;
  grpc::Status status = client_->Predict(
      "alice", {"the film was great wonderful and fun", "the worst boring ugly story"}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.profile_version(), 1u);
  ASSERT_EQ(response.predictions_size(), 2);
  EXPECT_EQ(response.predictions(0).label(), "positive")
      << response.DebugString() << job.DebugString();
  EXPECT_EQ(response.predictions(1).label(), "negative");
  EXPECT_EQ(response.predictions(0).probabilities_size(), 2);
  EXPECT_NEAR(response.predictions(0).probabilities(0) + response.predictions(0).probabilities(1),
              1.0, 1e-5);

  v1::GetProfileRequest get;
  get.set_profile_id("alice");
  v1::Profile profile;
  ASSERT_TRUE(client_->stub().GetProfile(client_->Context().get(), get, &profile).ok());
  EXPECT_EQ(profile.method(), v1::XPEFT_HARD);
  EXPECT_EQ(profile.size().mask_bytes(), 2u * 13 * 4);  // 2*ceil(100/8)*L, L=4
  EXPECT_EQ(profile.training_job_id(), job.job_id());
}

TEST_F(ServingTest, Int8HeadIsReportedInTheSizeAndServes) {
  // Built-in backbone: d=128, L=4; random bank: b=d/16=8.
  constexpr uint64_t C = 2, d = 128, L = 4, b = 8;
  v1::TrainProfileRequest request =
      TestClient::SyntheticTrainRequest("int8-alice", v1::XPEFT_HARD, 80);
  request.mutable_hyper_parameters()->set_head_precision(v1::HEAD_PRECISION_INT8);
  v1::TrainingJob job = client_->Train(request);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.hyper_parameters().head_precision(), v1::HEAD_PRECISION_INT8);

  v1::GetProfileRequest get;
  get.set_profile_id("int8-alice");
  v1::Profile profile;
  ASSERT_TRUE(client_->stub().GetProfile(client_->Context().get(), get, &profile).ok());
  // int8 weight, fp16 scale per label, fp16 bias, fp16 LayerNorm [2, L, b].
  EXPECT_EQ(profile.size().head_bytes(), C * d + 2 * C + 2 * C + 2 * 2 * L * b);
  EXPECT_EQ(profile.size().mask_bytes(), 2u * 13 * L);
  EXPECT_EQ(
      profile.size().total_bytes(),
      profile.size().mask_bytes() + profile.size().head_bytes() + profile.size().metadata_bytes());

  v1::PredictResponse response;
  grpc::Status status = client_->Predict(
      "int8-alice", {"the film was great wonderful and fun", "the worst boring ugly story"},
      &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.predictions_size(), 2);
  EXPECT_EQ(response.predictions(0).label(), "positive") << response.DebugString();
  EXPECT_EQ(response.predictions(1).label(), "negative");

  // The default stays fp16: 2 bytes per weight, and the job says so.
  v1::TrainingJob fp16 = client_->Train("fp16-alice", v1::XPEFT_HARD, 80);
  ASSERT_EQ(fp16.state(), v1::SUCCEEDED) << fp16.error();
  EXPECT_EQ(fp16.hyper_parameters().head_precision(), v1::HEAD_PRECISION_FP16);
  get.set_profile_id("fp16-alice");
  ASSERT_TRUE(client_->stub().GetProfile(client_->Context().get(), get, &profile).ok());
  EXPECT_EQ(profile.size().head_bytes(), 2 * C * d + 2 * C + 2 * 2 * L * b);
}

TEST_F(ServingTest, ExportDeleteImportRoundTripAndRestartKeepResults) {
  ASSERT_EQ(client_->Train("bob", v1::PROPETL_HYBRID).state(), v1::SUCCEEDED);
  const std::vector<std::string> texts = {"perfect fun", "dull waste", "it was a film"};
  v1::PredictResponse before;
  ASSERT_TRUE(client_->Predict("bob", texts, &before).ok());

  v1::ExportProfileRequest export_request;
  export_request.set_profile_id("bob");
  v1::ExportProfileResponse exported;
  ASSERT_TRUE(
      client_->stub().ExportProfile(client_->Context().get(), export_request, &exported).ok());
  v1::DeleteProfileRequest del;
  del.set_profile_id("bob");
  v1::DeleteProfileResponse deleted;
  ASSERT_TRUE(client_->stub().DeleteProfile(client_->Context().get(), del, &deleted).ok());
  v1::PredictResponse gone;
  EXPECT_EQ(client_->Predict("bob", texts, &gone).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ImportProfileRequest import;
  import.set_profile_id("bob-restored");
  import.set_data(exported.data());
  v1::Profile imported;
  grpc::Status status = client_->stub().ImportProfile(client_->Context().get(), import, &imported);
  ASSERT_TRUE(status.ok()) << status.error_message();

  auto same = [&](const v1::PredictResponse& a, const v1::PredictResponse& b) {
    ASSERT_EQ(a.predictions_size(), b.predictions_size());
    for (int i = 0; i < a.predictions_size(); ++i) {
      EXPECT_EQ(a.predictions(i).label(), b.predictions(i).label());
      for (int j = 0; j < a.predictions(i).probabilities_size(); ++j) {
        EXPECT_NEAR(a.predictions(i).probabilities(j), b.predictions(i).probabilities(j), 1e-5);
      }
    }
  };
  v1::PredictResponse after_import;
  ASSERT_TRUE(client_->Predict("bob-restored", texts, &after_import).ok());
  same(before, after_import);

  Restart();
  v1::PredictResponse after_restart;
  ASSERT_TRUE(client_->Predict("bob-restored", texts, &after_restart).ok());
  same(before, after_restart);
}

TEST_F(ServingTest, EveryMethodServesInOneMixedStream) {
  const std::vector<std::pair<std::string, v1::Method>> profiles = {
      {"p-hard", v1::XPEFT_HARD},       {"p-soft", v1::XPEFT_SOFT}, {"p-layer", v1::PROPETL_LAYER},
      {"p-hybrid", v1::PROPETL_HYBRID}, {"p-head", v1::HEAD_ONLY},  {"p-adapter", v1::ADAPTER}};
  for (const auto& [id, method] : profiles) {
    ASSERT_EQ(client_->Train(id, method, 40).state(), v1::SUCCEEDED) << id;
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const auto& [id, method] : profiles) {
    threads.emplace_back([&, id = id] {
      for (int i = 0; i < 5; ++i) {
        v1::PredictResponse response;
        if (!client_->Predict(id, {"great fun", "awful"}, &response).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ServingTest, BadRequestsNameTheField) {
  v1::PredictResponse response;
  grpc::Status status = client_->Predict("alice", {""}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("inputs[0].text"), std::string::npos)
      << status.error_message();

  status = client_->Predict("bad id!", {"x"}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("profile_id"), std::string::npos);

  status = client_->Predict("nobody", {"x"}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::TrainProfileRequest train;
  train.set_profile_id("carol");
  train.set_method(v1::XPEFT_HARD);
  train.add_label_names("a");
  train.add_label_names("b");
  v1::TrainingExample* ex = train.add_examples();
  ex->set_text("hello");
  ex->set_label("c");
  v1::TrainProfileResponse job;
  status = client_->stub().TrainProfile(client_->Context().get(), train, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("examples[0].label"), std::string::npos)
      << status.error_message();

  ex->set_label("a");
  train.mutable_hyper_parameters()->set_epochs(0);
  status = client_->stub().TrainProfile(client_->Context().get(), train, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("hyper_parameters.epochs"), std::string::npos)
      << status.error_message();

  train.mutable_hyper_parameters()->clear_epochs();
  train.mutable_hyper_parameters()->set_head_precision(static_cast<v1::HeadPrecision>(9));
  status = client_->stub().TrainProfile(client_->Context().get(), train, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("hyper_parameters.head_precision"), std::string::npos)
      << status.error_message();

  v1::GetTrainingJobRequest get_job;
  get_job.set_job_id("nope");
  v1::TrainingJob got;
  status = client_->stub().GetTrainingJob(client_->Context().get(), get_job, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("job_id"), std::string::npos);
}

TEST_F(ServingTest, ExpiredDeadlineIsDeadlineExceeded) {
  ASSERT_EQ(client_->Train("dave", v1::HEAD_ONLY, 20).state(), v1::SUCCEEDED);
  v1::PredictRequest request;
  request.set_profile_id("dave");
  request.add_inputs()->set_text("anything");
  v1::PredictResponse response;
  auto context = client_->Context(std::chrono::milliseconds(0));
  EXPECT_EQ(client_->stub().Predict(context.get(), request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(ServingQueueTest, FullQueueIsResourceExhausted) {
  ServerOptions options = TestServerOptions(MakeTempDir("queue"));
  options.engine.batching.max_queued_sequences = 2;
  auto server = MaskserveServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient client(Connect((*server)->port()), "");
  ASSERT_EQ(client.Train("erin", v1::HEAD_ONLY, 20).state(), v1::SUCCEEDED);
  v1::PredictResponse response;
  grpc::Status status = client.Predict("erin", {"a", "b", "c"}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(client.Predict("erin", {"a", "b"}, &response).ok());
}

TEST(ServingQueueTest, OneTenantCannotTakeMoreThanItsShareOfTheQueue) {
  ServerOptions options = TestServerOptions(MakeTempDir("share"));
  options.engine.batching.max_queued_sequences = 8;
  options.engine.batching.max_queued_sequences_per_tenant = 3;
  options.engine.max_unfinished_jobs_per_tenant = 1;
  auto server = MaskserveServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient client(Connect((*server)->port()), "");
  ASSERT_EQ(client.Train("fay", v1::HEAD_ONLY, 20).state(), v1::SUCCEEDED);
  v1::PredictResponse response;
  grpc::Status status = client.Predict("fay", {"a", "b", "c", "d"}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("share"), std::string::npos) << status.error_message();
  EXPECT_TRUE(client.Predict("fay", {"a", "b", "c"}, &response).ok());
}

}  // namespace
}  // namespace maskserve

namespace maskserve {
namespace {

using testing::Connect;
using testing::MakeTempDir;
using testing::TestClient;
using testing::TestServerOptions;

// Job rules: one unfinished job per profile, a queued job is cancelled at
// once (and durably), and the profile cannot be deleted while it trains.
TEST(TrainingJobRulesTest, SecondJobDeleteAndCancelWhileQueued) {
  auto server = MaskserveServer::Start(TestServerOptions(MakeTempDir("jobs")));
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient client(Connect((*server)->port()), "");
  auto request = [](const std::string& id) {
    v1::TrainProfileRequest r;
    r.set_profile_id(id);
    r.set_method(v1::XPEFT_HARD);
    r.add_label_names("positive");
    r.add_label_names("negative");
    for (const auto& e : testing::SyntheticTask(200, 2, 3)) {
      v1::TrainingExample* ex = r.add_examples();
      ex->set_text(e.text);
      ex->set_label(e.label == 0 ? "positive" : "negative");
    }
    r.mutable_hyper_parameters()->set_epochs(50);
    return r;
  };
  v1::TrainProfileResponse first, second, again;
  ASSERT_TRUE(client.stub().TrainProfile(client.Context().get(), request("busy"), &first).ok());
  ASSERT_TRUE(client.stub().TrainProfile(client.Context().get(), request("waiting"), &second).ok());
  grpc::Status status = client.stub().TrainProfile(client.Context().get(), request("busy"), &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();

  v1::DeleteProfileRequest del;
  del.set_profile_id("busy");
  v1::DeleteProfileResponse deleted;
  EXPECT_EQ(client.stub().DeleteProfile(client.Context().get(), del, &deleted).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // "waiting" is still queued behind "busy": cancelled at once.
  v1::CancelTrainingJobRequest cancel;
  cancel.set_job_id(second.job_id());
  v1::TrainingJob cancelled;
  ASSERT_TRUE(client.stub().CancelTrainingJob(client.Context().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  v1::GetTrainingJobRequest get;
  get.set_job_id(second.job_id());
  v1::TrainingJob stored;
  ASSERT_TRUE(client.stub().GetTrainingJob(client.Context().get(), get, &stored).ok());
  EXPECT_EQ(stored.state(), v1::CANCELLED);

  cancel.set_job_id(first.job_id());
  ASSERT_TRUE(client.stub().CancelTrainingJob(client.Context().get(), cancel, &cancelled).ok());
  EXPECT_EQ(client.Wait(first.job_id()).state(), v1::CANCELLED);

  // The per-tenant limit on unfinished jobs.
  ServerOptions limited = TestServerOptions(MakeTempDir("joblimit"));
  limited.engine.max_unfinished_jobs_per_tenant = 1;
  auto small = MaskserveServer::Start(limited);
  ASSERT_TRUE(small.ok()) << small.status();
  TestClient limited_client(Connect((*small)->port()), "");
  v1::TrainProfileResponse one, two;
  ASSERT_TRUE(limited_client.stub()
                  .TrainProfile(limited_client.Context().get(), request("one"), &one)
                  .ok());
  status = limited_client.stub().TrainProfile(limited_client.Context().get(), request("two"), &two);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  cancel.set_job_id(one.job_id());
  ASSERT_TRUE(limited_client.stub()
                  .CancelTrainingJob(limited_client.Context().get(), cancel, &cancelled)
                  .ok());

  v1::TrainProfileRequest bad_k = request("k");
  bad_k.mutable_hyper_parameters()->set_xpeft_top_k(500);
  status = client.stub().TrainProfile(client.Context().get(), bad_k, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("hyper_parameters.xpeft_top_k"), std::string::npos);
}

}  // namespace
}  // namespace maskserve
