// File: server/maskserve_service.h
//
// The gRPC implementation of maskserve.v1.Maskserve. It stays thin: each RPC
// authenticates the caller's tenant, validates the request (INVALID_ARGUMENT
// naming the field), hands it to the batcher, the trainer, the store or the
// resident table, and converts the absl::Status once with ToGrpcStatus().
// Every call is counted and timed in ServerMetrics. Until Ready() is called
// (backbone, banks and store loaded) every RPC is UNAVAILABLE.
//
// Thread safety: all RPC methods may be called concurrently.
#ifndef MASKSERVE_SERVER_MASKSERVE_SERVICE_H_
#define MASKSERVE_SERVER_MASKSERVE_SERVICE_H_

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "core/model/backbone.h"
#include "core/peft/composed_profile.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "server/server_metrics.h"
#include "server/server_options.h"

namespace maskserve {

class Authenticator;
class PredictBatcher;
class ProfileStore;
class ProfileTable;
class TrainingManager;

// What the service calls; owned by MaskserveServer.
struct ServiceDependencies {
  Backbone backbone;
  LimitsOptions limits;
  v1::ModelInfo model_info;
  Authenticator* auth = nullptr;
  ProfileStore* store = nullptr;
  ProfileTable* profiles = nullptr;
  PredictBatcher* batcher = nullptr;
  TrainingManager* trainer = nullptr;
  ServerMetrics* metrics = nullptr;
  ServingBanks banks;
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
  // Authenticates, runs `body(deps, tenant)` and records the call's metrics.
  template <typename Body>
  grpc::Status Serve(Rpc rpc, grpc::ServerContext* context, Body&& body);

  absl::Status DoPredict(const ServiceDependencies& deps, const std::string& tenant,
                         grpc::ServerContext* context, const v1::PredictRequest& request,
                         v1::PredictResponse* response);

  // Read with std::atomic_load, written once with std::atomic_store.
  std::shared_ptr<const ServiceDependencies> deps_;
  std::atomic<bool> draining_{false};
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_MASKSERVE_SERVICE_H_
