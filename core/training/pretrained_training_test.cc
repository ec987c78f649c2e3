// Training on small data with the default pretrained backbone
// (all-MiniLM-L6-v2): a profile trained with default options on 24 SST-2
// sentences must reproduce at least 22 of its own training labels, scored
// through the serving path (codec -> ComposeProfile -> ClassifyMixedBatch),
// with every method; with so few examples nothing is held out. Skips, saying
// why, when the model or ../shared/data is absent.
#include <ATen/ATen.h>

#include <sys/stat.h>

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/benchmarks/benchmark_eval.h"
#include "core/benchmarks/eval_datasets.h"
#include "core/model/backbone.h"
#include "core/peft/mixed_batch.h"
#include "core/training/profile_trainer.h"

namespace maskserve {
namespace {

const std::string kModelDir = MASKSERVE_DEFAULT_MODEL_DIR;
const std::string kSst2Train = std::string(MASKSERVE_SHARED_DIR) + "/data/glue/SST-2/train.tsv";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class PretrainedTrainingTest : public ::testing::TestWithParam<Method> {
 protected:
  static void SetUpTestSuite() {
    if (!Exists(kModelDir + "/model.safetensors") || !Exists(kSst2Train)) return;
    backbone_ = new Backbone(LoadHfBackbone(kModelDir, DeviceSpec()));
    const BertConfig& c = backbone_->model->config();
    banks_ = new ServingBanks();
    AdapterBankConfig bank;
    bank.num_layers = c.num_hidden_layers;
    bank.hidden_size = c.hidden_size;
    bank.bottleneck = c.hidden_size / 16;
    bank.num_adapters = 100;
    bank.top_k = 50;
    banks_->adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, DeviceSpec(), 1234));
    PrototypeBankConfig proto;
    proto.num_layers = c.num_hidden_layers;
    proto.hidden_size = c.hidden_size;
    proto.bottleneck = c.hidden_size / 16;
    banks_->prototype =
        std::make_shared<PrototypeBank>(PrototypeBank::Random(proto, DeviceSpec(), 1235));
    LabelledExamples sst2 = ReadSst2(kSst2Train);
    labels_ = new std::vector<std::string>(sst2.labels);
    examples_ = new std::vector<TrainingExample>(
        BalancedSubsample(sst2.examples, int64_t(sst2.labels.size()), 24, /*seed=*/1));
  }
  static void TearDownTestSuite() {
    delete backbone_;
    delete banks_;
    delete labels_;
    delete examples_;
    backbone_ = nullptr;
  }

  // Labels the served profile gives its training examples that are right
  // (codec -> ComposeProfile -> ClassifyMixedBatch).
  static int64_t ServedCorrect(const ProfileData& profile) {
    const EvalResult served = ScoreServedProfile(*backbone_, *banks_, profile, *examples_, 128);
    return std::llround(served.accuracy * double(examples_->size()));
  }

  static Backbone* backbone_;
  static ServingBanks* banks_;
  static std::vector<std::string>* labels_;
  static std::vector<TrainingExample>* examples_;
};

Backbone* PretrainedTrainingTest::backbone_ = nullptr;
ServingBanks* PretrainedTrainingTest::banks_ = nullptr;
std::vector<std::string>* PretrainedTrainingTest::labels_ = nullptr;
std::vector<TrainingExample>* PretrainedTrainingTest::examples_ = nullptr;

TEST_P(PretrainedTrainingTest, FitsTwentyFourSst2SentencesWithDefaultOptions) {
  if (backbone_ == nullptr) {
    GTEST_SKIP() << "needs the pretrained model at " << kModelDir
                 << " (./scripts/fetch_model.sh) and " << kSst2Train << " (../shared)";
  }
  TrainingOptions options;  // every default
  options.method = GetParam();
  ProfileTrainer trainer(*backbone_, *banks_);
  ProfileData profile = trainer.Train(*examples_, *labels_, options, nullptr, nullptr);
  EXPECT_EQ(profile.metrics.validation_examples, 0u) << "24 examples are too few to hold out";
  EXPECT_EQ(profile.metrics.train_examples, 24u);
  const int64_t correct = ServedCorrect(profile);
  EXPECT_GE(correct, 22) << MethodName(GetParam());
  // The reported training accuracy is the served one.
  EXPECT_NEAR(profile.metrics.train_accuracy, double(correct) / 24.0, 1e-6);
  RecordProperty("served_correct_of_24", std::to_string(correct));
}

INSTANTIATE_TEST_SUITE_P(AllMethods, PretrainedTrainingTest,
                         ::testing::Values(Method::kHeadOnly, Method::kAdapter, Method::kXpeftHard,
                                           Method::kXpeftSoft, Method::kPropetlLayer,
                                           Method::kPropetlHybrid),
                         [](const ::testing::TestParamInfo<Method>& info) {
                           return std::string(MethodName(info.param));
                         });

}  // namespace
}  // namespace maskserve
