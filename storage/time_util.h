// File: storage/time_util.h
//
// absl::Time <-> google.protobuf.Timestamp for the records the store writes.
//
//   SetTimestamp(absl::Now(), profile.mutable_update_time());
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_TIME_UTIL_H_
#define MASKSERVE_STORAGE_TIME_UTIL_H_

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"

namespace maskserve {

inline void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1000000000;
  int64_t rem = nanos % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem));
}

inline absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline bool IsSet(const google::protobuf::Timestamp& ts) {
  return ts.seconds() != 0 || ts.nanos() != 0;
}

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TIME_UTIL_H_
