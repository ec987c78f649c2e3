#include "server/status_util.h"

#include <optional>
#include <string>

#include "server/log.h"
#include "storage/status_detail.h"

namespace maskserve {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // The detail (RocksDB's message, LibTorch's backtrace) is the operator's.
  if (std::optional<std::string> detail = DetailOf(status)) {
    MASKSERVE_LOG(WARNING) << absl::StatusCodeToString(status.code()) << ": " << status.message()
                           << "; detail: " << *detail;
  }
  // absl::StatusCode is kept in sync with google.rpc.Code, as is gRPC's.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace maskserve
