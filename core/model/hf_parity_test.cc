// Parity with HuggingFace: the tiny HF checkpoint loaded through the real
// HF-directory loader and tokenizer must reproduce BertModel's outputs
// recorded in ../shared/data/hf_parity (transformers 5.17, fp32, CPU).
#include <ATen/ATen.h>

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/io/safetensors.h"
#include "core/model/backbone.h"

namespace maskserve {
namespace {

const std::string kParityDir = std::string(MASKSERVE_SHARED_DIR) + "/data/hf_parity";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

#define SKIP_WITHOUT_SHARED_DATA()                                         \
  if (!Exists(kParityDir + "/tiny_bert_encoder_golden.safetensors")) {     \
    GTEST_SKIP() << "HF parity fixtures not found under " << kParityDir    \
                 << " (../shared is absent in a user's clone; CI has it)"; \
  }

class HfParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!Exists(kParityDir + "/tiny_bert_encoder_golden.safetensors")) return;
    backbone_ = new Backbone(LoadHfBackbone(kParityDir + "/tiny-bert-random", DeviceSpec()));
    golden_ = new SafetensorsReader(
        SafetensorsReader::Open(kParityDir + "/tiny_bert_encoder_golden.safetensors"));
  }
  static void TearDownTestSuite() {
    delete backbone_;
    delete golden_;
    backbone_ = nullptr;
    golden_ = nullptr;
  }
  static Backbone* backbone_;
  static SafetensorsReader* golden_;
};

Backbone* HfParityTest::backbone_ = nullptr;
SafetensorsReader* HfParityTest::golden_ = nullptr;

TEST_F(HfParityTest, LoaderReadsTheConfig) {
  SKIP_WITHOUT_SHARED_DATA();
  const BertConfig& c = backbone_->model->config();
  EXPECT_EQ(c.name, "tiny-bert-random");
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.hidden_size, 128);
  EXPECT_EQ(c.num_attention_heads, 2);
  EXPECT_EQ(c.intermediate_size, 512);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(backbone_->tokenizer->vocab().size(), 30522);
}

TEST_F(HfParityTest, TokenizerReproducesTheGoldenInputs) {
  SKIP_WITHOUT_SHARED_DATA();
  const std::string texts_path = kParityDir + "/encoder_golden_texts.json";
  JsonValue doc = JsonValue::Parse(ReadFileBytes(texts_path), texts_path);
  std::vector<std::string_view> firsts, seconds;
  for (const JsonValue& t : doc.At("texts").items()) firsts.push_back(t.AsString());
  const size_t singles = firsts.size();
  std::vector<std::string_view> pair_firsts, pair_seconds;
  for (const JsonValue& p : doc.At("pairs").items()) {
    pair_firsts.push_back(p[0].AsString());
    pair_seconds.push_back(p[1].AsString());
  }
  EncodeOptions options;
  options.max_length = doc.GetInt64("max_length");
  options.padding = Padding::kMaxLength;
  BatchEncoding single = backbone_->tokenizer->EncodeBatch(firsts, options);
  BatchEncoding pairs = backbone_->tokenizer->EncodePairBatch(pair_firsts, pair_seconds, options);

  at::Tensor ids = golden_->Load("input_ids").to(at::kLong);
  at::Tensor mask = golden_->Load("attention_mask").to(at::kLong);
  at::Tensor types = golden_->Load("token_type_ids").to(at::kLong);
  auto as_tensor = [](std::vector<int64_t>& v, int64_t rows, int64_t cols) {
    return at::from_blob(v.data(), {rows, cols}, at::kLong).clone();
  };
  at::Tensor got_ids = at::cat({as_tensor(single.input_ids, single.batch_size, single.seq_len),
                                as_tensor(pairs.input_ids, pairs.batch_size, pairs.seq_len)});
  at::Tensor got_types =
      at::cat({as_tensor(single.token_type_ids, single.batch_size, single.seq_len),
               as_tensor(pairs.token_type_ids, pairs.batch_size, pairs.seq_len)});
  at::Tensor got_mask =
      at::cat({as_tensor(single.attention_mask, single.batch_size, single.seq_len),
               as_tensor(pairs.attention_mask, pairs.batch_size, pairs.seq_len)});
  ASSERT_EQ(int64_t(singles + pair_firsts.size()), ids.size(0));
  EXPECT_TRUE(at::equal(got_ids, ids));
  EXPECT_TRUE(at::equal(got_types, types));
  EXPECT_TRUE(at::equal(got_mask, mask));
}

TEST_F(HfParityTest, EncoderMatchesHuggingFaceWithin1e4) {
  SKIP_WITHOUT_SHARED_DATA();
  at::Tensor ids = golden_->Load("input_ids").to(at::kLong);
  at::Tensor mask = golden_->Load("attention_mask").to(at::kLong);
  at::Tensor types = golden_->Load("token_type_ids").to(at::kLong);
  at::Tensor expected_hidden = golden_->Load("last_hidden_state").to(at::kFloat);
  at::Tensor expected_pooled = golden_->Load("pooler_output").to(at::kFloat);
  BertOutput out = backbone_->model->Forward(ids, mask, types);
  ASSERT_EQ(out.last_hidden_state.sizes(), expected_hidden.sizes());
  // Padding positions are compared too: HF computes them the same way.
  const double hidden_err = (out.last_hidden_state - expected_hidden).abs().max().item<double>();
  const double pooled_err = (out.pooled - expected_pooled).abs().max().item<double>();
  EXPECT_LT(hidden_err, 1e-4);
  EXPECT_LT(pooled_err, 1e-4);
  RecordProperty("max_abs_error_hidden", std::to_string(hidden_err));
  RecordProperty("max_abs_error_pooled", std::to_string(pooled_err));
}

}  // namespace
}  // namespace maskserve
