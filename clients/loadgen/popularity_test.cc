#include "clients/loadgen/popularity.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace maskserve {
namespace loadgen {
namespace {

TEST(PopularityTest, ParsesNames) {
  EXPECT_EQ(*ParsePopularity("Zipf"), Popularity::kZipf);
  EXPECT_EQ(*ParsePopularity("uniform"), Popularity::kUniform);
  EXPECT_FALSE(ParsePopularity("pareto").ok());
}

TEST(PopularityTest, RejectsBadParameters) {
  EXPECT_FALSE(ProfileSampler::Create(Popularity::kUniform, 0, 1.1).ok());
  EXPECT_FALSE(ProfileSampler::Create(Popularity::kZipf, 10, 0).ok());
  EXPECT_FALSE(ProfileSampler::Create(Popularity::kZipf, 10, NAN).ok());
}

TEST(PopularityTest, ZipfProbabilitiesFollowThePowerLaw) {
  auto sampler = ProfileSampler::Create(Popularity::kZipf, 1000, 1.1);
  ASSERT_TRUE(sampler.ok());
  double total = 0;
  for (int i = 0; i < 1000; ++i) total += sampler->Probability(i);
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_NEAR(sampler->Probability(0) / sampler->Probability(9), std::pow(10.0, 1.1), 1e-6);
}

TEST(PopularityTest, SamplesMatchTheDistribution) {
  for (Popularity popularity : {Popularity::kUniform, Popularity::kZipf}) {
    auto sampler = ProfileSampler::Create(popularity, 20, 1.1);
    ASSERT_TRUE(sampler.ok());
    std::mt19937_64 rng(42);
    std::vector<int> counts(20, 0);
    constexpr int kDraws = 200000;
    for (int i = 0; i < kDraws; ++i) {
      const int s = sampler->Sample(rng);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, 20);
      ++counts[size_t(s)];
    }
    for (int i = 0; i < 20; ++i) {
      const double expected = sampler->Probability(i) * kDraws;
      EXPECT_NEAR(counts[size_t(i)], expected, 5 * std::sqrt(expected) + 1) << i;
    }
  }
}

}  // namespace
}  // namespace loadgen
}  // namespace maskserve
