// Bank building on a synthetic multi-task corpus with the built-in backbone:
// the built banks are warm, learn the corpus, serve per-profile training and
// survive a save/load round trip.
#include "core/training/bank_builder.h"

#include <ATen/ATen.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/peft/mixed_batch.h"
#include "core/peft/shared_heads.h"
#include "core/profile/profile_codec.h"
#include "core/testing/synthetic_task.h"
#include "core/training/encoded_examples.h"
#include "core/training/profile_trainer.h"

namespace maskserve {
namespace {

using maskserve::testing::SyntheticTask;

std::vector<TrainingExample> Examples(int count, unsigned seed) {
  std::vector<TrainingExample> out;
  for (const auto& e : SyntheticTask(count, 3, seed)) out.push_back({e.text, "", e.label});
  return out;
}

BankCorpus Corpus(int tasks, int per_task) {
  BankCorpus corpus;
  corpus.labels = {"positive", "negative", "music"};
  for (int t = 0; t < tasks; ++t) {
    corpus.task_names.push_back("task" + std::to_string(t));
    corpus.tasks.push_back(Examples(per_task, 100 + unsigned(t)));
  }
  return corpus;
}

class BankBuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { backbone_ = new Backbone(BuiltinBackbone(DeviceSpec())); }
  static void TearDownTestSuite() { delete backbone_; }

  static AdapterBankConfig BankConfig(int64_t adapters) {
    const BertConfig& c = backbone_->model->config();
    AdapterBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = c.hidden_size / 16;
    config.num_adapters = adapters;
    config.top_k = 2;
    return config;
  }
  static PrototypeBankConfig ProtoConfig() {
    const BertConfig& c = backbone_->model->config();
    PrototypeBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = c.hidden_size / 16;
    return config;
  }
  static BankBuildOptions Options() {
    BankBuildOptions options;
    options.epochs = 4;
    options.batch_size = 16;
    options.weight_learning_rate = 3e-3;
    options.validation_fraction = 0.2;
    options.seed = 5;
    return options;
  }

  static Backbone* backbone_;
};

Backbone* BankBuilderTest::backbone_ = nullptr;

TEST_F(BankBuilderTest, WarmAdapterBankTrainsOneAdapterPerTaskAndLeavesTheRestRandom) {
  const AdapterBankConfig config = BankConfig(4);
  int64_t steps = 0;
  BuiltAdapterBank built = BuildWarmAdapterBank(
      *backbone_, Corpus(3, 60), config, Options(),
      [&](const BankBuildProgress& p) { steps = p.step; }, nullptr);
  const AdapterBank random = AdapterBank::Random(config, DeviceSpec(), Options().seed);

  EXPECT_TRUE(built.bank.warm());
  EXPECT_NE(built.bank.fingerprint(), random.fingerprint());
  EXPECT_EQ(built.report.trained_adapters, 3);
  EXPECT_EQ(built.report.tasks, 3);
  EXPECT_EQ(built.report.train_examples + built.report.validation_examples, 180);
  EXPECT_GT(steps, 0);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(at::allclose(built.bank.down_cat().select(1, i), random.down_cat().select(1, i)))
        << "adapter " << i << " was not trained";
  }
  EXPECT_TRUE(at::equal(built.bank.down_cat().select(1, 3), random.down_cat().select(1, 3)));
  EXPECT_TRUE(at::equal(built.bank.up_cat().select(1, 3), random.up_cat().select(1, 3)));

  ASSERT_TRUE(built.report.validation.has_value());
  EXPECT_GT(built.report.validation->accuracy, 0.9);
  EXPECT_EQ(built.head.labels.size(), 3u);
  EXPECT_EQ(built.head.weight.sizes(), (at::IntArrayRef{3, config.hidden_size}));
  EXPECT_EQ(built.head.bias.sizes(), (at::IntArrayRef{3}));

  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "warm_bank.safetensors").string();
  built.bank.Save(path);
  AdapterBank loaded = AdapterBank::Load(path, DeviceSpec());
  EXPECT_EQ(loaded.fingerprint(), built.bank.fingerprint());
  EXPECT_TRUE(loaded.warm());
}

