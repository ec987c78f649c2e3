// The defaults TrainingOptions::ResolveDefaults fills in, and Validate().
#include "core/training/training_options.h"

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

TrainingOptions Resolved(Method method, int64_t examples) {
  TrainingOptions o;
  o.method = method;
  o.ResolveDefaults(ServingBanks(), examples);
  o.Validate();
  return o;
}

TEST(TrainingOptionsTest, ValidationSplitOnlyWithEnoughExamples) {
  EXPECT_EQ(Resolved(Method::kXpeftHard, 24).validation_fraction, 0.0);
  EXPECT_EQ(Resolved(Method::kXpeftHard, TrainingOptions::kMinExamplesForValidation - 1)
                .validation_fraction,
            0.0);
  EXPECT_EQ(
      Resolved(Method::kXpeftHard, TrainingOptions::kMinExamplesForValidation).validation_fraction,
      0.2);
  TrainingOptions explicit_split;
  explicit_split.validation_fraction = 0.25;
  explicit_split.ResolveDefaults(ServingBanks(), 20);
  EXPECT_EQ(explicit_split.validation_fraction, 0.25);
}

TEST(TrainingOptionsTest, SmallDataGetsMoreEpochsWithinTheMethodsRange) {
  for (Method m : {Method::kHeadOnly, Method::kAdapter, Method::kXpeftHard, Method::kXpeftSoft,
                   Method::kPropetlLayer, Method::kPropetlHybrid}) {
    const TrainingOptions few = Resolved(m, 24), many = Resolved(m, 5000);
    EXPECT_GT(few.epochs, many.epochs) << MethodName(m);
    EXPECT_GE(many.epochs, 1) << MethodName(m);
    EXPECT_GT(few.batch_size, 0) << MethodName(m);
    EXPECT_GT(few.head_learning_rate, 0) << MethodName(m);
    EXPECT_GT(few.mask_learning_rate, 0) << MethodName(m);
    // Enough optimiser steps on small data.
    const int64_t steps = few.epochs * ((24 + few.batch_size - 1) / few.batch_size);
    EXPECT_GE(steps, 60) << MethodName(m);
  }
}

TEST(TrainingOptionsTest, ExplicitValuesAreKeptAndResolvingIsIdempotent) {
  TrainingOptions o;
  o.method = Method::kPropetlHybrid;
  o.epochs = 7;
  o.batch_size = 3;
  o.head_learning_rate = 0.5;
  o.ResolveDefaults(ServingBanks(), 50);
  EXPECT_EQ(o.epochs, 7);
  EXPECT_EQ(o.batch_size, 3);
  EXPECT_EQ(o.head_learning_rate, 0.5);
  EXPECT_EQ(o.propetl_keep_fraction, 0.3);
  const TrainingOptions once = o;
  o.ResolveDefaults(ServingBanks(), 50);
  EXPECT_EQ(o.epochs, once.epochs);
  EXPECT_EQ(o.mask_learning_rate, once.mask_learning_rate);
  EXPECT_EQ(o.validation_fraction, once.validation_fraction);
}

TEST(TrainingOptionsTest, OutOfRangeValuesNameTheField) {
  auto message = [](TrainingOptions o) {
    o.ResolveDefaults(ServingBanks(), 50);
    try {
      o.Validate();
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string();
  };
  TrainingOptions o;
  o.epochs = -1;
  EXPECT_NE(message(o).find("hyper_parameters.epochs"), std::string::npos);
  o = TrainingOptions();
  o.batch_size = -1;
  EXPECT_NE(message(o).find("hyper_parameters.batch_size"), std::string::npos);
  o = TrainingOptions();
  o.head_learning_rate = -1;
  EXPECT_NE(message(o).find("hyper_parameters.head_learning_rate"), std::string::npos);
  o = TrainingOptions();
  o.validation_fraction = 0.6;
  EXPECT_NE(message(o).find("validation_fraction"), std::string::npos);
}

}  // namespace
}  // namespace maskserve
