#include "server/maskserve_service.h"

#include <utility>

namespace maskserve {

void MaskserveService::SetModelInfo(v1::ModelInfo info) {
  std::atomic_store(&model_info_,
                    std::shared_ptr<const v1::ModelInfo>(
                        std::make_shared<v1::ModelInfo>(std::move(info))));
}

grpc::Status MaskserveService::GetModelInfo(grpc::ServerContext* context,
                                            const v1::GetModelInfoRequest* request,
                                            v1::ModelInfo* response) {
  std::shared_ptr<const v1::ModelInfo> info = std::atomic_load(&model_info_);
  if (info == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the backbone is still loading");
  }
  *response = *info;
  return grpc::Status::OK;
}

}  // namespace maskserve
