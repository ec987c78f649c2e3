// File: tests/testing/test_server.h
//
// Starts a real MaskserveServer on a free loopback port with its store in a
// fresh temporary directory, and makes stubs that talk to it over a real
// gRPC channel (optionally with an API key). Helpers train a profile and
// wait for its job, and write shared-heads files for the built-in backbone
// (set ServerOptions.banks.shared_heads_path to serve one).
#ifndef MASKSERVE_TESTS_TESTING_TEST_SERVER_H_
#define MASKSERVE_TESTS_TESTING_TEST_SERVER_H_

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "core/model/backbone.h"
#include "core/peft/shared_heads.h"
#include "core/testing/synthetic_task.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "server/maskserve_server.h"

namespace maskserve::testing {

inline std::string MakeTempDir(const std::string& prefix) {
  std::string pattern = ::testing::TempDir() + "/" + prefix + "XXXXXX";
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return dir ? std::string(dir) : std::string();
}

// Options for a test server: loopback, CPU, no metrics port unless asked.
inline ServerOptions TestServerOptions(const std::string& data_dir) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.device = "cpu";
  options.data_dir = data_dir;
  options.metrics_address = "";
  options.drain_timeout_seconds = 2;
  return options;
}

// The built-in backbone the test servers load (built once, on the CPU).
inline const BertModel& BuiltinTestBackbone() {
  static const Backbone* const backbone = new Backbone(BuiltinBackbone(DeviceSpec()));
  return *backbone->model;
}

// Writes `path`: a shared-heads file with one head `name` over `labels`
// (small random weights from `seed`) for the backbone with
// `backbone_fingerprint` (default: the built-in one).
inline void WriteSharedHeads(const std::string& path, const std::string& name,
                             const std::vector<std::string>& labels, uint64_t seed = 1,
                             const std::string& backbone_fingerprint = "") {
  const BertModel& backbone = BuiltinTestBackbone();
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t C = int64_t(labels.size()), d = backbone.config().hidden_size;
  SharedHeadSet heads(backbone_fingerprint.empty() ? backbone.fingerprint() : backbone_fingerprint);
  heads.Add(name, labels, at::normal(0.0, 0.02, {C, d}, gen), at::zeros({C}));
  heads.Save(path);
}

class TestClient {
 public:
  TestClient(std::shared_ptr<grpc::Channel> channel, std::string api_key)
      : stub_(v1::Maskserve::NewStub(channel)), api_key_(std::move(api_key)) {}

  // A context with the API key and a deadline.
  std::unique_ptr<grpc::ClientContext> Context(
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!api_key_.empty()) context->AddMetadata("authorization", "Bearer " + api_key_);
    context->set_deadline(std::chrono::system_clock::now() + timeout);
    return context;
  }
  v1::Maskserve::Stub& stub() { return *stub_; }

  // A request to train `profile_id` on the synthetic task.
  static v1::TrainProfileRequest SyntheticTrainRequest(const std::string& profile_id,
                                                       v1::Method method, int examples = 60,
                                                       unsigned seed = 1, int labels = 2) {
    v1::TrainProfileRequest request;
    request.set_profile_id(profile_id);
    request.set_method(method);
    const std::vector<std::string> names = {"positive", "negative", "music"};
    for (int i = 0; i < labels; ++i) request.add_label_names(names[size_t(i)]);
    for (const auto& e : SyntheticTask(examples, labels, seed)) {
      v1::TrainingExample* ex = request.add_examples();
      ex->set_text(e.text);
      ex->set_label(names[size_t(e.label)]);
    }
    request.set_seed(seed);
    return request;
  }

  // Trains `profile_id` on the synthetic task and waits for the job (via
  // WatchTrainingJob). Returns the final job.
  v1::TrainingJob Train(const std::string& profile_id, v1::Method method, int examples = 60,
                        unsigned seed = 1, int labels = 2) {
    return Train(SyntheticTrainRequest(profile_id, method, examples, seed, labels));
  }

  // Starts `request` and waits for its job.
  v1::TrainingJob Train(const v1::TrainProfileRequest& request) {
    v1::TrainProfileResponse response;
    grpc::Status status = stub_->TrainProfile(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return Wait(response.job_id());
  }

  v1::TrainingJob Wait(const std::string& job_id) {
    auto context = Context(std::chrono::seconds(120));
    v1::WatchTrainingJobRequest watch;
    watch.set_job_id(job_id);
    auto reader = stub_->WatchTrainingJob(context.get(), watch);
    v1::TrainingJob job;
    v1::TrainingJob last;
    while (reader->Read(&job)) last = job;
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return last;
  }

  grpc::Status Predict(const std::string& profile_id, const std::vector<std::string>& texts,
                       v1::PredictResponse* response) {
    v1::PredictRequest request;
    request.set_profile_id(profile_id);
    for (const std::string& t : texts) request.add_inputs()->set_text(t);
    return stub_->Predict(Context().get(), request, response);
  }

 private:
  std::unique_ptr<v1::Maskserve::Stub> stub_;
  std::string api_key_;
};

inline std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

}  // namespace maskserve::testing

#endif  // MASKSERVE_TESTS_TESTING_TEST_SERVER_H_
