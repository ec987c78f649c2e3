#include "storage/rocksdb_status.h"
#include "storage/absl_compat.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "rocksdb/status.h"

namespace maskserve {

absl::Status FromRocksDbStatus(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(Sv(context), ": ", status.ToString());
  using Code = rocksdb::Status::Code;
  switch (status.code()) {
    case Code::kNotFound:
      return absl::NotFoundError(message);
    case Code::kCorruption:
      return absl::DataLossError(message);
    case Code::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case Code::kNotSupported:
      return absl::UnimplementedError(message);
    case Code::kIOError:
      if (status.IsNoSpace()) return absl::ResourceExhaustedError(message);
      return absl::UnavailableError(message);
    case Code::kBusy:
    case Code::kTryAgain:
    case Code::kAborted:
    case Code::kMergeInProgress:
      return absl::AbortedError(message);
    case Code::kTimedOut:
      return absl::DeadlineExceededError(message);
    case Code::kShutdownInProgress:
    case Code::kIncomplete:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace maskserve
