// File: clients/loadgen/popularity.h
//
// Which profile each generated request goes to: uniform over `n` profiles,
// or Zipf with exponent s (profile i, 0-based, drawn with probability
// proportional to 1 / (i + 1)^s), the usual model of a few hot users and a
// long tail.
//
// Example:
//   absl::StatusOr<ProfileSampler> sampler =
//       ProfileSampler::Create(Popularity::kZipf, 1000, 1.1);
//   std::mt19937_64 rng(seed);
//   int profile = sampler->Sample(rng);  // in [0, 1000)
//
// Thread safety: Sample() is const and may be called concurrently, each
// thread with its own generator.
#ifndef MASKSERVE_CLIENTS_LOADGEN_POPULARITY_H_
#define MASKSERVE_CLIENTS_LOADGEN_POPULARITY_H_

#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace maskserve {
namespace loadgen {

enum class Popularity { kUniform, kZipf };

// "uniform" or "zipf".
absl::StatusOr<Popularity> ParsePopularity(absl::string_view name);

class ProfileSampler {
 public:
  // `n` in [1, 10,000,000]; `zipf_s` > 0 (used for kZipf only).
  static absl::StatusOr<ProfileSampler> Create(Popularity popularity, int n, double zipf_s);

  // A profile index in [0, n).
  int Sample(std::mt19937_64& rng) const;

  // The probability of profile `i` (for tests and reports).
  double Probability(int i) const;

  int size() const { return n_; }

 private:
  ProfileSampler(Popularity popularity, int n, std::vector<double> cdf)
      : popularity_(popularity), n_(n), cdf_(std::move(cdf)) {}

  Popularity popularity_;
  int n_;
  // Zipf only: cumulative probabilities, cdf_.back() == 1.
  std::vector<double> cdf_;
};

}  // namespace loadgen
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_LOADGEN_POPULARITY_H_
