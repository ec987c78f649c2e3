// File: server/engine/engine_errors.h
//
// Where core/'s exceptions become absl::Status: the engine runs every call
// into core/ and LibTorch through CatchEngineErrors(), so no exception
// crosses the engine's interface. (absl::Status becomes grpc::Status once,
// in server/status_util.h.)
//
//   absl::Status s = CatchEngineErrors([&] { profile = Compose(...); return absl::OkStatus(); });
//
// Thread safety: pure functions.
#ifndef MASKSERVE_SERVER_ENGINE_ENGINE_ERRORS_H_
#define MASKSERVE_SERVER_ENGINE_ENGINE_ERRORS_H_

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "core/base/error.h"

namespace maskserve {

// Maps an engine exception onto the absl::Status with the same code.
absl::Status FromEngineError(const EngineError& error);

// Any other exception (LibTorch's c10::Error, std::bad_alloc, ...): INTERNAL,
// or RESOURCE_EXHAUSTED when memory ran out. The message is one line, the
// reason ("engine: out of memory: ... tried to allocate 859 MB"); the whole
// what() with LibTorch's backtrace is the status's detail
// (storage/status_detail.h), for the log.
absl::Status FromStdException(const std::exception& error);

// Runs `fn` (returning absl::Status) and converts any exception the engine
// or LibTorch throws into a Status instead of letting it escape.
template <typename Fn>
absl::Status CatchEngineErrors(Fn&& fn) {
  try {
    return fn();
  } catch (const EngineError& error) {
    return FromEngineError(error);
  } catch (const std::exception& error) {
    return FromStdException(error);
  }
}

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_ENGINE_ERRORS_H_
