// The device profile pool: batches composed from the resident masks equal
// each profile composed alone, rows are stored compactly, shared and
// reused, and the pool refuses what composition refuses.
#include "core/peft/profile_pool.h"

#include <ATen/ATen.h>

#include <cmath>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/base/fp16.h"
#include "core/peft/composed_profile.h"
#include "core/peft/mixed_batch.h"
#include "core/testing/trained_profiles.h"

namespace maskserve {
namespace {

class ProfilePoolTest : public testing::TrainedProfilesTest {
 protected:
  // Each text's logits with its profile composed alone (the reference).
  static std::vector<at::Tensor> Alone(const std::vector<std::string_view>& texts,
                                       const std::vector<const ProfileData*>& profile_of,
                                       const ServingBanks& banks) {
    std::vector<at::Tensor> out;
    for (size_t i = 0; i < texts.size(); ++i) {
      ComposedProfile c = ComposeProfile(*profile_of[i], *backbone_->model, banks);
      testing::Tokens one = testing::Encode(*backbone_, {texts[i]});
      out.push_back(
          ClassifyMixedBatch(*backbone_->model, {&c}, {0}, one.ids, one.mask, one.types)[0]);
    }
    return out;
  }

  static void ExpectClose(const std::vector<float>& pooled, const at::Tensor& alone,
                          const std::string& what) {
    ASSERT_EQ(int64_t(pooled.size()), alone.numel()) << what;
    for (size_t c = 0; c < pooled.size(); ++c) {
      const float want = alone[int64_t(c)].item<float>();
      EXPECT_NEAR(pooled[c], want, 1e-4 + 1e-4 * std::fabs(want)) << what << ", label " << c;
    }
  }
};

const std::vector<std::string_view> kTexts = {
    "a great film",    "the worst movie ever made",           "music and dance", "it is a story",
    "boring and dull", "the band played jazz all night long", "perfect",         "ugly waste",
    "so so",           "a long and winding road to nowhere"};

TEST_F(ProfilePoolTest, MixedBatchOfEveryMethodEqualsEachProfileAlone) {
  ProfilePool pool(*backbone_->model, *banks_);
  std::vector<std::shared_ptr<const PooledProfile>> held;
  // The batch lists its profiles in another order than their kinds.
  const std::vector<size_t> order = {5, 2, 0, 4, 3, 1};
  std::vector<const PooledProfile*> distinct;
  for (size_t m : order) {
    held.push_back(pool.Insert((*profiles_)[m]));
    distinct.push_back(held.back().get());
  }
  const std::vector<int64_t> profile_of = {0, 1, 2, 3, 4, 5, 2, 0, 3, 1};
  std::vector<const ProfileData*> data_of;
  for (int64_t j : profile_of) data_of.push_back(&(*profiles_)[order[size_t(j)]]);
  const std::vector<at::Tensor> want = Alone(kTexts, data_of, *banks_);
  testing::Tokens all = testing::Encode(*backbone_, kTexts);
  for (SublayerKernel kernel : {SublayerKernel::kAuto, SublayerKernel::kAten}) {
    const std::vector<std::vector<float>> got = ClassifyPooledBatch(
        *backbone_->model, pool, distinct, profile_of, all.ids, all.mask, all.types, kernel);
    ASSERT_EQ(got.size(), kTexts.size());
    for (size_t i = 0; i < kTexts.size(); ++i) {
      ExpectClose(got[i], want[i],
                  "sequence " + std::to_string(i) + " (" + MethodName(data_of[i]->method) + ")");
    }
  }
}

TEST_F(ProfilePoolTest, HeadOnlyBatchRunsTheStockForward) {
  ProfilePool pool(*backbone_->model, *banks_);
  auto head_only = pool.Insert((*profiles_)[4]);
  EXPECT_FALSE(head_only->has_adapter());
  EXPECT_EQ(head_only->bottleneck(), 0);
  const PooledBatch batch = pool.ComposeBatch({head_only.get()}, {0, 0});
  EXPECT_FALSE(batch.adapters.defined());
  testing::Tokens two = testing::Encode(*backbone_, {kTexts[0], kTexts[1]});
  auto got = ClassifyPooledBatch(*backbone_->model, pool, {head_only.get()}, {0, 0}, two.ids,
                                 two.mask, two.types);
  const std::vector<at::Tensor> want =
      Alone({kTexts[0], kTexts[1]}, {&(*profiles_)[4], &(*profiles_)[4]}, *banks_);
  ExpectClose(got[0], want[0], "first");
  ExpectClose(got[1], want[1], "second");
}

// A million X-PEFT hard profiles with a shared head must fit in well under
// 1 GB of device memory: each holds only its mask bits.
TEST_F(ProfilePoolTest, XpeftHardProfilesWithASharedHeadHoldOnlyTheirMaskBits) {
  const int64_t d = backbone_->model->config().hidden_size;
  auto heads = std::make_shared<SharedHeadSet>(backbone_->model->fingerprint());
  const SharedHead& head = heads->Add("news", {"x", "y"}, at::randn({2, d}) * 0.1, at::randn({2}));
  ServingBanks banks = *banks_;
  banks.heads = heads;
  ProfileData shared = (*profiles_)[0];
  ASSERT_EQ(shared.labels, (std::vector<std::string>{"x", "y"}));
  shared.shared_head = "news";
  shared.shared_head_fingerprint = head.fingerprint;
  shared.head_weight.clear();
  shared.head_bias.clear();
  shared.norm_params.clear();

  ProfilePool pool(*backbone_->model, banks, ProfilePool::Options{4});
  std::vector<std::shared_ptr<const PooledProfile>> held;
  for (int i = 0; i < 100; ++i) held.push_back(pool.Insert(shared));
  const int64_t L = backbone_->model->config().num_hidden_layers;
  const int64_t N = banks.adapters->config().num_adapters;
  EXPECT_EQ(held[0]->device_bytes(), 2 * L * ((N + 7) / 8));
  EXPECT_EQ(pool.profiles(), 100);
  // 128 rows of mask bits after doubling from 4, plus the head's 2 rows
  // (and the padding row) in a 4-row head table: nothing per profile.
  const int64_t head_table = 4 * (d + 1) * 4;
  EXPECT_EQ(pool.device_bytes(), 128 * 2 * L * ((N + 7) / 8) + head_table);

  testing::Tokens one = testing::Encode(*backbone_, {kTexts[2]});
  auto got = ClassifyPooledBatch(*backbone_->model, pool, {held[57].get()}, {0}, one.ids, one.mask,
                                 one.types);
  ExpectClose(got[0], Alone({kTexts[2]}, {&shared}, banks)[0], "shared head");
}

TEST_F(ProfilePoolTest, RowsAreFreedWithTheLastReferenceAndReused) {
  ProfilePool pool(*backbone_->model, *banks_, ProfilePool::Options{2});
  {
    std::vector<std::shared_ptr<const PooledProfile>> held;
    for (int i = 0; i < 3; ++i) held.push_back(pool.Insert((*profiles_)[5]));
    EXPECT_EQ(pool.profiles(), 3);
  }
  EXPECT_EQ(pool.profiles(), 0);
  const int64_t capacity = pool.device_bytes();
  std::vector<std::shared_ptr<const PooledProfile>> again;
  for (int i = 0; i < 3; ++i) again.push_back(pool.Insert((*profiles_)[5]));
  EXPECT_EQ(pool.device_bytes(), capacity) << "released rows were not reused";
}

// Growing a table copies the rows already written; batches composed after
// the growth still read every profile's own rows.
TEST_F(ProfilePoolTest, GrowthKeepsEarlierRows) {
  ProfilePool pool(*backbone_->model, *banks_, ProfilePool::Options{1});
  auto first = pool.Insert((*profiles_)[0]);
  std::vector<std::shared_ptr<const PooledProfile>> more;
  for (int i = 0; i < 9; ++i) more.push_back(pool.Insert((*profiles_)[i % 2 ? 1 : 2]));
  auto last = pool.Insert((*profiles_)[3]);
  testing::Tokens two = testing::Encode(*backbone_, {kTexts[0], kTexts[1]});
  auto got = ClassifyPooledBatch(*backbone_->model, pool, {first.get(), last.get()}, {0, 1},
                                 two.ids, two.mask, two.types);
  const std::vector<at::Tensor> want =
      Alone({kTexts[0], kTexts[1]}, {&(*profiles_)[0], &(*profiles_)[3]}, *banks_);
  ExpectClose(got[0], want[0], "first profile");
  ExpectClose(got[1], want[1], "last profile");
}

// On the CPU a batch keeps the X-PEFT adapters it composed, and later
// batches gather them instead of recomposing: same logits either way.
TEST_F(ProfilePoolTest, ComposedXpeftAdaptersAreCachedWithTheSameResults) {
  ProfilePool cached(*backbone_->model, *banks_, ProfilePool::Options{64, 64 << 20});
  ProfilePool uncached(*backbone_->model, *banks_, ProfilePool::Options{64, 0});
  auto hard = cached.Insert((*profiles_)[0]), soft = cached.Insert((*profiles_)[1]);
  auto hard2 = uncached.Insert((*profiles_)[0]), soft2 = uncached.Insert((*profiles_)[1]);
  testing::Tokens three = testing::Encode(*backbone_, {kTexts[0], kTexts[1], kTexts[2]});
  const int64_t before = cached.device_bytes();
  auto first = ClassifyPooledBatch(*backbone_->model, cached, {hard.get(), soft.get()}, {0, 1, 0},
                                   three.ids, three.mask, three.types);
  EXPECT_GT(cached.device_bytes(), before) << "nothing was cached";
  const int64_t after = cached.device_bytes();
  auto again = ClassifyPooledBatch(*backbone_->model, cached, {soft.get(), hard.get()}, {1, 0, 1},
                                   three.ids, three.mask, three.types);
  EXPECT_EQ(cached.device_bytes(), after);
  auto reference = ClassifyPooledBatch(*backbone_->model, uncached, {hard2.get(), soft2.get()},
                                       {0, 1, 0}, three.ids, three.mask, three.types);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(first[i].size(), reference[i].size());
    ASSERT_EQ(again[i].size(), reference[i].size());
    for (size_t c = 0; c < reference[i].size(); ++c) {
      EXPECT_NEAR(first[i][c], reference[i][c], 1e-5) << "row " << i;
      EXPECT_NEAR(again[i][c], reference[i][c], 1e-5) << "row " << i << " from the cache";
    }
  }
}

// Without CUDA (or on the CPU) no graph is captured and the forward runs
// eagerly, with the same results.
TEST_F(ProfilePoolTest, GraphForwardFallsBackToEagerOffCuda) {
  ProfilePool pool(*backbone_->model, *banks_);
  auto p = pool.Insert((*profiles_)[0]);
  CudaGraphForward graphs(*backbone_->model, CudaGraphForward::Options());
  testing::Tokens one = testing::Encode(*backbone_, {kTexts[3]});
  auto eager =
      ClassifyPooledBatch(*backbone_->model, pool, {p.get()}, {0}, one.ids, one.mask, one.types);
  auto with_graphs = ClassifyPooledBatch(*backbone_->model, pool, {p.get()}, {0}, one.ids, one.mask,
                                         one.types, SublayerKernel::kAuto, &graphs);
  EXPECT_EQ(with_graphs, eager);
  EXPECT_EQ(graphs.captured(), 0);
}

TEST_F(ProfilePoolTest, RefusesWhatCompositionRefuses) {
  ProfilePool pool(*backbone_->model, *banks_);
  ProfileData nan_head = (*profiles_)[4];
  nan_head.head_weight[0] = FloatToHalf(std::nanf(""));
  try {
    pool.Insert(nan_head);
    FAIL() << "a NaN head was pooled";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
  }
  ProfileData inf_adapter = (*profiles_)[5];
  inf_adapter.adapter_params[3] = FloatToHalf(INFINITY);
  EXPECT_THROW(pool.Insert(inf_adapter), EngineError);
  ServingBanks other = *banks_;
  other.adapters = std::make_shared<AdapterBank>(
      AdapterBank::Random(banks_->adapters->config(), DeviceSpec(), 99));
  ProfilePool other_pool(*backbone_->model, other);
  try {
    other_pool.Insert((*profiles_)[0]);
    FAIL() << "a profile of another bank was pooled";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  }
  // Soft mask weights are softmax outputs; larger ones could overflow the
  // composition.
  ProfileData soft = (*profiles_)[1];
  soft.mask_weights[0] = FloatToHalf(300.0f);
  try {
    pool.Insert(soft);
    FAIL() << "a soft mask weight of 300 was pooled";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
  }
  EXPECT_EQ(pool.profiles(), 0);
  EXPECT_EQ(other_pool.profiles(), 0);
}

TEST_F(ProfilePoolTest, ABatchRefusesAProfileOfAnotherPool) {
  ProfilePool pool(*backbone_->model, *banks_), other(*backbone_->model, *banks_);
  auto mine = pool.Insert((*profiles_)[0]);
  auto foreign = other.Insert((*profiles_)[0]);
  try {
    pool.ComposeBatch({mine.get(), foreign.get()}, {0, 1});
    FAIL() << "a profile of another pool was composed";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace maskserve
