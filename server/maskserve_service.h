// File: server/maskserve_service.h
//
// The gRPC implementation of maskserve.v1.Maskserve, a thin adapter over
// the Engine (server/engine/engine.h): each RPC authenticates the caller's
// tenant, converts the request proto into the engine's call, makes it, and
// converts the result into the response and the absl::Status once with
// ToGrpcStatus(). Validation and every other rule live in the engine.
// Every call is counted and timed in ServerMetrics. Until Ready() is called
// (backbone, banks and store loaded) every RPC is UNAVAILABLE.
//
// Thread safety: all RPC methods may be called concurrently.
#ifndef MASKSERVE_SERVER_MASKSERVE_SERVICE_H_
#define MASKSERVE_SERVER_MASKSERVE_SERVICE_H_

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "server/server_metrics.h"

namespace maskserve {

class Authenticator;
class Engine;

// What the service calls; owned by MaskserveServer.
struct ServiceDependencies {
  Authenticator* auth = nullptr;
  Engine* engine = nullptr;
  ServerMetrics* metrics = nullptr;
};

class MaskserveService final : public v1::Maskserve::Service {
 public:
  MaskserveService() = default;

  // Starts serving with `deps` (which must outlive the service).
  void Ready(std::shared_ptr<const ServiceDependencies> deps);
  // Makes new calls UNAVAILABLE and ends Watch streams (drain).
  void Drain() { draining_.store(true); }

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
  // Authenticates, runs `body(engine, tenant)` and records the call's metrics.
  template <typename Body>
  grpc::Status Serve(Rpc rpc, grpc::ServerContext* context, Body&& body);

  // Read with std::atomic_load, written once with std::atomic_store.
  std::shared_ptr<const ServiceDependencies> deps_;
  std::atomic<bool> draining_{false};
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_MASKSERVE_SERVICE_H_
