#include "core/model/bert_model.h"

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/base/json.h"

namespace maskserve {
namespace {

BertConfig SmallConfig() {
  BertConfig c;
  c.name = "test-bert";
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 16;
  return c;
}

struct Batch {
  at::Tensor ids, mask, types;
};

Batch MakeBatch() {
  // Two sequences; the second is padded after 5 tokens.
  Batch b;
  b.ids =
      at::tensor({2, 10, 11, 12, 13, 14, 3, 0, 2, 20, 21, 3, 30, 3, 0, 0}, at::kLong).view({2, 8});
  b.mask = at::tensor({1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 8});
  b.types = at::tensor({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0}, at::kLong).view({2, 8});
  return b;
}

AdapterWeights RandomAdapter(int64_t batch, int64_t d, int64_t bottleneck, int64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  AdapterWeights w;
  w.down = at::normal(0, 0.3, {batch, d, bottleneck}, gen);
  w.down_bias = at::normal(0, 0.3, {batch, bottleneck}, gen);
  w.up = at::normal(0, 0.3, {batch, bottleneck, d}, gen);
  w.up_bias = at::normal(0, 0.3, {batch, d}, gen);
  return w;
}

class BertModelTest : public ::testing::Test {
 protected:
  BertModel model_ = BertModel::Random(SmallConfig(), DeviceSpec(), 7);
};

TEST_F(BertModelTest, OutputShapes) {
  Batch b = MakeBatch();
  BertOutput out = model_.Forward(b.ids, b.mask, b.types);
  EXPECT_EQ(out.last_hidden_state.sizes(), at::IntArrayRef({2, 8, 32}));
  EXPECT_EQ(out.pooled.sizes(), at::IntArrayRef({2, 32}));
  EXPECT_EQ(model_.num_parameters(), 50 * 32 + 16 * 32 + 2 * 32 + 2 * 32 + 32 * 32 + 32 +
                                         2 * (3 * (32 * 32 + 32) + 32 * 32 + 32 + 2 * 32 + 64 * 32 +
                                              64 + 32 * 64 + 32 + 2 * 32));
}

TEST_F(BertModelTest, RandomIsDeterministicPerSeed) {
  BertModel same = BertModel::Random(SmallConfig(), DeviceSpec(), 7);
  BertModel other = BertModel::Random(SmallConfig(), DeviceSpec(), 8);
  EXPECT_EQ(same.fingerprint(), model_.fingerprint());
  EXPECT_NE(other.fingerprint(), model_.fingerprint());
  EXPECT_EQ(model_.fingerprint().size(), 64u);
  Batch b = MakeBatch();
  EXPECT_TRUE(at::equal(same.Forward(b.ids, b.mask, b.types).pooled,
                        model_.Forward(b.ids, b.mask, b.types).pooled));
}

TEST_F(BertModelTest, PaddingDoesNotChangeRealTokens) {
  Batch b = MakeBatch();
  BertOutput padded = model_.Forward(b.ids, b.mask, b.types);
  // The second sequence alone, without its padding.
  BertOutput alone =
      model_.Forward(b.ids.slice(0, 1, 2).slice(1, 0, 6), b.mask.slice(0, 1, 2).slice(1, 0, 6),
                     b.types.slice(0, 1, 2).slice(1, 0, 6));
  EXPECT_TRUE(at::allclose(padded.last_hidden_state.slice(0, 1, 2).slice(1, 0, 6),
                           alone.last_hidden_state, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(padded.pooled.slice(0, 1, 2), alone.pooled, 1e-5, 1e-5));
}

TEST_F(BertModelTest, AdapterWithZeroUpProjectionIsTheStockLayer) {
  Batch b = MakeBatch();
  std::vector<AdapterWeights> adapters;
  for (int l = 0; l < 2; ++l) {
    AdapterWeights w = RandomAdapter(2, 32, 4, 100 + l);
    w.up.zero_();
    w.up_bias.zero_();
    adapters.push_back(w);
  }
  EXPECT_TRUE(at::allclose(model_.Forward(b.ids, b.mask, b.types, &adapters).last_hidden_state,
                           model_.Forward(b.ids, b.mask, b.types).last_hidden_state, 1e-5, 1e-5));
}

TEST_F(BertModelTest, AdapterChangesTheOutput) {
  Batch b = MakeBatch();
  std::vector<AdapterWeights> adapters = {RandomAdapter(2, 32, 4, 1), RandomAdapter(2, 32, 4, 2)};
  EXPECT_FALSE(at::allclose(model_.Forward(b.ids, b.mask, b.types, &adapters).pooled,
                            model_.Forward(b.ids, b.mask, b.types).pooled, 1e-3, 1e-3));
}

TEST_F(BertModelTest, MixedAdapterBatchEqualsEachSequenceAlone) {
  Batch b = MakeBatch();
  std::vector<AdapterWeights> mixed = {RandomAdapter(2, 32, 4, 1), RandomAdapter(2, 32, 4, 2)};
  BertOutput together = model_.Forward(b.ids, b.mask, b.types, &mixed);
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<AdapterWeights> single;
    for (const AdapterWeights& w : mixed) {
      AdapterWeights s;
      s.down = w.down.slice(0, i, i + 1);
      s.down_bias = w.down_bias.slice(0, i, i + 1);
      s.up = w.up.slice(0, i, i + 1);
      s.up_bias = w.up_bias.slice(0, i, i + 1);
      single.push_back(s);
    }
    BertOutput alone = model_.Forward(b.ids.slice(0, i, i + 1), b.mask.slice(0, i, i + 1),
                                      b.types.slice(0, i, i + 1), &single);
    EXPECT_TRUE(at::allclose(together.pooled.slice(0, i, i + 1), alone.pooled, 1e-5, 1e-5))
        << "sequence " << i;
  }
}

TEST(ApplyAdapterTest, EqualsThePfeifferFormula) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  at::Tensor x = at::normal(0, 1, {2, 5, 8}, gen);
  AdapterWeights w = RandomAdapter(2, 8, 3, 4);
  w.mid_norm_weight = at::normal(1, 0.1, {2, 3}, gen);
  w.mid_norm_bias = at::normal(0, 0.1, {2, 3}, gen);
  at::Tensor got = ApplyAdapter(x, w);
  for (int64_t i = 0; i < 2; ++i) {
    at::Tensor h = at::matmul(x[i], w.down[i]) + w.down_bias[i];
    h = at::layer_norm(h, {3}, w.mid_norm_weight[i], w.mid_norm_bias[i], 1e-5);
    at::Tensor expected = at::matmul(at::relu(h), w.up[i]) + w.up_bias[i];
    EXPECT_TRUE(at::allclose(got[i], expected, 1e-5, 1e-5)) << "sequence " << i;
  }
}

TEST(ApplyAdapterTest, SharedWeightsBroadcastOverTheBatch) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  at::Tensor x = at::normal(0, 1, {3, 4, 8}, gen);
  AdapterWeights shared = RandomAdapter(1, 8, 2, 6);
  AdapterWeights expanded = shared;
  expanded.down = shared.down.expand({3, 8, 2}).contiguous();
  expanded.up = shared.up.expand({3, 2, 8}).contiguous();
  expanded.down_bias = shared.down_bias.expand({3, 2}).contiguous();
  expanded.up_bias = shared.up_bias.expand({3, 8}).contiguous();
  EXPECT_TRUE(at::allclose(ApplyAdapter(x, shared), ApplyAdapter(x, expanded)));
}

