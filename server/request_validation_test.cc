#include "server/request_validation.h"

#include <gtest/gtest.h>

namespace maskserve {
namespace {

// A valid request: 2 labels, 2 examples, no hyper-parameters set.
v1::TrainProfileRequest TrainRequest() {
  v1::TrainProfileRequest request;
  request.set_profile_id("alice");
  request.set_method(v1::XPEFT_HARD);
  request.add_label_names("pos");
  request.add_label_names("neg");
  v1::TrainingExample* example = request.add_examples();
  example->set_text("a great film");
  example->set_label("pos");
  example = request.add_examples();
  example->set_text("a dull film");
  example->set_label("neg");
  return request;
}

TEST(RequestValidationTest, UnsetHyperParametersTakeTheEngineDefaults) {
  const v1::TrainProfileRequest request = TrainRequest();
  ASSERT_TRUE(ValidateTrainRequest(request, LimitsOptions()).ok());
  const TrainingOptions options = ToTrainingOptions(request);
  const TrainingOptions defaults;
  EXPECT_EQ(options.method, Method::kXpeftHard);
  EXPECT_EQ(options.epochs, defaults.epochs);
  EXPECT_EQ(options.batch_size, defaults.batch_size);
  EXPECT_EQ(options.head_learning_rate, defaults.head_learning_rate);
  EXPECT_FALSE(options.head_int8);
}

TEST(RequestValidationTest, HeadPrecisionMapsToTheEngineAndBack) {
  v1::TrainProfileRequest request = TrainRequest();
  for (v1::HeadPrecision precision : {v1::HEAD_PRECISION_UNSPECIFIED, v1::HEAD_PRECISION_FP16}) {
    request.mutable_hyper_parameters()->set_head_precision(precision);
    ASSERT_TRUE(ValidateTrainRequest(request, LimitsOptions()).ok());
    const TrainingOptions options = ToTrainingOptions(request);
    EXPECT_FALSE(options.head_int8) << v1::HeadPrecision_Name(precision);
    EXPECT_EQ(ToHyperParameters(options).head_precision(), v1::HEAD_PRECISION_FP16);
  }
  request.mutable_hyper_parameters()->set_head_precision(v1::HEAD_PRECISION_INT8);
  ASSERT_TRUE(ValidateTrainRequest(request, LimitsOptions()).ok());
  const TrainingOptions options = ToTrainingOptions(request);
  EXPECT_TRUE(options.head_int8);
  EXPECT_EQ(ToHyperParameters(options).head_precision(), v1::HEAD_PRECISION_INT8);
}

TEST(RequestValidationTest, UnknownHeadPrecisionIsInvalidArgumentNamingTheField) {
  v1::TrainProfileRequest request = TrainRequest();
  request.mutable_hyper_parameters()->set_head_precision(static_cast<v1::HeadPrecision>(7));
  const absl::Status status = ValidateTrainRequest(request, LimitsOptions());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("hyper_parameters.head_precision"), std::string::npos)
      << status;
}

TEST(RequestValidationTest, HyperParametersRoundTripThroughTheEngineOptions) {
  v1::TrainProfileRequest request = TrainRequest();
  v1::HyperParameters& h = *request.mutable_hyper_parameters();
  h.set_epochs(3);
  h.set_batch_size(4);
  h.set_head_learning_rate(0.5f);
  h.set_xpeft_top_k(7);
  h.set_head_precision(v1::HEAD_PRECISION_INT8);
  const v1::HyperParameters used = ToHyperParameters(ToTrainingOptions(request));
  EXPECT_EQ(used.epochs(), 3u);
  EXPECT_EQ(used.batch_size(), 4u);
  EXPECT_EQ(used.head_learning_rate(), 0.5f);
  EXPECT_EQ(used.xpeft_top_k(), 7u);
  EXPECT_EQ(used.head_precision(), v1::HEAD_PRECISION_INT8);
}

}  // namespace
}  // namespace maskserve
