#include "server/status_util.h"

#include "core/base/error.h"

namespace maskserve {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode is kept in sync with google.rpc.Code, as is gRPC's.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromEngineError(const EngineError& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      return absl::InvalidArgumentError(error.what());
    case ErrorCode::kNotFound:
      return absl::NotFoundError(error.what());
    case ErrorCode::kFailedPrecondition:
      return absl::FailedPreconditionError(error.what());
    case ErrorCode::kDataLoss:
      return absl::DataLossError(error.what());
    case ErrorCode::kCancelled:
      return absl::CancelledError(error.what());
    case ErrorCode::kInternal:
      break;
  }
  return absl::InternalError(error.what());
}

}  // namespace maskserve
