#include "storage/rocksdb_status.h"
#include "storage/absl_compat.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/status.h"
#include "storage/status_detail.h"

namespace maskserve {

absl::Status FromRocksDbStatus(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  // Clients get the kind of failure; RocksDB's own message (file paths, OS
  // errors) is the operator's, in the detail.
  auto fail = [&](absl::StatusCode code, std::string_view what) {
    return WithDetail(absl::Status(code, absl::StrCat(Sv(context), ": ", Sv(what))),
                      status.ToString());
  };
  using Code = rocksdb::Status::Code;
  switch (status.code()) {
    case Code::kNotFound:
      return fail(absl::StatusCode::kNotFound, "not found");
    case Code::kCorruption:
      return fail(absl::StatusCode::kDataLoss, "the store's files are corrupt");
    case Code::kInvalidArgument:
      return fail(absl::StatusCode::kInvalidArgument, "invalid argument");
    case Code::kNotSupported:
      return fail(absl::StatusCode::kUnimplemented, "not supported");
    case Code::kIOError:
      if (status.IsNoSpace()) {
        return fail(absl::StatusCode::kResourceExhausted, "I/O error: no space left on device");
      }
      if (absl::StrContains(status.ToString(), "LOCK")) {
        return fail(absl::StatusCode::kUnavailable,
                    "I/O error: the store is locked (is another server using it?)");
      }
      return fail(absl::StatusCode::kUnavailable, "I/O error");
    case Code::kBusy:
    case Code::kTryAgain:
    case Code::kAborted:
    case Code::kMergeInProgress:
      return fail(absl::StatusCode::kAborted, "busy; retry");
    case Code::kTimedOut:
      return fail(absl::StatusCode::kDeadlineExceeded, "timed out");
    case Code::kShutdownInProgress:
      return fail(absl::StatusCode::kUnavailable, "shutting down");
    case Code::kIncomplete:
      return fail(absl::StatusCode::kUnavailable, "incomplete");
    default:
      return fail(absl::StatusCode::kInternal, "internal error");
  }
}

}  // namespace maskserve
