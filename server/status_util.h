// File: server/status_util.h
//
// The one place where errors change representation: engine exceptions become
// absl::Status, and absl::Status becomes grpc::Status at the RPC edge.
#ifndef MASKSERVE_SERVER_STATUS_UTIL_H_
#define MASKSERVE_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "storage/status_macros.h"  // MASKSERVE_RETURN_IF_ERROR

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

#include "server/status_util_inl.h"

#endif  // MASKSERVE_SERVER_STATUS_UTIL_H_
