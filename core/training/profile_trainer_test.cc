// Trains every method on a synthetic separable task with the built-in
// backbone and checks the result through the serving path (codec ->
// ComposeProfile -> ClassifyMixedBatch).
#include "core/training/profile_trainer.h"

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/peft/mixed_batch.h"
#include "core/profile/profile_codec.h"
#include "core/testing/synthetic_task.h"

namespace maskserve {
namespace {

using maskserve::testing::SyntheticExample;
using maskserve::testing::SyntheticTask;

class ProfileTrainerTest : public ::testing::TestWithParam<Method> {
 protected:
  static void SetUpTestSuite() {
    backbone_ = new Backbone(BuiltinBackbone(DeviceSpec()));
    const BertConfig& c = backbone_->model->config();
    AdapterBankConfig bank;
    bank.num_layers = c.num_hidden_layers;
    bank.hidden_size = c.hidden_size;
    bank.bottleneck = c.hidden_size / 16;
    banks_ = new ServingBanks();
    banks_->adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, DeviceSpec(), 11));
    PrototypeBankConfig proto;
    proto.num_layers = c.num_hidden_layers;
    proto.hidden_size = c.hidden_size;
    proto.bottleneck = c.hidden_size / 16;
    banks_->prototype =
        std::make_shared<PrototypeBank>(PrototypeBank::Random(proto, DeviceSpec(), 12));
  }
  static void TearDownTestSuite() {
    delete backbone_;
    delete banks_;
  }

  static std::vector<TrainingExample> ToExamples(const std::vector<SyntheticExample>& in) {
    std::vector<TrainingExample> out;
    for (const auto& e : in) out.push_back({e.text, "", e.label});
    return out;
  }

  // Logits [n, C] of `profile` on `test` through the serving path (codec ->
  // ComposeProfile -> ClassifyMixedBatch).
  static at::Tensor ServeLogits(const ProfileData& profile,
                                const std::vector<SyntheticExample>& test) {
    ComposedProfile composed =
        ComposeProfile(DecodeProfile(EncodeProfile(profile)), *backbone_->model, *banks_);
    std::vector<std::string_view> texts;
    for (const auto& e : test) texts.push_back(e.text);
    BatchEncoding enc = backbone_->tokenizer->EncodeBatch(texts);
    auto tensor = [&](std::vector<int64_t>& v) {
      return at::from_blob(v.data(), {enc.batch_size, enc.seq_len}, at::kLong).clone();
    };
    return at::stack(ClassifyMixedBatch(*backbone_->model, {&composed},
                                        std::vector<int64_t>(test.size(), 0), tensor(enc.input_ids),
                                        tensor(enc.attention_mask), tensor(enc.token_type_ids)));
  }

  // Accuracy of `profile` on `test` through the serving path.
  static double ServeAccuracy(const ProfileData& profile,
                              const std::vector<SyntheticExample>& test) {
    at::Tensor logits = ServeLogits(profile, test);
    int correct = 0;
    for (size_t i = 0; i < test.size(); ++i)
      correct += logits[i].argmax().item<int64_t>() == test[i].label;
    return double(correct) / double(test.size());
  }

  static Backbone* backbone_;
  static ServingBanks* banks_;
};

Backbone* ProfileTrainerTest::backbone_ = nullptr;
ServingBanks* ProfileTrainerTest::banks_ = nullptr;

TEST_P(ProfileTrainerTest, LearnsASeparableTaskAbove90Percent) {
  const std::vector<SyntheticExample> data = SyntheticTask(200, 2, 42);
  std::vector<SyntheticExample> train(data.begin(), data.begin() + 100),
      test(data.begin() + 100, data.end());
  TrainingOptions options;
  options.method = GetParam();
  options.seed = 3;
  int64_t last_step = 0;
  bool saw_validation = false;
  ProfileTrainer trainer(*backbone_, *banks_);
  ProfileData profile = trainer.Train(
      ToExamples(train), {"positive", "negative"}, options,
      [&](const TrainingProgress& p) {
        EXPECT_GE(p.step, last_step);
        last_step = p.step;
        saw_validation |= p.has_validation && p.validation.examples > 0;
      },
      [] { return false; });
  EXPECT_GT(last_step, 0);
  EXPECT_TRUE(saw_validation);
  EXPECT_EQ(profile.method, GetParam());
  EXPECT_EQ(profile.metrics.validation_examples, 20u);
  const double accuracy = ServeAccuracy(profile, test);
  EXPECT_GT(accuracy, 0.9) << MethodName(GetParam());
  RecordProperty("accuracy", std::to_string(accuracy));
}

INSTANTIATE_TEST_SUITE_P(AllMethods, ProfileTrainerTest,
                         ::testing::Values(Method::kXpeftHard, Method::kXpeftSoft,
                                           Method::kPropetlLayer, Method::kPropetlHybrid,
                                           Method::kHeadOnly, Method::kAdapter),
                         [](const auto& info) { return std::string(MethodName(info.param)); });