// X-PEFT "warm": a new profile fits only its masks over the built bank and
// reuses the head trained with it; it stores no head and serves through the
// shared head's tensors.
TEST_F(BankBuilderTest, WarmBankWithSharedHeadServesMaskOnlyProfiles) {
  const std::vector<std::string> labels = {"positive", "negative", "music"};
  BuiltAdapterBank built =
      BuildWarmAdapterBank(*backbone_, Corpus(3, 60), BankConfig(4), Options(), nullptr, nullptr);
  auto heads = std::make_shared<SharedHeadSet>(backbone_->model->fingerprint());
  heads->Add("synthetic", built.head.labels, built.head.weight, built.head.bias);
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "heads.safetensors").string();
  heads->Save(path);
  auto loaded = std::make_shared<SharedHeadSet>(SharedHeadSet::Load(path));
  loaded->Place(DeviceSpec());

  ServingBanks banks;
  banks.adapters = std::make_shared<AdapterBank>(built.bank);
  banks.heads = loaded;
  ProfileTrainer trainer(*backbone_, banks);
  TrainingOptions options;
  options.method = Method::kXpeftHard;
  options.xpeft_top_k = 2;
  options.epochs = 20;
  options.seed = 4;
  options.validation_fraction = 0.2;  // 60 examples: none held out by default
  options.shared_head = "synthetic";
  const std::vector<TrainingExample> train = Examples(60, 901);
  ProfileData profile = trainer.Train(train, labels, options, nullptr, nullptr);
  EXPECT_EQ(profile.shared_head, "synthetic");
  EXPECT_EQ(profile.shared_head_fingerprint, loaded->Find("synthetic")->fingerprint);
  EXPECT_TRUE(profile.head_weight.empty());
  EXPECT_EQ(MeasureProfile(profile).head, 0u);
  EXPECT_GT(profile.metrics.validation_accuracy, 0.9);

  ComposedProfile composed =
      ComposeProfile(DecodeProfile(EncodeProfile(profile)), *backbone_->model, banks);
  EXPECT_TRUE(composed.head_is_shared);
  EXPECT_TRUE(composed.head_weight.is_same(loaded->Find("synthetic")->weight));
  const std::vector<TrainingExample> test = Examples(60, 902);
  EncodedExamples set(*backbone_->tokenizer, test, 3, 128);
  std::vector<int64_t> rows(test.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int64_t(i);
  ExampleBatch batch = set.Batch(rows, at::kCPU);
  std::vector<at::Tensor> logits =
      ClassifyMixedBatch(*backbone_->model, {&composed}, std::vector<int64_t>(rows.size(), 0),
                         batch.ids, batch.mask, batch.types);
  int correct = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    correct += logits[i].argmax().item<int64_t>() == test[i].label;
  EXPECT_GT(double(correct) / double(test.size()), 0.9)
      << "validation " << profile.metrics.validation_accuracy << ", bank validation "
      << built.report.validation->accuracy;

  // Served elsewhere without the head, or with another head of that name.
  ServingBanks without = banks;
  without.heads = nullptr;
  try {
    ComposeProfile(profile, *backbone_->model, without);
    FAIL() << "served without its shared head";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("synthetic"), std::string::npos) << e.what();
  }
  ServingBanks changed = banks;
  auto other = std::make_shared<SharedHeadSet>(backbone_->model->fingerprint());
  other->Add("synthetic", labels, built.head.weight + 1, built.head.bias);
  changed.heads = other;
  try {
    ComposeProfile(profile, *backbone_->model, changed);
    FAIL() << "served with a changed shared head";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  }
}

