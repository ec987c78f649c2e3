// File: storage/status_detail.h
//
// Error detail for operators, kept off the wire. A Status that clients may
// see carries a short reason in its message; the detail (RocksDB's message
// with file paths, LibTorch's backtrace) rides along as a payload, and the
// RPC edge (server/status_util.h) logs it and drops it.
//
//   return WithDetail(absl::UnavailableError("publish profile: I/O error"), raw.ToString());
//   if (std::optional<std::string> d = DetailOf(status)) log << *d;
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_STATUS_DETAIL_H_
#define MASKSERVE_STORAGE_STATUS_DETAIL_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace maskserve {

inline constexpr char kStatusDetailUrl[] = "maskserve.dev/detail";

// `status` with `detail` attached (no-op for OK).
inline absl::Status WithDetail(absl::Status status, const std::string& detail) {
  if (!status.ok()) status.SetPayload(kStatusDetailUrl, absl::Cord(detail));
  return status;
}

// The detail attached by WithDetail(), if any.
inline std::optional<std::string> DetailOf(const absl::Status& status) {
  auto detail = status.GetPayload(kStatusDetailUrl);  // absl::optional<absl::Cord>
  if (!detail.has_value()) return std::nullopt;
  return std::string(*detail);
}

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_STATUS_DETAIL_H_
