#include "server/engine/engine_errors.h"

#include <new>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/status_detail.h"

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

absl::Status FromStdException(const std::exception& error) {
  const absl::string_view what = error.what();
  // LibTorch puts the reason on the first line and its backtrace after it;
  // enforce failures start with "[enforce fail at file.cpp:75] . ".
  absl::string_view reason = what.substr(0, what.find('\n'));
  if (absl::StartsWith(reason, "[enforce fail at ")) {
    const size_t end = reason.find("] ");
    if (end != absl::string_view::npos) reason.remove_prefix(end + 2);
    if (absl::StartsWith(reason, ". ")) reason.remove_prefix(2);
  }
  if (dynamic_cast<const std::bad_alloc*>(&error) != nullptr) {
    return WithDetail(absl::ResourceExhaustedError("engine: out of memory"), std::string(what));
  }
  if (absl::StrContains(reason, "can't allocate memory") ||
      absl::StrContains(reason, "out of memory")) {
    return WithDetail(absl::ResourceExhaustedError(absl::StrCat("engine: out of memory: ", reason)),
                      std::string(what));
  }
  return WithDetail(absl::InternalError(absl::StrCat("engine: ", reason)), std::string(what));
}

}  // namespace maskserve
