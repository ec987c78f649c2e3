#include "server/engine/request_validation.h"

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include "core/model/device.h"
#include "core/peft/adapter_bank.h"
#include "core/peft/prototype_bank.h"

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
  EXPECT_NE(status.message().find("hyper_parameters.head_precision"), std::string::npos) << status;
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

// Heads "sentiment" {neg, pos} and "topics" {sports, music, news}, d=8,
// and no banks.
ServingBanks TestHeads() {
  auto heads = std::make_shared<SharedHeadSet>("backbone-fp");
  heads->Add("sentiment", {"neg", "pos"}, at::randn({2, 8}), at::zeros({2}));
  heads->Add("topics", {"sports", "music", "news"}, at::randn({3, 8}), at::zeros({3}));
  ServingBanks banks;
  banks.heads = heads;
  return banks;
}

// An X-PEFT bank of N=4 adapters (k=2) and a prototype, L=2, d=8.
ServingBanks TestBanks() {
  AdapterBankConfig bank;
  bank.num_layers = 2;
  bank.hidden_size = 8;
  bank.bottleneck = 2;
  bank.num_adapters = 4;
  bank.top_k = 2;
  PrototypeBankConfig prototype;
  prototype.num_layers = 2;
  prototype.hidden_size = 8;
  prototype.bottleneck = 2;
  ServingBanks banks;
  banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, DeviceSpec(), 1));
  banks.prototype =
      std::make_shared<PrototypeBank>(PrototypeBank::Random(prototype, DeviceSpec(), 2));
  return banks;
}

// A request for the "sentiment" head with its labels left to the server.
v1::TrainProfileRequest SharedHeadRequest() {
  v1::TrainProfileRequest request = TrainRequest();
  request.clear_label_names();
  request.mutable_examples(0)->set_label("pos");
  request.mutable_examples(1)->set_label("neg");
  request.set_shared_head("sentiment");
  return request;
}

void ExpectInvalidNaming(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message().rfind(field + ":", 0), 0u) << status;
}

TEST(RequestValidationTest, WithoutSharedHeadTheRequestIsUntouched) {
  v1::TrainProfileRequest request = TrainRequest();
  ASSERT_TRUE(ResolveSharedHead(ServingBanks(), &request).ok());
  EXPECT_EQ(request.label_names_size(), 2);
  EXPECT_EQ(ToTrainingOptions(request).shared_head, "");
}

TEST(RequestValidationTest, SharedHeadFillsInItsLabelsAndMapsToTheEngine) {
  const ServingBanks heads = TestHeads();
  v1::TrainProfileRequest request = SharedHeadRequest();
  ASSERT_TRUE(ResolveSharedHead(heads, &request).ok());
  EXPECT_EQ(std::vector<std::string>(request.label_names().begin(), request.label_names().end()),
            (std::vector<std::string>{"neg", "pos"}));
  ASSERT_TRUE(ValidateTrainRequest(request, LimitsOptions()).ok());
  EXPECT_EQ(ToTrainingOptions(request).shared_head, "sentiment");
  // Example labels index into the head's labels.
  const std::vector<TrainingExample> examples = ToTrainingExamples(request);
  EXPECT_EQ(examples[0].label, 1);
  EXPECT_EQ(examples[1].label, 0);
}

TEST(RequestValidationTest, SharedHeadAcceptsItsExactLabels) {
  const ServingBanks heads = TestHeads();
  v1::TrainProfileRequest request = SharedHeadRequest();
  request.add_label_names("neg");
  request.add_label_names("pos");
  ASSERT_TRUE(ResolveSharedHead(heads, &request).ok());
  EXPECT_EQ(request.label_names_size(), 2);
}

TEST(RequestValidationTest, SharedHeadRefusesOtherLabelsNamingLabelNames) {
  const ServingBanks heads = TestHeads();
  for (const std::vector<std::string>& labels :
       std::vector<std::vector<std::string>>{{"pos", "neg"}, {"neg"}, {"neg", "pos", "meh"}}) {
    v1::TrainProfileRequest request = SharedHeadRequest();
    for (const std::string& label : labels) request.add_label_names(label);
    const absl::Status status = ResolveSharedHead(heads, &request);
    ExpectInvalidNaming(status, "label_names");
    EXPECT_NE(status.message().find("sentiment"), std::string::npos) << status;
  }
}

TEST(RequestValidationTest, ExampleLabelsMustBeAmongTheSharedHeadsLabels) {
  const ServingBanks heads = TestHeads();
  v1::TrainProfileRequest request = SharedHeadRequest();
  request.mutable_examples(1)->set_label("spam");
  ASSERT_TRUE(ResolveSharedHead(heads, &request).ok());
  ExpectInvalidNaming(ValidateTrainRequest(request, LimitsOptions()), "examples[1].label");
}