TEST(ApplyAdapterTest, ShapeMismatchIsAnError) {
  at::Tensor x = at::zeros({2, 4, 8});
  AdapterWeights w = RandomAdapter(2, 6, 2, 1);
  EXPECT_THROW(ApplyAdapter(x, w), EngineError);
}

TEST(BertModelErrorsTest, MissingAndMisshapenTensorsAreNamed) {
  BertConfig c = SmallConfig();
  TensorMap tensors;
  try {
    BertModel::FromTensors(c, tensors, DeviceSpec(), "model.safetensors");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("embeddings.word_embeddings.weight"), std::string::npos);
  }
  tensors["bert.embeddings.word_embeddings.weight"] = at::zeros({49, 32});
  try {
    BertModel::FromTensors(c, tensors, DeviceSpec(), "model.safetensors");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[49,32]"), std::string::npos);
  }
}

TEST(BertPoolingTest, EachPoolingIsWhatItSays) {
  Batch b = MakeBatch();
  BertConfig c = SmallConfig();
  c.pooling = Pooling::kMean;
  BertModel mean = BertModel::Random(c, DeviceSpec(), 7);
  BertOutput out = mean.Forward(b.ids, b.mask, b.types);
  at::Tensor h = out.last_hidden_state;
  // Mean over the attended tokens only: 7 of row 0, 6 of row 1.
  at::Tensor want = at::stack({h[0].slice(0, 0, 7).mean(0), h[1].slice(0, 0, 6).mean(0)});
  EXPECT_TRUE(at::allclose(out.pooled, want, 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(mean.Pool(h, b.mask, Pooling::kCls), h.select(1, 0)));
  at::Tensor pooler = mean.Pool(h, b.mask, Pooling::kPooler);
  EXPECT_LE(pooler.abs().max().item<double>(), 1.0);  // tanh
  EXPECT_FALSE(at::allclose(pooler, h.select(1, 0)));
  // Same weights, other pooling: another fingerprint (heads depend on it).
  BertModel stock = BertModel::Random(SmallConfig(), DeviceSpec(), 7);
  EXPECT_NE(stock.fingerprint(), mean.fingerprint());
  EXPECT_TRUE(at::allclose(stock.Forward(b.ids, b.mask, b.types).pooled, pooler));
}

TEST(BertPoolingTest, PoolerWeightsAreOptionalUnlessPoolingWithThem) {
  BertConfig c = SmallConfig();
  // A full checkpoint but for the pooler.
  TensorMap tensors;
  at::Generator gen = at::detail::createCPUGenerator(5);
  auto normal = [&](std::vector<int64_t> shape) { return at::normal(0, 0.02, shape, gen); };
  const int64_t d = c.hidden_size, ffn = c.intermediate_size;
  tensors["embeddings.word_embeddings.weight"] = normal({c.vocab_size, d});
  tensors["embeddings.position_embeddings.weight"] = normal({c.max_position_embeddings, d});
  tensors["embeddings.token_type_embeddings.weight"] = normal({c.type_vocab_size, d});
  tensors["embeddings.LayerNorm.weight"] = at::ones({d});
  tensors["embeddings.LayerNorm.bias"] = at::zeros({d});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* name : {"attention.self.query", "attention.self.key", "attention.self.value",
                             "attention.output.dense"}) {
      tensors[p + name + ".weight"] = normal({d, d});
      tensors[p + name + ".bias"] = at::zeros({d});
    }
    tensors[p + "intermediate.dense.weight"] = normal({ffn, d});
    tensors[p + "intermediate.dense.bias"] = at::zeros({ffn});
    tensors[p + "output.dense.weight"] = normal({d, ffn});
    tensors[p + "output.dense.bias"] = at::zeros({d});
    for (const char* ln : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      tensors[p + ln + ".weight"] = at::ones({d});
      tensors[p + ln + ".bias"] = at::zeros({d});
    }
  }
  try {
    BertModel::FromTensors(c, tensors, DeviceSpec(), "model.safetensors");
    FAIL() << "pooler pooling without pooler weights";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("pooler.dense.weight"), std::string::npos);
  }
  c.pooling = Pooling::kCls;
  BertModel cls = BertModel::FromTensors(c, tensors, DeviceSpec(), "model.safetensors");
  EXPECT_FALSE(cls.has_pooler());
  Batch b = MakeBatch();
  BertOutput out = cls.Forward(b.ids, b.mask, b.types);
  EXPECT_TRUE(at::equal(out.pooled, out.last_hidden_state.select(1, 0)));
  try {
    cls.Pool(out.last_hidden_state, b.mask, Pooling::kPooler);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  }
}

