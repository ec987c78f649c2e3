// File: server/maskserve_service.h
//
// The gRPC implementation of maskserve.v1.Maskserve. It stays thin: each RPC
// validates its request, hands it to core/storage code and converts the
// resulting absl::Status once with ToGrpcStatus(). RPCs whose capability has
// not landed yet answer UNIMPLEMENTED (the generated base class's default).
//
// Thread safety: all RPC methods may be called concurrently.
#ifndef MASKSERVE_SERVER_MASKSERVE_SERVICE_H_
#define MASKSERVE_SERVER_MASKSERVE_SERVICE_H_

#include <memory>

#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {

class MaskserveService final : public v1::Maskserve::Service {
 public:
  MaskserveService() = default;

  // Publishes what GetModelInfo answers once the backbone is loaded; until
  // then GetModelInfo is UNAVAILABLE.
  void SetModelInfo(v1::ModelInfo info);

  // v1::Maskserve::Service interface
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

 private:
  // Read with std::atomic_load, written once with std::atomic_store.
  std::shared_ptr<const v1::ModelInfo> model_info_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_MASKSERVE_SERVICE_H_