TEST(RequestValidationTest, UnknownOrMalformedSharedHeadIsInvalidArgument) {
  const ServingBanks heads = TestHeads();
  v1::TrainProfileRequest request = SharedHeadRequest();
  request.set_shared_head("news");
  absl::Status status = ResolveSharedHead(heads, &request);
  ExpectInvalidNaming(status, "shared_head");
  EXPECT_NE(status.message().find("no shared head 'news' is loaded"), std::string::npos) << status;
  EXPECT_NE(status.message().find("sentiment, topics"), std::string::npos) << status;

  status = ResolveSharedHead(ServingBanks(), &request);
  ExpectInvalidNaming(status, "shared_head");
  EXPECT_NE(status.message().find("no shared head 'news' is loaded"), std::string::npos) << status;

  request.set_shared_head("bad name!");
  ExpectInvalidNaming(ResolveSharedHead(heads, &request), "shared_head");
  request.set_shared_head(std::string(65, 'a'));
  ExpectInvalidNaming(ResolveSharedHead(heads, &request), "shared_head");
  EXPECT_EQ(request.label_names_size(), 0);
}

TEST(RequestValidationTest, HeadOnlyCannotUseASharedHead) {
  const ServingBanks heads = TestHeads();
  v1::TrainProfileRequest request = SharedHeadRequest();
  request.set_method(v1::HEAD_ONLY);
  const absl::Status status = ResolveSharedHead(heads, &request);
  ExpectInvalidNaming(status, "shared_head");
  EXPECT_NE(status.message().find("HEAD_ONLY"), std::string::npos) << status;
}

TEST(RequestValidationTest, PreparedRequestCarriesTheResolvedOptions) {
  absl::StatusOr<v1::TrainProfileRequest> prepared =
      PrepareTrainRequest(TrainRequest(), LimitsOptions(), TestBanks());
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  const v1::HyperParameters& h = prepared->hyper_parameters();
  EXPECT_GE(h.epochs(), 3u);  // the step budget's epochs, not 0
  EXPECT_GT(h.batch_size(), 0u);
  EXPECT_GT(h.head_learning_rate(), 0.0f);
  EXPECT_EQ(h.xpeft_top_k(), 2u);                    // the bank's k
  EXPECT_EQ(prepared->validation_fraction(), 0.0f);  // 2 examples: no split
  // Read back, they are what the trainer runs with: resolving again changes nothing.
  TrainingOptions options = ToTrainingOptions(*prepared);
  const TrainingOptions before = options;
  options.ResolveDefaults(TestBanks(), prepared->examples_size());
  EXPECT_EQ(options.epochs, before.epochs);
  EXPECT_EQ(options.batch_size, before.batch_size);
  EXPECT_EQ(options.validation_fraction, before.validation_fraction);
}

TEST(RequestValidationTest, PreparingNeedsTheMethodsBank) {
  absl::StatusOr<v1::TrainProfileRequest> prepared =
      PrepareTrainRequest(TrainRequest(), LimitsOptions(), ServingBanks());
  EXPECT_EQ(prepared.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(prepared.status().message().rfind("method: XPEFT_HARD needs", 0), 0u)
      << prepared.status();
  v1::TrainProfileRequest head_only = TrainRequest();
  head_only.set_method(v1::HEAD_ONLY);
  EXPECT_TRUE(PrepareTrainRequest(head_only, LimitsOptions(), ServingBanks()).ok());
}

TEST(RequestValidationTest, TopKMustBeWithinTheBank) {
  for (uint32_t k : {0u, 5u}) {
    v1::TrainProfileRequest request = TrainRequest();
    request.mutable_hyper_parameters()->set_xpeft_top_k(k);
    const absl::Status status = PrepareTrainRequest(request, LimitsOptions(), TestBanks()).status();
    ExpectInvalidNaming(status, "hyper_parameters.xpeft_top_k");
    EXPECT_EQ(status.message().find("-1"), std::string::npos) << status;  // never a value not sent
  }
}

TEST(RequestValidationTest, AnUnknownMethodIsNamedBeforeTheSharedHead) {
  v1::TrainProfileRequest request = SharedHeadRequest();
  request.set_method(static_cast<v1::Method>(261));  // 261 % 256 would read as HEAD_ONLY
  ExpectInvalidNaming(PrepareTrainRequest(request, LimitsOptions(), TestHeads()).status(),
                      "method");
}

TEST(RequestValidationTest, PredictInputsAreCheckedNamingTheField) {
  const LimitsOptions limits;
  EXPECT_TRUE(ValidatePredictInputs("alice", {{"a fine film", ""}}, limits).ok());
  ExpectInvalidNaming(ValidatePredictInputs("alice", {}, limits), "inputs");
  ExpectInvalidNaming(ValidatePredictInputs("alice", {{"ok", ""}, {"", ""}}, limits),
                      "inputs[1].text");
  ExpectInvalidNaming(ValidatePredictInputs("alice", {{"ok", "\xff"}}, limits),
                      "inputs[0].text_pair");
  ExpectInvalidNaming(ValidatePredictInputs("", {{"ok", ""}}, limits), "profile_id");
  LimitsOptions one;
  one.max_inputs_per_request = 1;
  ExpectInvalidNaming(ValidatePredictInputs("alice", {{"a", ""}, {"b", ""}}, one), "inputs");
}

}  // namespace
}  // namespace maskserve
