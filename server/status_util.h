// File: server/status_util.h
//
// The one place where errors change representation: engine exceptions become
// absl::Status, and absl::Status becomes grpc::Status at the RPC edge.
#ifndef MASKSERVE_SERVER_STATUS_UTIL_H_
#define MASKSERVE_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace maskserve {

class EngineError;

// Maps an absl::Status onto the gRPC status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Maps an engine exception onto its absl::Status.
absl::Status FromEngineError(const EngineError& error);

// Runs `fn` (returning absl::Status) and converts any exception the engine
// or LibTorch throws into a Status instead of letting it escape.
template <typename Fn>
absl::Status CatchEngineErrors(Fn&& fn);

}  // namespace maskserve

// Returns early from the enclosing function when `expr` is not OK.
#define MASKSERVE_RETURN_IF_ERROR(expr)            \
  do {                                             \
    ::absl::Status _maskserve_status = (expr);     \
    if (!_maskserve_status.ok()) return _maskserve_status; \
  } while (0)

#include "server/status_util_inl.h"

#endif  // MASKSERVE_SERVER_STATUS_UTIL_H_
