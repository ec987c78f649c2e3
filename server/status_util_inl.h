// Template implementation for server/status_util.h; do not include directly.
#ifndef MASKSERVE_SERVER_STATUS_UTIL_INL_H_
#define MASKSERVE_SERVER_STATUS_UTIL_INL_H_

#include <exception>
#include <string>

#include "core/base/error.h"

namespace maskserve {

template <typename Fn>
absl::Status CatchEngineErrors(Fn&& fn) {
  try {
    return fn();
  } catch (const EngineError& error) {
    return FromEngineError(error);
  } catch (const std::exception& error) {
    return absl::InternalError(std::string("engine: ") + error.what());
  }
}

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_STATUS_UTIL_INL_H_
