// Shared classification heads end to end (--shared_heads): a profile trained
// with one stores only its masks and a reference, serves the head's labels,
// and is refused by servers that lack the head; bad requests name the field;
// heads built for another backbone keep the server from starting.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

using testing::Connect;
using testing::MakeTempDir;
using testing::TestClient;
using testing::TestServerOptions;
using testing::WriteSharedHeads;

const std::vector<std::string> kHeadLabels = {"negative", "positive"};

// A request to train `profile_id` (XPEFT_HARD on the synthetic task, whose
// labels are "positive" and "negative") with the "sentiment" head and no
// label names.
v1::TrainProfileRequest SharedHeadRequest(const std::string& profile_id) {
  v1::TrainProfileRequest request =
      TestClient::SyntheticTrainRequest(profile_id, v1::XPEFT_HARD, 40);
  request.clear_label_names();
  request.set_shared_head("sentiment");
  request.mutable_hyper_parameters()->set_epochs(3);
  return request;
}

void ExpectInvalidNaming(const grpc::Status& status, const std::string& field) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message().rfind(field + ":", 0), 0u) << status.error_message();
}

// A server with the "sentiment" head {negative, positive} loaded.
class SharedHeadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("shared_heads");
    heads_path_ = dir_ + "/heads.safetensors";
    WriteSharedHeads(heads_path_, "sentiment", kHeadLabels);
    server_ = Start(dir_ + "/data", heads_path_);
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<TestClient>(Connect(server_->port()), "");
  }

  // A server on `data_dir` with the heads of `heads_path` ("" = none).
  static std::unique_ptr<MaskserveServer> Start(const std::string& data_dir,
                                                const std::string& heads_path) {
    ServerOptions options = TestServerOptions(data_dir);
    options.banks.shared_heads_path = heads_path;
    auto server = MaskserveServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  v1::Profile GetProfile(const std::string& profile_id) {
    v1::GetProfileRequest get;
    get.set_profile_id(profile_id);
    v1::Profile profile;
    grpc::Status status = client_->stub().GetProfile(client_->Context().get(), get, &profile);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return profile;
  }

  grpc::Status TrainStatus(const v1::TrainProfileRequest& request) {
    v1::TrainProfileResponse response;
    return client_->stub().TrainProfile(client_->Context().get(), request, &response);
  }

  std::string dir_;
  std::string heads_path_;
  std::unique_ptr<MaskserveServer> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(SharedHeadsTest, ModelInfoListsTheLoadedHeads) {
  v1::ModelInfo info;
  ASSERT_TRUE(client_->stub()
                  .GetModelInfo(client_->Context().get(), v1::GetModelInfoRequest(), &info)
                  .ok());
  ASSERT_EQ(info.shared_heads_size(), 1);
  const v1::SharedHeadInfo& head = info.shared_heads(0);
  EXPECT_EQ(head.name(), "sentiment");
  EXPECT_EQ(std::vector<std::string>(head.label_names().begin(), head.label_names().end()),
            kHeadLabels);
  EXPECT_EQ(head.fingerprint().size(), 64u);
}

TEST_F(SharedHeadsTest, ProfileTrainsWithTheSharedHeadAndStoresNoHead) {
  // Built-in backbone: L=4; random bank: N=100.
  constexpr uint64_t L = 4;
  v1::TrainingJob job = client_->Train(SharedHeadRequest("warm-alice"));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.shared_head(), "sentiment");

  const v1::Profile profile = GetProfile("warm-alice");
  EXPECT_EQ(profile.shared_head(), "sentiment");
  EXPECT_EQ(std::vector<std::string>(profile.label_names().begin(), profile.label_names().end()),
            kHeadLabels);
  EXPECT_EQ(profile.size().mask_bytes(), 2u * 13 * L);
  EXPECT_EQ(profile.size().head_bytes(), 0u);
  EXPECT_EQ(profile.size().total_bytes(),
            profile.size().mask_bytes() + profile.size().metadata_bytes());

  v1::PredictResponse response;
  grpc::Status status = client_->Predict(
      "warm-alice", {"the film was great wonderful and fun", "the worst boring ugly story"},
      &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(std::vector<std::string>(response.label_names().begin(), response.label_names().end()),
            kHeadLabels);
  ASSERT_EQ(response.predictions_size(), 2);
  for (const v1::Prediction& prediction : response.predictions()) {
    EXPECT_EQ(prediction.label(), kHeadLabels[prediction.label_index()]);
    EXPECT_EQ(prediction.probabilities_size(), 2);
  }

  // The profile listing says which head each profile uses.
  ASSERT_EQ(client_->Train("own-bob", v1::XPEFT_HARD, 40).state(), v1::SUCCEEDED);
  v1::ListProfilesResponse listed;
  ASSERT_TRUE(client_->stub()
                  .ListProfiles(client_->Context().get(), v1::ListProfilesRequest(), &listed)
                  .ok());
  ASSERT_EQ(listed.profiles_size(), 2);
  EXPECT_EQ(listed.profiles(0).profile_id(), "own-bob");
  EXPECT_EQ(listed.profiles(0).shared_head(), "");
  EXPECT_GT(listed.profiles(0).size().head_bytes(), 0u);
  EXPECT_EQ(listed.profiles(1).shared_head(), "sentiment");
}

TEST_F(SharedHeadsTest, GivenLabelNamesMustEqualTheHeads) {
  v1::TrainProfileRequest request = SharedHeadRequest("warm-carol");
  for (const std::string& label : kHeadLabels) request.add_label_names(label);
  v1::TrainingJob job = client_->Train(request);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(GetProfile("warm-carol").shared_head(), "sentiment");
}

TEST_F(SharedHeadsTest, BadSharedHeadRequestsNameTheField) {
  v1::TrainProfileRequest request = SharedHeadRequest("warm-dave");
  request.set_shared_head("nope");
  grpc::Status status = TrainStatus(request);
  ExpectInvalidNaming(status, "shared_head");
  EXPECT_NE(status.error_message().find("no shared head 'nope' is loaded"), std::string::npos)
      << status.error_message();

  request.set_shared_head("not a name!");
  ExpectInvalidNaming(TrainStatus(request), "shared_head");

  request = SharedHeadRequest("warm-dave");
  request.add_label_names("positive");  // the head's labels in another order
  request.add_label_names("negative");
  ExpectInvalidNaming(TrainStatus(request), "label_names");

  request = SharedHeadRequest("warm-dave");
  request.set_method(v1::HEAD_ONLY);
  status = TrainStatus(request);
  ExpectInvalidNaming(status, "shared_head");
  EXPECT_NE(status.error_message().find("HEAD_ONLY"), std::string::npos) << status.error_message();

  request = SharedHeadRequest("warm-dave");
  request.mutable_examples(3)->set_label("music");
  ExpectInvalidNaming(TrainStatus(request), "examples[3].label");

  // Without a shared head, label names stay required.
  request = SharedHeadRequest("warm-dave");
  request.clear_shared_head();
  ExpectInvalidNaming(TrainStatus(request), "label_names");
}

TEST_F(SharedHeadsTest, ServersWithoutTheSameHeadRefuseTheProfile) {
  ASSERT_EQ(client_->Train(SharedHeadRequest("warm-erin")).state(), v1::SUCCEEDED);
  v1::ExportProfileRequest export_request;
  export_request.set_profile_id("warm-erin");
  v1::ExportProfileResponse exported;
  ASSERT_TRUE(
      client_->stub().ExportProfile(client_->Context().get(), export_request, &exported).ok());
  v1::ImportProfileRequest import;
  import.set_profile_id("warm-erin");
  import.set_data(exported.data());
  v1::Profile imported;

  {  // No shared heads at all.
    std::unique_ptr<MaskserveServer> bare = Start(dir_ + "/bare", "");
    ASSERT_NE(bare, nullptr);
    TestClient other(Connect(bare->port()), "");
    grpc::Status status = other.stub().ImportProfile(other.Context().get(), import, &imported);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
    EXPECT_NE(status.error_message().find("'sentiment'"), std::string::npos)
        << status.error_message();
  }
  {  // A head of the same name with other weights.
    const std::string other_heads = dir_ + "/other-heads.safetensors";
    WriteSharedHeads(other_heads, "sentiment", kHeadLabels, /*seed=*/2);
    std::unique_ptr<MaskserveServer> changed = Start(dir_ + "/changed", other_heads);
    ASSERT_NE(changed, nullptr);
    TestClient other(Connect(changed->port()), "");
    grpc::Status status = other.stub().ImportProfile(other.Context().get(), import, &imported);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
    EXPECT_NE(status.error_message().find("'sentiment'"), std::string::npos)
        << status.error_message();
  }
  {  // The same head file: the import serves as before.
    std::unique_ptr<MaskserveServer> same = Start(dir_ + "/same", heads_path_);
    ASSERT_NE(same, nullptr);
    TestClient other(Connect(same->port()), "");
    grpc::Status status = other.stub().ImportProfile(other.Context().get(), import, &imported);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(imported.shared_head(), "sentiment");
    v1::PredictResponse response;
    status = other.Predict("warm-erin", {"great fun"}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  // Restarted without its heads, the server refuses to serve the stored
  // profile rather than serve it with a wrong head.
  client_.reset();
  server_.reset();
  server_ = Start(dir_ + "/data", "");
  ASSERT_NE(server_, nullptr);
  client_ = std::make_unique<TestClient>(Connect(server_->port()), "");
  v1::PredictResponse response;
  grpc::Status status = client_->Predict("warm-erin", {"great fun"}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("'sentiment'"), std::string::npos)
      << status.error_message();
}

TEST(SharedHeadsStartTest, HeadsOfAnotherBackboneKeepTheServerFromStarting) {
  const std::string dir = MakeTempDir("shared_heads_start");
  const std::string path = dir + "/heads.safetensors";
  WriteSharedHeads(path, "sentiment", kHeadLabels, 1, std::string(64, 'a'));
  ServerOptions options = TestServerOptions(dir + "/data");
  options.banks.shared_heads_path = path;
  auto server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition) << server.status();
  EXPECT_NE(server.status().message().find("shared_heads: '" + path + "'"), absl::string_view::npos)
      << server.status();
  EXPECT_NE(server.status().message().find("another backbone"), absl::string_view::npos)
      << server.status();

  options.banks.shared_heads_path = dir + "/missing.safetensors";
  server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound) << server.status();
  EXPECT_NE(server.status().message().find("shared_heads: "), absl::string_view::npos)
      << server.status();
}

}  // namespace
}  // namespace maskserve
