#include "storage/job_id.h"
#include "storage/absl_compat.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace maskserve {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int DigitValue(char c) {
  const char* p = std::find(kAlphabet, kAlphabet + 32, c);
  return p == kAlphabet + 32 ? -1 : static_cast<int>(p - kAlphabet);
}

// Writes the low 5*n bits of `v` as n digits, most significant first.
void Encode(uint64_t v, int n, char* out) {
  for (int i = n - 1; i >= 0; --i) {
    out[i] = kAlphabet[v & 31];
    v >>= 5;
  }
}

}  // namespace

JobIdGenerator::JobIdGenerator(uint64_t seed, Clock clock) : clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return absl::Now(); };
  if (seed == 0) {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  absl::MutexLock lock(&mu_);
  rng_.seed(seed);
}

std::string JobIdGenerator::Next() {
  int64_t now_ms = absl::ToUnixMillis(clock_());
  uint64_t ms = static_cast<uint64_t>(std::max<int64_t>(now_ms, 0)) & ((uint64_t{1} << 48) - 1);
  absl::MutexLock lock(&mu_);
  if (ms > last_ms_) {
    last_ms_ = ms;
    last_hi_ = static_cast<uint16_t>(rng_());
    last_lo_ = rng_();
  } else {
    // Same millisecond (or the clock stepped back): keep the time, count up.
    if (++last_lo_ == 0 && ++last_hi_ == 0) ++last_ms_;  // 2^80 overflow: borrow a ms
  }
  char out[kJobIdLength];
  Encode(last_ms_, 10, out);
  // The 80-bit number hi:lo takes 16 digits: 6 for its top 30 bits, 10 for
  // its low 50 bits.
  uint64_t high30 = (static_cast<uint64_t>(last_hi_) << 14) | (last_lo_ >> 50);
  uint64_t low50 = last_lo_ & ((uint64_t{1} << 50) - 1);
  Encode(high30, 6, out + 10);
  Encode(low50, 10, out + 16);
  return std::string(out, kJobIdLength);
}

absl::Status ValidateJobId(std::string_view job_id) {
  if (job_id.size() != kJobIdLength) {
    return absl::InvalidArgumentError(absl::StrCat("job_id: must be ", kJobIdLength,
                                                   " characters of Crockford base32; it has ",
                                                   job_id.size()));
  }
  for (size_t i = 0; i < job_id.size(); ++i) {
    if (DigitValue(job_id[i]) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "job_id: must be ", kJobIdLength, " characters of Crockford base32; '",
          absl::CHexEscape(Sv(job_id.substr(i, 1))), "' at offset ", i, " is not one"));
    }
  }
  if (DigitValue(job_id[0]) > 7) {  // 10 digits hold 50 bits; the time has 48
    return absl::InvalidArgumentError("job_id: time part out of range");
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> JobIdTime(std::string_view job_id) {
  absl::Status valid = ValidateJobId(job_id);
  if (!valid.ok()) return valid;
  uint64_t ms = 0;
  for (int i = 0; i < 10; ++i) ms = (ms << 5) | static_cast<uint64_t>(DigitValue(job_id[i]));
  return absl::FromUnixMillis(static_cast<int64_t>(ms));
}

}  // namespace maskserve