TEST(BertPoolingTest, NamesAndSentenceTransformersConfigsParse) {
  for (Pooling p : {Pooling::kPooler, Pooling::kCls, Pooling::kMean}) {
    EXPECT_EQ(ParsePooling(PoolingName(p), "pooling"), p);
  }
  EXPECT_FALSE(ParsePoolingOverride("", "pooling").has_value());
  try {
    ParsePooling("max", "pooling");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("pooling: 'max'"), std::string::npos);
  }
  auto parse = [](const std::string& json) {
    return ParseSentenceTransformersPooling(JsonValue::Parse(json, "p.json"), "p.json");
  };
  EXPECT_EQ(parse(R"({"word_embedding_dimension": 384, "pooling_mode_cls_token": false,
                      "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false})"),
            Pooling::kMean);
  EXPECT_EQ(parse(R"({"pooling_mode_cls_token": true})"), Pooling::kCls);
  for (const char* bad : {R"({"pooling_mode_max_tokens": true})",
                          R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})",
                          R"({})", R"({"pooling_mode_mean_tokens": 1})", R"([])"}) {
    try {
      parse(bad);
      FAIL() << bad;
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find("p.json"), std::string::npos) << bad;
    }
  }
}

TEST(BertModelErrorsTest, TooLongInputIsRejected) {
  BertModel model = BertModel::Random(SmallConfig(), DeviceSpec(), 1);
  at::Tensor ids = at::zeros({1, 17}, at::kLong);
  EXPECT_THROW(model.Forward(ids, at::ones_like(ids), at::zeros_like(ids)), EngineError);
}

}  // namespace
}  // namespace maskserve

