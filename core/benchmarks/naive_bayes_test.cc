#include "core/benchmarks/naive_bayes.h"

#include <cmath>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

// Class 0: "good fun", "Good"; class 1: "bad". Vocabulary {good, fun, bad}.
// Priors 2/3, 1/3. Class 0 has 3 words: P(good)=3/6, P(fun)=2/6, P(bad)=1/6.
// Class 1 has 1 word: P(good)=1/4, P(fun)=1/4, P(bad)=2/4.
NaiveBayesClassifier TinyModel() {
  NaiveBayesClassifier nb;
  nb.Fit({"good fun", "Good", "bad"}, {0, 0, 1}, 2);
  return nb;
}

TEST(NaiveBayesTest, WordsAreLowercasedAndSplitAtNonAlphanumericAscii) {
  EXPECT_EQ(NaiveBayesClassifier::Words("It's  GREAT,fun-2x! caf\xc3\xa9"),
            (std::vector<std::string>{"it", "s", "great", "fun", "2x", "caf\xc3\xa9"}));
  EXPECT_TRUE(NaiveBayesClassifier::Words(" ,.; ").empty());
}

TEST(NaiveBayesTest, LogScoresMatchTheHandComputedPosterior) {
  const NaiveBayesClassifier nb = TinyModel();
  EXPECT_EQ(nb.vocabulary_size(), 3);
  // "Bad, BAD fun!" = bad, bad, fun; "zebra" is outside the vocabulary.
  const std::vector<double> s = nb.LogScores("Bad, BAD fun! zebra");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], std::log(2.0 / 3) + 2 * std::log(1.0 / 6) + std::log(2.0 / 6), 1e-12);
  EXPECT_NEAR(s[0], std::log(1.0 / 162), 1e-12);
  EXPECT_NEAR(s[1], std::log(1.0 / 48), 1e-12);  // 1/3 * 1/2 * 1/2 * 1/4
}

TEST(NaiveBayesTest, PredictsTheArgMax) {
  const NaiveBayesClassifier nb = TinyModel();
  EXPECT_EQ(nb.Predict("Bad, BAD fun!"), 1);  // log(1/48) > log(1/162)
  EXPECT_EQ(nb.Predict("good"), 0);           // 1/3 * 1/2 > 1/3 * 1/4
  EXPECT_EQ(nb.Predict("fun"), 0);            // 2/3 * 1/3 > 1/3 * 1/4
  EXPECT_EQ(nb.Predict("bad"), 1);            // 1/3 * 1/2 > 2/3 * 1/6
  EXPECT_EQ(nb.Predict(""), 0);               // the prior alone
}

TEST(NaiveBayesTest, ClassesWithoutTextsAreNeverPredicted) {
  NaiveBayesClassifier nb;
  nb.Fit({"alpha", "beta"}, {0, 2}, 3);
  EXPECT_TRUE(std::isinf(nb.LogScores("gamma")[1]));
  EXPECT_EQ(nb.Predict("beta"), 2);
  EXPECT_NE(nb.Predict("gamma"), 1);
}

TEST(NaiveBayesTest, RejectsBadInput) {
  NaiveBayesClassifier nb;
  EXPECT_THROW(nb.Predict("x"), EngineError);  // not fitted
  EXPECT_THROW(nb.Fit({"a"}, {0, 1}, 2), EngineError);
  EXPECT_THROW(nb.Fit({}, {}, 2), EngineError);
  EXPECT_THROW(nb.Fit({"a"}, {2}, 2), EngineError);
  EXPECT_THROW(NaiveBayesClassifier(0.0), EngineError);
}

}  // namespace
}  // namespace maskserve
