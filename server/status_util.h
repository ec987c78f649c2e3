// File: server/status_util.h
//
// The RPC edge: absl::Status becomes grpc::Status here and nowhere else.
// (Engine exceptions become absl::Status in server/engine/engine_errors.h.)
//
// Thread safety: pure functions.
#ifndef MASKSERVE_SERVER_STATUS_UTIL_H_
#define MASKSERVE_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace maskserve {

// Maps an absl::Status onto the gRPC status with the same code and message;
// a detail attached with WithDetail() (storage/status_detail.h) is logged
// and not sent.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_STATUS_UTIL_H_