namespace maskserve {
namespace {

// The adapter insertion point against a hand-written reference of one BERT
// layer with a Pfeiffer adapter: x = LN(h + r); a = adapter(x);
// out = LN(a + h + r), the layer's own output LayerNorm used both times.
TEST(AdapterInsertionTest, EqualsTheReferencePfeifferLayer) {
  BertConfig c = SmallConfig();
  c.num_hidden_layers = 1;
  at::Generator gen = at::detail::createCPUGenerator(11);
  auto rnd = [&](std::vector<int64_t> shape, double std = 0.2) {
    return at::normal(0, std, shape, gen);
  };
  const int64_t d = c.hidden_size, ffn = c.intermediate_size;
  TensorMap w;
  w["embeddings.word_embeddings.weight"] = rnd({c.vocab_size, d});
  w["embeddings.position_embeddings.weight"] = rnd({c.max_position_embeddings, d});
  w["embeddings.token_type_embeddings.weight"] = rnd({2, d});
  w["embeddings.LayerNorm.weight"] = 1 + rnd({d}, 0.1);
  w["embeddings.LayerNorm.bias"] = rnd({d}, 0.1);
  const std::string p = "encoder.layer.0.";
  for (const char* name : {"attention.self.query", "attention.self.key", "attention.self.value",
                           "attention.output.dense"}) {
    w[p + name + ".weight"] = rnd({d, d});
    w[p + name + ".bias"] = rnd({d});
  }
  w[p + "attention.output.LayerNorm.weight"] = 1 + rnd({d}, 0.1);
  w[p + "attention.output.LayerNorm.bias"] = rnd({d}, 0.1);
  w[p + "intermediate.dense.weight"] = rnd({ffn, d});
  w[p + "intermediate.dense.bias"] = rnd({ffn});
  w[p + "output.dense.weight"] = rnd({d, ffn});
  w[p + "output.dense.bias"] = rnd({d});
  w[p + "output.LayerNorm.weight"] = 1 + rnd({d}, 0.1);
  w[p + "output.LayerNorm.bias"] = rnd({d}, 0.1);
  w["pooler.dense.weight"] = rnd({d, d});
  w["pooler.dense.bias"] = rnd({d});
  BertModel model = BertModel::FromTensors(c, w, DeviceSpec(), "test");

  at::Tensor ids = at::tensor({2, 7, 8, 9, 3}, at::kLong).view({1, 5});
  at::Tensor mask = at::ones({1, 5}, at::kLong);
  at::Tensor types = at::zeros({1, 5}, at::kLong);
  AdapterWeights adapter = RandomAdapter(1, d, 4, 12);
  std::vector<AdapterWeights> adapters = {adapter};
  at::Tensor got = model.Forward(ids, mask, types, &adapters).last_hidden_state[0];

  // Reference, written out step by step for one unpadded sequence.
  auto ln = [&](const at::Tensor& x, const std::string& name) {
    return at::layer_norm(x, {d}, w[name + ".weight"], w[name + ".bias"], c.layer_norm_eps);
  };
  auto lin = [&](const at::Tensor& x, const std::string& name) {
    return at::matmul(x, w[name + ".weight"].t()) + w[name + ".bias"];
  };
  at::Tensor e = ln(w["embeddings.word_embeddings.weight"].index_select(0, ids[0]) +
                        w["embeddings.position_embeddings.weight"].slice(0, 0, 5) +
                        w["embeddings.token_type_embeddings.weight"][0],
                    "embeddings.LayerNorm");
  const int64_t heads = c.num_attention_heads, dh = d / heads;
  at::Tensor q = lin(e, p + "attention.self.query").view({5, heads, dh}).transpose(0, 1);
  at::Tensor k = lin(e, p + "attention.self.key").view({5, heads, dh}).transpose(0, 1);
  at::Tensor v = lin(e, p + "attention.self.value").view({5, heads, dh}).transpose(0, 1);
  at::Tensor probs = at::softmax(at::matmul(q, k.transpose(1, 2)) / std::sqrt(double(dh)), -1);
  at::Tensor ctx = at::matmul(probs, v).transpose(0, 1).reshape({5, d});
  at::Tensor r = ln(lin(ctx, p + "attention.output.dense") + e, p + "attention.output.LayerNorm");
  at::Tensor h = lin(at::gelu(lin(r, p + "intermediate.dense")), p + "output.dense");
  at::Tensor x = ln(h + r, p + "output.LayerNorm");
  at::Tensor a =
      at::matmul(at::relu(at::matmul(x, adapter.down[0]) + adapter.down_bias[0]), adapter.up[0]) +
      adapter.up_bias[0];
  at::Tensor expected = ln(a + h + r, p + "output.LayerNorm");

  EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-5))
      << "max error " << (got - expected).abs().max().item<double>();
}

}  // namespace
}  // namespace maskserve
