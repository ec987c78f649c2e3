#include "server/engine/engine_errors.h"

namespace maskserve {

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
