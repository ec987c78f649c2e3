// File: storage/job_id.h
//
// Training-job ids: 26 characters of Crockford base32 (ULID layout), the
// first 10 encoding the creation time in milliseconds since the Unix epoch
// and the last 16 an 80-bit random number. Ids therefore sort by creation
// time as plain strings (the store lists jobs newest first by walking keys
// backwards), are unique across processes and replicas without
// coordination, and are valid profile-id-style routing keys.
//
// Within one generator ids are strictly increasing even when the clock
// stands still or steps back: the random part of the previous id is
// incremented instead of drawing a new one.
//
//   JobIdGenerator ids;
//   std::string id = ids.Next();          // e.g. "01J9Z3K8Q2M6W0X4T7R5N1B3C8"
//   absl::Status ok = ValidateJobId(id);
//
// Thread safety: Next() may be called concurrently.
#ifndef MASKSERVE_STORAGE_JOB_ID_H_
#define MASKSERVE_STORAGE_JOB_ID_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace maskserve {

inline constexpr size_t kJobIdLength = 26;

class JobIdGenerator {
 public:
  using Clock = std::function<absl::Time()>;

  // `seed` 0 draws one from std::random_device; `clock` defaults to absl::Now.
  explicit JobIdGenerator(uint64_t seed = 0, Clock clock = nullptr);

  JobIdGenerator(const JobIdGenerator&) = delete;
  JobIdGenerator& operator=(const JobIdGenerator&) = delete;

  std::string Next();

 private:
  Clock clock_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  uint64_t last_ms_ ABSL_GUARDED_BY(mu_) = 0;
  // The 80-bit random part of the last id: high 16 bits and low 64 bits.
  uint16_t last_hi_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_lo_ ABSL_GUARDED_BY(mu_) = 0;
};

// INVALID_ARGUMENT ("job_id: ...") unless `job_id` has the layout above.
absl::Status ValidateJobId(std::string_view job_id);

// The creation time encoded in a valid job id (millisecond precision).
absl::StatusOr<absl::Time> JobIdTime(std::string_view job_id);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_JOB_ID_H_
