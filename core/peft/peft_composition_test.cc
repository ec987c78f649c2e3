#include "core/peft/peft_composition.h"

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

AdapterBank SmallBank() {
  AdapterBankConfig c;
  c.num_layers = 2;
  c.hidden_size = 8;
  c.bottleneck = 3;
  c.num_adapters = 10;
  c.top_k = 4;
  return AdapterBank::Random(c, DeviceSpec(), 5);
}

TEST(XpeftMaskTest, HardMaskHasExactlyKEntriesOfOneOverK) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  at::Tensor logits = at::randn({3, 10}, gen);
  at::Tensor mask = XpeftHardMask(logits, 4);
  EXPECT_TRUE(at::equal(mask.ne(0).sum(1), at::full({3}, 4, at::kLong)));
  EXPECT_TRUE(at::allclose(mask.sum(1), at::ones({3})));
  // The selected entries are the top-4 logits.
  at::Tensor top = std::get<1>(logits.topk(4, 1));
  EXPECT_TRUE(at::equal(mask.gather(1, top), at::full({3, 4}, 0.25)));
}

TEST(XpeftMaskTest, GumbelStraightThroughIsKHotForwardAndPassesGradients) {
  at::Generator gen = at::detail::createCPUGenerator(2);
  at::Tensor logits = at::randn({2, 10}, gen).set_requires_grad(true);
  at::Tensor mask = XpeftGumbelMask(logits, 4, 1.0, 0.5, gen);
  EXPECT_TRUE(at::equal(mask.detach().ne(0).sum(1), at::full({2}, 4, at::kLong)));
  at::Tensor weights = at::arange(10, at::kFloat);
  (mask * weights).sum().backward();
  ASSERT_TRUE(logits.grad().defined());
  EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0);
}

TEST(XpeftComposeTest, EqualsTheWeightedSumOfBankAdapters) {
  AdapterBank bank = SmallBank();
  at::Generator gen = at::detail::createCPUGenerator(3);
  at::Tensor mask_a = at::softmax(at::randn({2, 1, 10}, gen), -1);
  at::Tensor mask_b = XpeftHardMask(at::randn({2, 1, 10}, gen), 4);
  AdapterStack s = ComposeXpeft(mask_a, mask_b, bank);
  const int64_t d = 8, b = 3;
  for (int64_t l = 0; l < 2; ++l) {
    at::Tensor down = at::zeros({d, b}), up = at::zeros({b, d});
    for (int64_t i = 0; i < 10; ++i) {
      down += mask_a[l][0][i] * bank.down_cat()[l][i].narrow(0, 0, d * b).view({d, b});
      up += mask_b[l][0][i] * bank.up_cat()[l][i].narrow(0, 0, b * d).view({b, d});
    }
    EXPECT_TRUE(at::allclose(s.down[l][0], down, 1e-6, 1e-6));
    EXPECT_TRUE(at::allclose(s.up[l][0], up, 1e-6, 1e-6));
  }
}

TEST(PropetlMaskTest, KeepsExactCountOfLargestMagnitudes) {
  at::Tensor scores = at::tensor({0.5f, -0.9f, 0.1f, -0.2f, 0.3f, 0.05f, -0.7f}, at::kFloat);
  // numel - floor((1 - k) * numel) = 7 - floor(0.7 * 7) = 7 - 4 = 3.
  at::Tensor mask = TopFractionMask(scores, 0.3);
  EXPECT_TRUE(at::equal(mask, at::tensor({1.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f})));
  EXPECT_EQ(TopFractionMask(at::randn({10, 10}), 0.5).sum().item<double>(), 50.0);
}

TEST(PropetlMaskTest, SliceDimsApplyTheRuleToEachSliceSeparately) {
  // Layer 0 holds all the large scores: a joint top-50% would keep none of
  // layer 1.
  at::Tensor scores = at::stack({at::full({4, 5}, 10.0f) + at::rand({4, 5}), at::rand({4, 5})});
  at::Tensor mask = TopFractionMask(scores, 0.5, 1);
  EXPECT_EQ(mask[0].sum().item<double>(), 10.0);
  EXPECT_EQ(mask[1].sum().item<double>(), 10.0);
  EXPECT_EQ(TopFractionMask(scores, 0.5)[1].sum().item<double>(), 0.0);
  EXPECT_TRUE(at::equal(PropetlMask(scores, 0.5, 1).detach(), mask));
  EXPECT_THROW(TopFractionMask(scores, 0.5, 3), EngineError);
}

TEST(PropetlMaskTest, StraightThroughGradientIsMaskGradTimesSign) {
  at::Tensor scores = at::tensor({0.5f, -0.9f, 0.1f, -0.2f}, at::kFloat).set_requires_grad(true);
  at::Tensor mask = PropetlMask(scores, 0.5);
  EXPECT_TRUE(at::equal(mask.detach(), at::tensor({1.f, 1.f, 0.f, 0.f})));
  at::Tensor upstream = at::tensor({1.f, 2.f, 3.f, 4.f});
  (mask * upstream).sum().backward();
  EXPECT_TRUE(at::equal(scores.grad(), at::tensor({1.f, -2.f, 3.f, -4.f})));
}

TEST(PropetlComposeTest, MasksWeightsButNeverBiases) {
  PrototypeBankConfig c;
  c.num_layers = 2;
  c.hidden_size = 6;
  c.bottleneck = 2;
  PrototypeBank proto = PrototypeBank::Random(c, DeviceSpec(), 4);
  at::Tensor down_masks = at::zeros({2, 1, 6, 2});
  at::Tensor up_masks = at::ones({2, 1, 2, 6});
  AdapterStack s = ComposePropetl(down_masks, up_masks, proto);
  EXPECT_EQ(s.down.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(at::equal(s.up[1][0], proto.up()));
  EXPECT_TRUE(at::equal(s.down_bias[0][0], proto.down_bias()));
  // Hybrid OR: the shared layer masks have the configured density.
  EXPECT_NEAR(proto.layer_down_masks().mean().item<double>(), 0.3, 0.1);
  EXPECT_TRUE(at::equal(MaskOr(at::tensor({0.f, 1.f, 0.f}), at::tensor({0.f, 0.f, 1.f})),
                        at::tensor({0.f, 1.f, 1.f})));
}

TEST(BankTest, SaveLoadKeepsTheFingerprint) {
  AdapterBank bank = SmallBank();
  const std::string path = ::testing::TempDir() + "/bank.safetensors";
  bank.Save(path);
  AdapterBank loaded = AdapterBank::Load(path, DeviceSpec());
  EXPECT_EQ(loaded.fingerprint(), bank.fingerprint());
  EXPECT_TRUE(loaded.warm());
  EXPECT_TRUE(at::equal(loaded.down_cat(), bank.down_cat()));
  EXPECT_NE(AdapterBank::Random(bank.config(), DeviceSpec(), 6).fingerprint(), bank.fingerprint());

  PrototypeBankConfig pc;
  pc.num_layers = 2;
  pc.hidden_size = 6;
  pc.bottleneck = 2;
  PrototypeBank proto = PrototypeBank::Random(pc, DeviceSpec(), 4);
  proto.Save(path);
  EXPECT_EQ(PrototypeBank::Load(path, DeviceSpec()).fingerprint(), proto.fingerprint());
  EXPECT_THROW(AdapterBank::Load(path, DeviceSpec()), EngineError);  // wrong kind
}

}  // namespace
}  // namespace maskserve