TEST_F(BankBuilderTest, SharedHeadTrainingRefusesUnknownHeadsOtherLabelsAndHeadOnly) {
  ServingBanks banks;
  banks.adapters =
      std::make_shared<AdapterBank>(AdapterBank::Random(BankConfig(4), DeviceSpec(), 1));
  auto heads = std::make_shared<SharedHeadSet>(backbone_->model->fingerprint());
  heads->Add("h", {"positive", "negative", "music"},
             at::zeros({3, backbone_->model->config().hidden_size}), at::zeros({3}));
  banks.heads = heads;
  ProfileTrainer trainer(*backbone_, banks);
  TrainingOptions options;
  options.xpeft_top_k = 2;
  options.epochs = 1;
  auto error_of = [&](const std::vector<std::string>& labels, TrainingOptions o) {
    try {
      trainer.Train(Examples(12, 903), labels, o, nullptr, nullptr);
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  options.shared_head = "missing";
  EXPECT_EQ(error_of({"positive", "negative", "music"}, options).rfind("shared_head:", 0), 0u);
  options.shared_head = "h";
  EXPECT_EQ(error_of({"negative", "positive", "music"}, options).rfind("label_names:", 0), 0u);
  options.method = Method::kHeadOnly;
  EXPECT_EQ(error_of({"positive", "negative", "music"}, options).rfind("shared_head:", 0), 0u);
}

TEST_F(BankBuilderTest, MoreTasksThanAdaptersShareAdapters) {
  BuiltAdapterBank built =
      BuildWarmAdapterBank(*backbone_, Corpus(5, 20), BankConfig(2), Options(), nullptr, nullptr);
  EXPECT_EQ(built.report.trained_adapters, 2);
  EXPECT_EQ(built.report.tasks, 5);
}

TEST_F(BankBuilderTest, BuildingIsDeterministicForASeed) {
  BankBuildOptions options = Options();
  options.epochs = 1;
  const BankCorpus corpus = Corpus(2, 20);
  BuiltAdapterBank a =
      BuildWarmAdapterBank(*backbone_, corpus, BankConfig(2), options, nullptr, nullptr);
  BuiltAdapterBank b =
      BuildWarmAdapterBank(*backbone_, corpus, BankConfig(2), options, nullptr, nullptr);
  EXPECT_EQ(a.bank.fingerprint(), b.bank.fingerprint());
  options.seed += 1;
  BuiltAdapterBank c =
      BuildWarmAdapterBank(*backbone_, corpus, BankConfig(2), options, nullptr, nullptr);
  EXPECT_NE(a.bank.fingerprint(), c.bank.fingerprint());
}

TEST_F(BankBuilderTest, PrototypeLearnsTheCorpusWithExactLayerMaskDensity) {
  const PrototypeBankConfig config = ProtoConfig();
  BuiltPrototype built =
      BuildPrototype(*backbone_, Corpus(3, 60), config, Options(), nullptr, nullptr);
  const PrototypeBank random = PrototypeBank::Random(config, DeviceSpec(), Options().seed);
  EXPECT_TRUE(built.prototype.warm());
  EXPECT_NE(built.prototype.fingerprint(), random.fingerprint());
  EXPECT_FALSE(at::allclose(built.prototype.down(), random.down()));
  ASSERT_TRUE(built.report.validation.has_value());
  EXPECT_GT(built.report.validation->accuracy, 0.9);

  // Each layer's mask keeps exactly numel - floor(0.7 * numel) weights.
  const int64_t numel = config.hidden_size * config.bottleneck;
  const double keep = double(numel - int64_t(std::floor(0.7 * double(numel))));
  for (int64_t l = 0; l < config.num_layers; ++l) {
    EXPECT_EQ(built.prototype.layer_down_masks()[l].sum().item<double>(), keep) << "layer " << l;
    EXPECT_EQ(built.prototype.layer_up_masks()[l].sum().item<double>(), keep) << "layer " << l;
  }

  // A new profile trains its task mask against the built prototype.
  ServingBanks banks;
  banks.prototype = std::make_shared<PrototypeBank>(built.prototype);
  ProfileTrainer trainer(*backbone_, banks);
  TrainingOptions options;
  options.method = Method::kPropetlHybrid;
  options.epochs = 10;
  options.seed = 3;
  options.validation_fraction = 0.2;  // 60 examples: none held out by default
  ProfileData profile = trainer.Train(Examples(60, 900), {"positive", "negative", "music"}, options,
                                      nullptr, nullptr);
  EXPECT_EQ(profile.bank_fingerprint, built.prototype.fingerprint());
  EXPECT_GT(profile.metrics.validation_accuracy, 0.9);
}

TEST_F(BankBuilderTest, RefusesBadCorpusOptionsAndShapes) {
  BankCorpus corpus = Corpus(2, 10);
  corpus.tasks[1].clear();
  try {
    BuildWarmAdapterBank(*backbone_, corpus, BankConfig(2), Options(), nullptr, nullptr);
    FAIL() << "empty task accepted";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("corpus.tasks[1]"), std::string::npos) << e.what();
  }
  corpus = Corpus(2, 10);
  corpus.tasks[0][3].label = 7;
  EXPECT_THROW(BuildPrototype(*backbone_, corpus, ProtoConfig(), Options(), nullptr, nullptr),
               EngineError);

  BankBuildOptions options = Options();
  options.epochs = 0;
  try {
    BuildWarmAdapterBank(*backbone_, Corpus(2, 10), BankConfig(2), options, nullptr, nullptr);
    FAIL() << "epochs = 0 accepted";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("epochs"), std::string::npos) << e.what();
  }

  AdapterBankConfig wrong = BankConfig(2);
  wrong.num_layers += 1;
  EXPECT_THROW(BuildWarmAdapterBank(*backbone_, Corpus(2, 10), wrong, Options(), nullptr, nullptr),
               EngineError);
}

TEST_F(BankBuilderTest, CancellationStopsBuilding) {
  int calls = 0;
  try {
    BuildPrototype(*backbone_, Corpus(2, 40), ProtoConfig(), Options(), nullptr,
                   [&] { return ++calls > 2; });
    FAIL() << "not cancelled";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace maskserve
