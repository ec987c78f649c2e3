#include "clients/loadgen/popularity.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace maskserve {
namespace loadgen {

absl::StatusOr<Popularity> ParsePopularity(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "uniform") return Popularity::kUniform;
  if (lower == "zipf") return Popularity::kZipf;
  return absl::InvalidArgumentError(
      absl::StrCat("popularity: expected uniform or zipf, got '", name, "'"));
}

absl::StatusOr<ProfileSampler> ProfileSampler::Create(Popularity popularity, int n, double zipf_s) {
  if (n < 1 || n > 10000000) {
    return absl::InvalidArgumentError(absl::StrCat("profiles: must be in [1, 10000000], got ", n));
  }
  if (popularity == Popularity::kUniform) return ProfileSampler(popularity, n, {});
  if (!(zipf_s > 0) || !std::isfinite(zipf_s)) {
    return absl::InvalidArgumentError(absl::StrCat("zipf_s: must be positive, got ", zipf_s));
  }
  std::vector<double> cdf(static_cast<size_t>(n));
  double total = 0;
  for (int i = 0; i < n; ++i) {
    total += 1.0 / std::pow(double(i + 1), zipf_s);
    cdf[size_t(i)] = total;
  }
  for (double& c : cdf) c /= total;
  cdf.back() = 1.0;
  return ProfileSampler(popularity, n, std::move(cdf));
}

int ProfileSampler::Sample(std::mt19937_64& rng) const {
  if (popularity_ == Popularity::kUniform) {
    return static_cast<int>(std::uniform_int_distribution<int>(0, n_ - 1)(rng));
  }
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return std::min(n_ - 1, static_cast<int>(it - cdf_.begin()));
}

double ProfileSampler::Probability(int i) const {
  if (i < 0 || i >= n_) return 0;
  if (popularity_ == Popularity::kUniform) return 1.0 / n_;
  return i == 0 ? cdf_[0] : cdf_[size_t(i)] - cdf_[size_t(i) - 1];
}

}  // namespace loadgen
}  // namespace maskserve
