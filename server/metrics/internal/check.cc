#include "server/metrics/internal/check.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace maskserve {
namespace metrics {
namespace internal {

void CheckOk(const absl::Status& status, absl::string_view what) {
  if (status.ok()) return;
  std::fprintf(stderr, "maskserve metrics: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  std::abort();
}

void Check(bool condition, absl::string_view message) {
  if (condition) return;
  std::fprintf(stderr, "maskserve metrics: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::abort();
}

}  // namespace internal
}  // namespace metrics
}  // namespace maskserve
