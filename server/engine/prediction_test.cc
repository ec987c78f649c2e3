// Unit tests of ScoreLogits: softmax, argmax, top-k order and ties.
#include "server/engine/prediction.h"

#include <cmath>

#include <gtest/gtest.h>

namespace maskserve {
namespace {

TEST(ScoreLogitsTest, SoftmaxArgmaxAndTopK) {
  const Prediction p = ScoreLogits({1.0f, 3.0f, 2.0f}, {"a", "b", "c"}, 2, false);
  ASSERT_EQ(p.probabilities.size(), 3u);
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(p.probabilities[0], std::exp(1.0) / z, 1e-6);
  EXPECT_NEAR(p.probabilities[1], std::exp(3.0) / z, 1e-6);
  EXPECT_EQ(p.label, "b");
  EXPECT_EQ(p.label_index, 1u);
  ASSERT_EQ(p.top.size(), 2u);
  EXPECT_EQ(p.top[0].label, "b");
  EXPECT_EQ(p.top[1].label, "c");
  EXPECT_EQ(p.top[1].index, 2u);
  EXPECT_FLOAT_EQ(p.top[1].probability, p.probabilities[2]);
  EXPECT_TRUE(p.logits.empty());
}

TEST(ScoreLogitsTest, TopKDefaultsToOneAndIsCappedAtTheLabels) {
  EXPECT_EQ(ScoreLogits({0.0f, 1.0f}, {"a", "b"}, 0, false).top.size(), 1u);
  EXPECT_EQ(ScoreLogits({0.0f, 1.0f}, {"a", "b"}, 9, false).top.size(), 2u);
}

TEST(ScoreLogitsTest, TiesKeepLabelOrderAndLargeLogitsStayFinite) {
  const Prediction p = ScoreLogits({1000.0f, 1000.0f}, {"x", "y"}, 2, true);
  EXPECT_EQ(p.label, "x");
  EXPECT_FLOAT_EQ(p.probabilities[0], 0.5f);
  EXPECT_EQ(p.top[1].label, "y");
  EXPECT_EQ(p.logits, (std::vector<float>{1000.0f, 1000.0f}));
}

}  // namespace
}  // namespace maskserve
