// File: core/testing/trained_profiles.h
//
// Test fixtures shared by the serving-composition tests: small banks (b = 8)
// for the builtin backbone, one quickly trained profile of every method
// (XPEFT_HARD, XPEFT_SOFT, PROPETL_LAYER, PROPETL_HYBRID, HEAD_ONLY,
// ADAPTER, in that order; 2 or 3 labels; X-PEFT with and without the mid
// norm), tokenised inputs, and a fixture holding them.
#ifndef MASKSERVE_CORE_TESTING_TRAINED_PROFILES_H_
#define MASKSERVE_CORE_TESTING_TRAINED_PROFILES_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/model/backbone.h"
#include "core/peft/serving_banks.h"
#include "core/testing/synthetic_task.h"
#include "core/training/profile_trainer.h"

namespace maskserve::testing {

inline ServingBanks SmallBanks(const BertConfig& c) {
  AdapterBankConfig bank;
  bank.num_layers = c.num_hidden_layers;
  bank.hidden_size = c.hidden_size;
  bank.bottleneck = 8;
  ServingBanks banks;
  banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, DeviceSpec(), 1));
  PrototypeBankConfig proto;
  proto.num_layers = c.num_hidden_layers;
  proto.hidden_size = c.hidden_size;
  proto.bottleneck = 8;
  banks.prototype = std::make_shared<PrototypeBank>(PrototypeBank::Random(proto, DeviceSpec(), 2));
  return banks;
}

inline std::vector<ProfileData> OneProfilePerMethod(const Backbone& backbone,
                                                    const ServingBanks& banks) {
  ProfileTrainer trainer(backbone, banks);
  std::vector<ProfileData> profiles;
  int seed = 0;
  for (Method m : {Method::kXpeftHard, Method::kXpeftSoft, Method::kPropetlLayer,
                   Method::kPropetlHybrid, Method::kHeadOnly, Method::kAdapter}) {
    const int labels = seed % 2 ? 3 : 2;
    std::vector<TrainingExample> examples;
    for (const auto& e : SyntheticTask(24, labels, unsigned(seed))) {
      examples.push_back({e.text, "", e.label});
    }
    TrainingOptions options;
    options.method = m;
    options.epochs = 2;
    options.seed = uint64_t(seed++);
    options.xpeft_layer_norm = m != Method::kXpeftSoft;  // mix with and without the norm
    std::vector<std::string> names = {"x", "y", "z"};
    names.resize(size_t(labels));
    profiles.push_back(trainer.Train(examples, names, options, nullptr, nullptr));
  }
  return profiles;
}

struct Tokens {
  at::Tensor ids, mask, types;
};

inline Tokens Encode(const Backbone& backbone, const std::vector<std::string_view>& texts) {
  BatchEncoding enc = backbone.tokenizer->EncodeBatch(texts);
  auto t = [&](std::vector<int64_t>& v) {
    return at::from_blob(v.data(), {enc.batch_size, enc.seq_len}, at::kLong).clone();
  };
  return {t(enc.input_ids), t(enc.attention_mask), t(enc.token_type_ids)};
}

// A fixture holding the builtin backbone, SmallBanks and
// OneProfilePerMethod, built once per test suite.
class TrainedProfilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backbone_ = new Backbone(BuiltinBackbone(DeviceSpec()));
    banks_ = new ServingBanks(SmallBanks(backbone_->model->config()));
    profiles_ = new std::vector<ProfileData>(OneProfilePerMethod(*backbone_, *banks_));
  }
  static void TearDownTestSuite() {
    delete backbone_;
    delete banks_;
    delete profiles_;
    backbone_ = nullptr;
    banks_ = nullptr;
    profiles_ = nullptr;
  }

  inline static Backbone* backbone_ = nullptr;
  inline static ServingBanks* banks_ = nullptr;
  inline static std::vector<ProfileData>* profiles_ = nullptr;
};

}  // namespace maskserve::testing

#endif  // MASKSERVE_CORE_TESTING_TRAINED_PROFILES_H_
