// Serving-side composition: mixed-profile batches equal each profile run
// alone, and profiles are refused for another backbone or bank.
#include "core/composed_profile.h"

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include "core/backbone.h"
#include "core/error.h"
#include "core/profile_trainer.h"
#include "core/testing/synthetic_task.h"

namespace maskserve {
namespace {

class ComposedProfileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backbone_ = new Backbone(BuiltinBackbone(DeviceSpec()));
    const BertConfig& c = backbone_->model->config();
    AdapterBankConfig bank;
    bank.num_layers = c.num_hidden_layers;
    bank.hidden_size = c.hidden_size;
    bank.bottleneck = 8;
    banks_ = new ServingBanks();
    banks_->adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, DeviceSpec(), 1));
    PrototypeBankConfig proto;
    proto.num_layers = c.num_hidden_layers;
    proto.hidden_size = c.hidden_size;
    proto.bottleneck = 8;
    banks_->prototype = std::make_shared<PrototypeBank>(PrototypeBank::Random(proto, DeviceSpec(), 2));
    // One quickly trained profile of every method (3 labels for some).
    ProfileTrainer trainer(*backbone_, *banks_);
    profiles_ = new std::vector<ProfileData>();
    int seed = 0;
    for (Method m : {Method::kXpeftHard, Method::kXpeftSoft, Method::kPropetlLayer,
                     Method::kPropetlHybrid, Method::kHeadOnly, Method::kAdapter}) {
      const int labels = seed % 2 ? 3 : 2;
      std::vector<TrainingExample> examples;
      for (const auto& e : testing::SyntheticTask(24, labels, unsigned(seed))) {
        examples.push_back({e.text, "", e.label});
      }
      TrainingOptions options;
      options.method = m;
      options.epochs = 2;
      options.seed = uint64_t(seed++);
      options.xpeft_layer_norm = m != Method::kXpeftSoft;  // mix with and without the norm
      std::vector<std::string> names = {"x", "y", "z"};
      names.resize(size_t(labels));
      profiles_->push_back(trainer.Train(examples, names, options, nullptr, nullptr));
    }
  }
  static void TearDownTestSuite() {
    delete backbone_;
    delete banks_;
    delete profiles_;
  }

  struct Tokens {
    at::Tensor ids, mask, types;
  };
  static Tokens Encode(const std::vector<std::string_view>& texts) {
    BatchEncoding enc = backbone_->tokenizer->EncodeBatch(texts);
    auto t = [&](std::vector<int64_t>& v) {
      return at::from_blob(v.data(), {enc.batch_size, enc.seq_len}, at::kLong).clone();
    };
    return {t(enc.input_ids), t(enc.attention_mask), t(enc.token_type_ids)};
  }

  static Backbone* backbone_;
  static ServingBanks* banks_;
  static std::vector<ProfileData>* profiles_;
};

Backbone* ComposedProfileTest::backbone_ = nullptr;
ServingBanks* ComposedProfileTest::banks_ = nullptr;
std::vector<ProfileData>* ComposedProfileTest::profiles_ = nullptr;

TEST_F(ComposedProfileTest, MixedBatchEqualsEachProfileAlone) {
  std::vector<ComposedProfile> composed;
  for (const ProfileData& p : *profiles_) composed.push_back(ComposeProfile(p, *backbone_->model, *banks_));
  std::vector<const ComposedProfile*> pointers;
  for (const ComposedProfile& c : composed) pointers.push_back(&c);

  const std::vector<std::string_view> texts = {
      "a great film", "the worst movie ever made", "music and dance", "it is a story",
      "boring and dull", "the band played jazz all night long", "perfect", "ugly waste"};
  const std::vector<int64_t> profile_of = {0, 1, 2, 3, 4, 5, 0, 3};
  Tokens all = Encode(texts);
  std::vector<at::Tensor> mixed =
      ClassifyMixedBatch(*backbone_->model, pointers, profile_of, all.ids, all.mask, all.types);
  ASSERT_EQ(mixed.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    Tokens one = Encode({texts[i]});
    std::vector<at::Tensor> alone = ClassifyMixedBatch(
        *backbone_->model, {pointers[size_t(profile_of[i])]}, {0}, one.ids, one.mask, one.types);
    EXPECT_EQ(mixed[i].numel(), int64_t((*profiles_)[size_t(profile_of[i])].labels.size()));
    EXPECT_TRUE(at::allclose(mixed[i], alone[0], 1e-4, 1e-5))
        << "sequence " << i << " (" << MethodName(composed[size_t(profile_of[i])].method)
        << "): " << mixed[i] << " vs " << alone[0];
  }
}

TEST_F(ComposedProfileTest, MethodsWithAdaptersChangeTheBackboneOutput) {
  const ProfileData& hard = (*profiles_)[0];
  ComposedProfile composed = ComposeProfile(hard, *backbone_->model, *banks_);
  EXPECT_TRUE(composed.has_adapter());
  EXPECT_EQ(composed.down.sizes(), at::IntArrayRef({4, 128, 8}));
  EXPECT_GT(composed.device_bytes(), 0);
  ComposedProfile head_only = ComposeProfile((*profiles_)[4], *backbone_->model, *banks_);
  EXPECT_FALSE(head_only.has_adapter());
}

TEST_F(ComposedProfileTest, RefusesAnotherBankOrBackbone) {
  ServingBanks other = *banks_;
  AdapterBankConfig config = banks_->adapters->config();
  other.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(config, DeviceSpec(), 99));
  try {
    ComposeProfile((*profiles_)[0], *backbone_->model, other);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("adapter bank"), std::string::npos) << e.what();
  }
  BertModel other_backbone =
      BertModel::Random(backbone_->model->config(), DeviceSpec(), kBuiltinBackboneSeed + 1);
  try {
    ComposeProfile((*profiles_)[4], other_backbone, *banks_);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("backbone"), std::string::npos) << e.what();
  }
  try {
    ComposeProfile((*profiles_)[2], *backbone_->model, ServingBanks());
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace maskserve
