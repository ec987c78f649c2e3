// Serving-side composition: mixed-profile batches equal each profile run
// alone, and profiles are refused for another backbone or bank.
#include "core/peft/composed_profile.h"

#include <ATen/ATen.h>

#include <cmath>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/base/fp16.h"
#include "core/model/backbone.h"
#include "core/peft/mixed_batch.h"
#include "core/peft/profile_tensors.h"
#include "core/testing/trained_profiles.h"

namespace maskserve {
namespace {

class ComposedProfileTest : public testing::TrainedProfilesTest {
 protected:
  using Tokens = testing::Tokens;
  static Tokens Encode(const std::vector<std::string_view>& texts) {
    return testing::Encode(*backbone_, texts);
  }
};

TEST_F(ComposedProfileTest, MixedBatchEqualsEachProfileAlone) {
  std::vector<ComposedProfile> composed;
  for (const ProfileData& p : *profiles_)
    composed.push_back(ComposeProfile(p, *backbone_->model, *banks_));
  std::vector<const ComposedProfile*> pointers;
  for (const ComposedProfile& c : composed) pointers.push_back(&c);

  const std::vector<std::string_view> texts = {
      "a great film",    "the worst movie ever made",           "music and dance", "it is a story",
      "boring and dull", "the band played jazz all night long", "perfect",         "ugly waste"};
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

TEST_F(ComposedProfileTest, RefusesNonFiniteWeights) {
  ProfileData head_only = (*profiles_)[4];
  head_only.head_weight[0] = FloatToHalf(std::nanf(""));
  try {
    ComposeProfile(head_only, *backbone_->model, *banks_);
    FAIL() << "a NaN head was composed";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
  ProfileData adapter = (*profiles_)[5];
  adapter.adapter_params[3] = FloatToHalf(INFINITY);
  EXPECT_THROW(ComposeProfile(adapter, *backbone_->model, *banks_), EngineError);
}

// ADAPTER profiles carry their own weights, so nothing but this check keeps
// a profile of another bottleneck out of the batches it would break.
TEST_F(ComposedProfileTest, RefusesAdapterProfilesOfAnotherBottleneck) {
  ProfileData adapter = (*profiles_)[5];
  ASSERT_EQ(adapter.shape.bottleneck, 8u);
  const int64_t L = adapter.shape.num_layers, d = adapter.shape.hidden_size, b = 4;
  adapter.shape.bottleneck = uint32_t(b);
  adapter.adapter_params.assign(size_t(L * (2 * d * b + b + d)), FloatToHalf(0.01f));
  try {
    ComposeProfile(adapter, *backbone_->model, *banks_);
    FAIL() << "a b=4 ADAPTER profile was composed on a b=8 server";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("b=4"), std::string::npos) << e.what();
  }
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

TEST(Int8HeadTest, DequantisedWeightsAreWithinHalfAScale) {
  at::Tensor w = at::randn({5, 128}, at::TensorOptions().dtype(at::kFloat)) * 3.0;
  w[1].zero_();     // an all-zero row
  w[2].mul_(1e-7);  // below fp16's normal range
  w[3][7] = 250.0;  // one large weight dominates its row
  Int8Rows q = QuantizeInt8Rows(w);
  ASSERT_EQ(q.values.size(), 5u * 128);
  ASSERT_EQ(q.scales.size(), 5u);
  at::Tensor back = DequantizeInt8Rows(q.values, q.scales, 128);
  ASSERT_EQ(back.sizes(), w.sizes());
  for (int64_t r = 0; r < 5; ++r) {
    const float scale = HalfToFloat(q.scales[size_t(r)]);
    const float max_abs = w[r].abs().max().item<float>();
    EXPECT_GE(scale * 127, max_abs) << "row " << r;  // no value is clipped
    if (max_abs > 0) {
      EXPECT_LE(scale, max_abs / 127 * 1.001f + 6e-8f) << "row " << r;
    } else {
      EXPECT_EQ(scale, 0.0f);
    }
    const float error = (w[r] - back[r]).abs().max().item<float>();
    EXPECT_LE(error, scale / 2) << "row " << r;
  }
  EXPECT_TRUE(at::equal(back[1], at::zeros({128})));
  for (int8_t v : q.values) EXPECT_GE(v, -127);
}

TEST(Int8HeadTest, StoreHeadWeightKeepsExactlyOneForm) {
  ProfileData p;
  p.labels = {"a", "b", "c"};
  p.shape.hidden_size = 16;
  at::Tensor w = at::randn({3, 16});
  StoreHeadWeight(w, /*int8=*/true, &p);
  EXPECT_TRUE(p.has_int8_head());
  EXPECT_TRUE(p.head_weight.empty());
  EXPECT_EQ(p.head_weight_int8.size(), 3u * 16);
  EXPECT_EQ(p.head_weight_scale.size(), 3u);
  at::Tensor from_int8 = HeadWeightTensor(p);
  EXPECT_TRUE(at::allclose(from_int8, w, 0, w.abs().max().item<double>() / 254 * 1.01));
  StoreHeadWeight(w, /*int8=*/false, &p);
  EXPECT_FALSE(p.has_int8_head());
  EXPECT_TRUE(p.head_weight_scale.empty());
  EXPECT_TRUE(at::allclose(HeadWeightTensor(p), w, 1e-3, 1e-3));
}

}  // namespace
}  // namespace maskserve
