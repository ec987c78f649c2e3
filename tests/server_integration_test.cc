// Starts the real server on a free loopback port and calls it over a real
// gRPC channel.
#include <unistd.h>

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "server/maskserve_server.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// GetModelInfo of the server on `port`, over a new plaintext channel.
v1::ModelInfo ModelInfoOf(int port) {
  auto stub = v1::Maskserve::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::ModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return info;
}

class ServerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("integration"));
    options.engine.limits.max_labels = 17;
    auto server = MaskserveServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  std::unique_ptr<MaskserveServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerIntegrationTest, HealthIsServingForServerAndService) {
  EXPECT_EQ(Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health("maskserve.v1.Maskserve"), HealthCheckResponse::SERVING);
}

TEST_F(ServerIntegrationTest, GetModelInfoDescribesTheBuiltinBackbone) {
  auto stub = v1::Maskserve::NewStub(channel_);
  grpc::ClientContext context;
  v1::ModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.backbone().name(), "builtin-tiny-bert");
  EXPECT_EQ(info.backbone().device(), "cpu");
  EXPECT_EQ(info.backbone().dtype(), "float32");
  EXPECT_GT(info.backbone().num_layers(), 0u);
  EXPECT_GT(info.backbone().hidden_size(), 0u);
  EXPECT_EQ(info.backbone().fingerprint().size(), 64u);
  EXPECT_TRUE(info.backbone().lowercase());
  EXPECT_EQ(info.limits().max_labels(), 17u);
  EXPECT_FALSE(info.server_version().empty());
}

TEST_F(ServerIntegrationTest, ShutdownStopsServingAndIsIdempotent) {
  server_->Shutdown(absl::Seconds(1));
  server_->Shutdown(absl::Seconds(1));
  server_->Wait();
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  HealthCheckResponse response;
  EXPECT_FALSE(stub->Check(&context, HealthCheckRequest(), &response).ok());
}

TEST(ServerStartTest, BadOptionsAreRejectedNamingTheField) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("bad"));
  options.device = "tpu";
  auto server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("device"), absl::string_view::npos);
}

TEST(ServerStartTest, BadThreadAndPoolingOptionsAreRejectedNamingTheField) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("badthreads"));
  options.engine.batching.intra_op_threads = -1;
  auto server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("intra_op_threads"), absl::string_view::npos);
  options.engine.batching.intra_op_threads = 0;
  options.engine.training_intra_op_threads = -2;
  server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("training_intra_op_threads"), absl::string_view::npos);
  options.engine.training_intra_op_threads = 1;
  options.pooling = "max";
  server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("pooling: 'max'"), absl::string_view::npos);
}

// A message over --max_message_bytes is refused by gRPC before it is parsed.
TEST(ServerStartTest, MessagesOverTheSizeBudgetAreResourceExhausted) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("msgsize"));
  options.max_message_bytes = 4096;
  auto server = MaskserveServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  testing::TestClient client(grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                                 grpc::InsecureChannelCredentials()),
                             "");
  v1::PredictResponse response;
  grpc::Status big = client.Predict("alice", {std::string(8000, 'a')}, &response);
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << big.error_message();
  grpc::Status small = client.Predict("alice", {"a short text"}, &response);
  EXPECT_EQ(small.error_code(), grpc::StatusCode::NOT_FOUND) << small.error_message();
  options.max_message_bytes = 10;
  EXPECT_EQ(MaskserveServer::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerStartTest, ModelInfoNamesTheBackboneSourceAndPooling) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("info"));
  options.pooling = "mean";
  auto server = MaskserveServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const v1::ModelInfo info = ModelInfoOf((*server)->port());
  EXPECT_EQ(info.backbone().name(), "builtin-tiny-bert");
  EXPECT_EQ(info.backbone().source(), "builtin");
  EXPECT_EQ(info.backbone().pooling(), "mean");
  EXPECT_NE(info.backbone().origin().find("built-in"), std::string::npos);
  (*server)->Shutdown(absl::ZeroDuration());
}

TEST(ServerStartTest, MissingModelDirIsNotFoundNamingIt) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("nomodel"));
  options.model_dir = "/nonexistent/bert";
  auto server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(server.status().message().find("/nonexistent/bert"), absl::string_view::npos);
}

TEST(ServerStartTest, ServesAnHfModelDirectory) {
  const std::string dir = std::string(MASKSERVE_SHARED_DIR) + "/data/hf_parity/tiny-bert-random";
  if (access((dir + "/model.safetensors").c_str(), R_OK) != 0) {
    GTEST_SKIP() << dir << " not found (../shared is absent in a user's clone)";
  }
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("hfdir"));
  options.model_dir = dir;
  auto server = MaskserveServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const v1::ModelInfo info = ModelInfoOf((*server)->port());
  EXPECT_EQ(info.backbone().name(), "tiny-bert-random");
  EXPECT_EQ(info.backbone().source(), dir);
  EXPECT_EQ(info.backbone().pooling(), "pooler");  // no sentence-transformers config
  EXPECT_EQ(info.backbone().num_layers(), 2u);
  EXPECT_EQ(info.backbone().hidden_size(), 128u);
  EXPECT_EQ(info.backbone().vocab_size(), 30522u);
  ASSERT_EQ(info.banks_size(), 2);
  EXPECT_EQ(info.banks(0).kind(), v1::ADAPTER_BANK);
  EXPECT_EQ(info.banks(0).num_adapters(), 100u);
  EXPECT_EQ(info.banks(0).bottleneck(), 8u);  // d/16
  EXPECT_EQ(info.banks(0).fingerprint().size(), 64u);
  EXPECT_EQ(info.banks(1).kind(), v1::PROTOTYPE);
}

TEST(ServerStartTest, UnbindableAddressIsUnavailable) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("unbindable"));
  options.address = "256.1.1.1:1";
  auto server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(server.status().message().find("address"), absl::string_view::npos);
}

}  // namespace
}  // namespace maskserve
