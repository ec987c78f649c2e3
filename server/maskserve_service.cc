#include "server/maskserve_service.h"

#include <utility>

namespace maskserve {

MaskserveService::MaskserveService(v1::ModelInfo model_info)
    : model_info_(std::move(model_info)) {}

grpc::Status MaskserveService::GetModelInfo(grpc::ServerContext* context,
                                            const v1::GetModelInfoRequest* request,
                                            v1::ModelInfo* response) {
  *response = model_info_;
  return grpc::Status::OK;
}

}  // namespace maskserve
