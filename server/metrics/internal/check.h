// File: server/metrics/internal/check.h
//
// Not part of the public API. A CHECK for programming errors in metric
// declarations (names and buckets are compile-time constants, so an invalid
// one is a bug to fix, not an error to handle): prints the reason, aborts.
#ifndef MASKSERVE_SERVER_METRICS_INTERNAL_CHECK_H_
#define MASKSERVE_SERVER_METRICS_INTERNAL_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace maskserve {
namespace metrics {
namespace internal {

// Aborts with `what` and the status message unless `status` is OK.
void CheckOk(const absl::Status& status, absl::string_view what);

// Aborts with `message` unless `condition` holds.
void Check(bool condition, absl::string_view message);

}  // namespace internal
}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_INTERNAL_CHECK_H_
