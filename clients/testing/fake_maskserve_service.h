// File: clients/testing/fake_maskserve_service.h
//
// An in-memory maskserve.v1.Maskserve for testing the clients (maskctl, the
// Python client, the load generator) without LibTorch or RocksDB, and before
// or beside the real server. It follows the API contract of
// proto/maskserve/v1/maskserve.proto closely enough for client tests:
// tenants by API key, INVALID_ARGUMENT naming the field, NOT_FOUND,
// ALREADY_EXISTS, FAILED_PRECONDITION on version mismatches, paging,
// training jobs that run in the background (QUEUED -> RUNNING with epochs
// and steps -> SUCCEEDED) with Watch streams and cancellation, and shared
// heads (listed by GetModelInfo; a profile trained with one takes its labels
// and stores no head bytes).
//
// What it does not do: any machine learning. A "trained" profile remembers
// its training examples; Predict returns the remembered label of a known text
// (probability 0.9) and a hash-chosen label otherwise. A training example
// whose text is "FAIL" makes the job fail (to test failure paths).
//
// With Options::require_routing_header it also checks the
// `x-maskserve-profile` routing header that clients send for a proxy to
// route on (clients/common/channel.h): exactly where the clients must send
// it, and nowhere else (see the option).
//
// Example:
//   FakeMaskserveService::Options options;
//   std::unique_ptr<FakeServer> server = FakeServer::Start(options);
//   auto channel = grpc::CreateChannel(server->address(), ...);
//
// Thread safety: all RPC methods may be called concurrently.
#ifndef MASKSERVE_CLIENTS_TESTING_FAKE_MASKSERVE_SERVICE_H_
#define MASKSERVE_CLIENTS_TESTING_FAKE_MASKSERVE_SERVICE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace testing {

// The fake's default shared heads: "sentiment" over {"neg", "pos"}.
std::vector<v1::SharedHeadInfo> DefaultFakeSharedHeads();

class FakeMaskserveService final : public v1::Maskserve::Service {
 public:
  struct Options {
    // Accepted API keys; each key is its own tenant. Empty: development mode,
    // every caller is tenant "default" and no key is needed.
    std::vector<std::string> api_keys;
    // Time per fake optimiser step.
    absl::Duration step_delay = absl::Milliseconds(2);
    // Epochs when the request leaves them unset.
    uint32_t default_epochs = 3;
    // Server-side delay of every Predict (to make latencies measurable).
    absl::Duration predict_delay = absl::ZeroDuration();
    // Shared heads that TrainProfileRequest.shared_head may name.
    std::vector<v1::SharedHeadInfo> shared_heads = DefaultFakeSharedHeads();
    // Check the `x-maskserve-profile` routing header, failing with
    // FAILED_PRECONDITION and a message naming it: a profile-scoped call
    // (Predict, TrainProfile, GetProfile, DeleteProfile, ExportProfile,
    // ImportProfile, ListTrainingJobs with a profile_id filter) must carry
    // it once, equal to the request's profile_id; every other call
    // (GetModelInfo, ListProfiles, ListTrainingJobs without a filter, the
    // job-id calls, health Check) must carry none. A request whose
    // profile_id is not a valid id needs no header (clients cannot send
    // one) and fails its own validation instead. FakeServer then serves its
    // own health service (Check only; Watch is UNIMPLEMENTED) in place of
    // gRPC's default one, so that health calls are checked too.
    bool require_routing_header = false;
  };

  explicit FakeMaskserveService(Options options);
  // Stops the trainer thread (running jobs are left as they are).
  ~FakeMaskserveService() override;

  FakeMaskserveService(const FakeMaskserveService&) = delete;
  FakeMaskserveService& operator=(const FakeMaskserveService&) = delete;

  // Ends Watch streams and stops the trainer; call before server shutdown.
  void Stop();

  // v1::Maskserve::Service interface
  grpc::Status Predict(grpc::ServerContext* context, const v1::PredictRequest* request,
                       v1::PredictResponse* response) override;
  grpc::Status TrainProfile(grpc::ServerContext* context, const v1::TrainProfileRequest* request,
                            v1::TrainProfileResponse* response) override;
  grpc::Status GetTrainingJob(grpc::ServerContext* context,
                              const v1::GetTrainingJobRequest* request,
                              v1::TrainingJob* response) override;
  grpc::Status WatchTrainingJob(grpc::ServerContext* context,
                                const v1::WatchTrainingJobRequest* request,
                                grpc::ServerWriter<v1::TrainingJob>* writer) override;
  grpc::Status CancelTrainingJob(grpc::ServerContext* context,
                                 const v1::CancelTrainingJobRequest* request,
                                 v1::TrainingJob* response) override;
  grpc::Status ListTrainingJobs(grpc::ServerContext* context,
                                const v1::ListTrainingJobsRequest* request,
                                v1::ListTrainingJobsResponse* response) override;
  grpc::Status GetProfile(grpc::ServerContext* context, const v1::GetProfileRequest* request,
                          v1::Profile* response) override;
  grpc::Status ListProfiles(grpc::ServerContext* context, const v1::ListProfilesRequest* request,
                            v1::ListProfilesResponse* response) override;
  grpc::Status DeleteProfile(grpc::ServerContext* context, const v1::DeleteProfileRequest* request,
                             v1::DeleteProfileResponse* response) override;
  grpc::Status ExportProfile(grpc::ServerContext* context, const v1::ExportProfileRequest* request,
                             v1::ExportProfileResponse* response) override;
  grpc::Status ImportProfile(grpc::ServerContext* context, const v1::ImportProfileRequest* request,
                             v1::Profile* response) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

 private:
  // A stored profile: its public metadata and the remembered examples.
  struct StoredProfile {
    v1::Profile profile;
    std::map<std::string, std::string> label_by_text;
  };
  struct Job {
    v1::TrainingJob job;
    std::string tenant;
    v1::TrainProfileRequest request;
    uint64_t sequence = 0;  // creation order, for newest-first listing
    bool cancel_requested = false;
  };
  struct Tenant {
    std::map<std::string, StoredProfile> profiles;
  };

  absl::StatusOr<std::string> Authenticate(const grpc::ServerContext& context) const;
  // Options::require_routing_header: OK when `context` carries the routing
  // header as call `rpc` should; `profile_id` is null for a call that is
  // not profile-scoped.
  grpc::Status CheckRoutingHeader(const grpc::ServerContext& context, const char* rpc,
                                  const std::string* profile_id) const;
  void TrainerLoop();
  // Runs one job to a final state.
  void RunJob(const std::string& job_id);
  // Bumps the change counter and wakes Watch streams.
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Job> jobs_ ABSL_GUARDED_BY(mu_);  // by job id
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_job_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread trainer_;
};

// A FakeMaskserveService on a loopback port, with gRPC's default health
// service (SERVING).
class FakeServer {
 public:
  // Starts on `address` ("127.0.0.1:0" picks a free port).
  static absl::StatusOr<std::unique_ptr<FakeServer>> Start(
      FakeMaskserveService::Options options, const std::string& address = "127.0.0.1:0");
  ~FakeServer();

  int port() const { return port_; }
  // "127.0.0.1:<port>".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  FakeMaskserveService* service() { return service_.get(); }
  // Blocks until Shutdown() is called from another thread.
  void Wait() { server_->Wait(); }
  void Shutdown();

 private:
  FakeServer() = default;
  std::unique_ptr<FakeMaskserveService> service_;
  // The health service checking the routing header (require_routing_header).
  std::unique_ptr<grpc::Service> health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace testing
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_TESTING_FAKE_MASKSERVE_SERVICE_H_
