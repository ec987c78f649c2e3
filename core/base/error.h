// File: core/base/error.h
//
// The single error type thrown by maskserve's ML engine (`core/`).
//
// `core/` depends on LibTorch and the standard library only, so it cannot use
// absl::Status. Engine functions report failure by throwing `EngineError`,
// which carries a code that maps 1:1 onto absl/gRPC status codes. The server
// converts it exactly once at its edge (see server/engine/engine_errors.h). LibTorch's
// own `c10::Error` is caught inside core and rethrown as kInternal.
//
// Thread safety: EngineError is an immutable value type.
#ifndef MASKSERVE_CORE_BASE_ERROR_H_
#define MASKSERVE_CORE_BASE_ERROR_H_

#include <stdexcept>
#include <string>

namespace maskserve {

// Mirrors the subset of absl::StatusCode the engine produces.
enum class ErrorCode {
  kInvalidArgument,     // the caller's input is wrong (names the field)
  kNotFound,            // a file, tensor or key is missing
  kFailedPrecondition,  // valid input, wrong state (e.g. fingerprint mismatch)
  kDataLoss,            // corrupted or truncated bytes
  kCancelled,           // work was cancelled by request
  kInternal,            // a bug or an unexpected library failure
};

class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Convenience factories, e.g. `throw InvalidArgument("text: empty")`.
inline EngineError InvalidArgument(const std::string& m) {
  return EngineError(ErrorCode::kInvalidArgument, m);
}
inline EngineError NotFound(const std::string& m) { return EngineError(ErrorCode::kNotFound, m); }
inline EngineError FailedPrecondition(const std::string& m) {
  return EngineError(ErrorCode::kFailedPrecondition, m);
}
inline EngineError DataLoss(const std::string& m) { return EngineError(ErrorCode::kDataLoss, m); }
inline EngineError Cancelled(const std::string& m) { return EngineError(ErrorCode::kCancelled, m); }
inline EngineError Internal(const std::string& m) { return EngineError(ErrorCode::kInternal, m); }

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BASE_ERROR_H_