TEST_F(ProfileTrainerTest, Int8HeadServesLikeTheFp16Head) {
  const std::vector<SyntheticExample> data = SyntheticTask(200, 2, 42);
  std::vector<SyntheticExample> train(data.begin(), data.begin() + 100),
      test(data.begin() + 100, data.end());
  ProfileTrainer trainer(*backbone_, *banks_);
  for (Method method : {Method::kXpeftHard, Method::kHeadOnly}) {
    TrainingOptions options;
    options.method = method;
    options.seed = 3;
    const std::vector<std::string> labels = {"positive", "negative"};
    const ProfileData fp16 = trainer.Train(ToExamples(train), labels, options, nullptr, nullptr);
    options.head_int8 = true;
    const ProfileData int8 = trainer.Train(ToExamples(train), labels, options, nullptr, nullptr);

    ASSERT_TRUE(int8.has_int8_head());
    EXPECT_TRUE(int8.head_weight.empty());
    EXPECT_EQ(int8.mask_bits, fp16.mask_bits);  // only the head's storage differs
    // int8: C*d weights + 2*C scale + 2*C bias bytes; fp16: 2*C*d + 2*C.
    const uint64_t C = 2, d = fp16.shape.hidden_size;
    EXPECT_EQ(MeasureProfile(int8).head + C * d, MeasureProfile(fp16).head + 2 * C);

    const at::Tensor a = ServeLogits(fp16, test), b = ServeLogits(int8, test);
    const double range = a.abs().max().item<double>();
    const double error = (a - b).abs().max().item<double>();
    EXPECT_LT(error, 0.02 * range) << MethodName(method) << ": logits up to " << range;
    // Same decisions wherever the fp16 margin exceeds what int8 may move.
    const at::Tensor top = std::get<0>(a.topk(2, 1));
    const at::Tensor clear = (top.select(1, 0) - top.select(1, 1)) > 2 * error;
    EXPECT_GT(clear.sum().item<int64_t>(), 0);
    EXPECT_TRUE(at::equal(a.argmax(1).masked_select(clear), b.argmax(1).masked_select(clear)))
        << MethodName(method);
    EXPECT_GT(ServeAccuracy(int8, test), 0.9) << MethodName(method);
    RecordProperty(std::string(MethodName(method)) + "_max_logit_error", std::to_string(error));
    RecordProperty(std::string(MethodName(method)) + "_max_logit", std::to_string(range));
  }
}

TEST_F(ProfileTrainerTest, DeterministicForASeedOnCpu) {
  const auto examples = ToExamples(SyntheticTask(24, 2, 5));
  TrainingOptions options;
  options.method = Method::kXpeftHard;
  options.epochs = 2;
  options.seed = 9;
  ProfileTrainer trainer(*backbone_, *banks_);
  auto run = [&] {
    return EncodeProfile(trainer.Train(examples, {"a", "b"}, options, nullptr, nullptr));
  };
  const std::string first = run();
  EXPECT_TRUE(first == run()) << "same seed, different profile";
  options.seed = 10;
  EXPECT_FALSE(first == run()) << "different seed, same profile";
}

TEST_F(ProfileTrainerTest, HardMasksSelectExactlyKAdapters) {
  TrainingOptions options;
  options.method = Method::kXpeftHard;
  options.epochs = 1;
  options.xpeft_top_k = 7;
  ProfileTrainer trainer(*backbone_, *banks_);
  ProfileData p =
      trainer.Train(ToExamples(SyntheticTask(16, 2, 1)), {"a", "b"}, options, nullptr, nullptr);
  EXPECT_EQ(p.shape.top_k, 7u);
  EXPECT_EQ(p.mask_bits.size(), 2u * ((100 + 7) / 8) * 4);  // 2*ceil(N/8)*L
  ValidateProfileData(p);                                   // checks k ones per row
}

TEST_F(ProfileTrainerTest, CancellationStopsTraining) {
  TrainingOptions options;
  options.method = Method::kAdapter;
  int polls = 0;
  ProfileTrainer trainer(*backbone_, *banks_);
  try {
    trainer.Train(ToExamples(SyntheticTask(40, 2, 1)), {"a", "b"}, options, nullptr,
                  [&] { return ++polls > 2; });
    FAIL() << "expected cancellation";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(polls, 3);
}

// Feature extraction, head initialisation and validation check for
// cancellation too, so a cancel or a shutdown never waits for a whole pass
// over a large job.
TEST_F(ProfileTrainerTest, CancellationIsCheckedBeforeTheFirstStep) {
  TrainingOptions options;
  options.method = Method::kHeadOnly;
  options.epochs = 1;
  int polls = 0, progress = 0;
  ProfileTrainer trainer(*backbone_, *banks_);
  try {
    // 200 examples: four chunks of features before the first step.
    trainer.Train(
        ToExamples(SyntheticTask(200, 2, 1)), {"a", "b"}, options,
        [&](const TrainingProgress&) { ++progress; }, [&] { return ++polls > 1; });
    FAIL() << "expected cancellation";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(polls, 2);
  EXPECT_EQ(progress, 0) << "a step ran before the cancellation was noticed";
}

TEST_F(ProfileTrainerTest, BadInputsAreRejectedNamingTheField) {
  ProfileTrainer trainer(*backbone_, *banks_);
  auto examples = ToExamples(SyntheticTask(8, 2, 1));
  TrainingOptions options;
  options.epochs = 1001;
  try {
    trainer.Train(examples, {"a", "b"}, options, nullptr, nullptr);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("hyper_parameters.epochs"), std::string::npos);
  }
  options = TrainingOptions();
  examples[3].label = 5;
  try {
    trainer.Train(examples, {"a", "b"}, options, nullptr, nullptr);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("examples[3].label"), std::string::npos);
  }
  ProfileTrainer no_banks(*backbone_, ServingBanks());
  options.method = Method::kPropetlLayer;
  examples[3].label = 1;
  try {
    no_banks.Train(examples, {"a", "b"}, options, nullptr, nullptr);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace maskserve
