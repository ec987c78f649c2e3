#include "core/training/lr_schedule.h"

#include <gtest/gtest.h>

namespace maskserve {
namespace {

TEST(LrScheduleTest, WarmsUpLinearlyThenDecaysToZero) {
  // 10 steps, 2 of warm-up: 0.5, 1.0, then 8/8 .. 1/8.
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(0, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(1, 2, 10), 1.0);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(2, 2, 10), 1.0);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(6, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(9, 2, 10), 0.125);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(10, 2, 10), 0.0);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(12, 2, 10), 0.0);  // never negative
}

TEST(LrScheduleTest, NoWarmupStartsAtTheFullRate) {
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(0, 0, 4), 1.0);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(3, 0, 4), 0.25);
  EXPECT_DOUBLE_EQ(WarmupDecayFactor(0, 0, 1), 1.0);  // a single step
}

}  // namespace
}  // namespace maskserve
