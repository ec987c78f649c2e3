#include "core/model/bert_model.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "core/base/sha256.h"
#include "core/io/tensor_hash.h"

namespace maskserve {

namespace {

std::string ShapeString(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Looks tensors up by HF name, with or without the "bert." prefix, checks
// their shape and moves them to the serving device and dtype.
class TensorFetcher {
 public:
  TensorFetcher(const TensorMap& tensors, const DeviceSpec& device, const std::string& source)
      : tensors_(tensors), device_(device), source_(source) {}

  at::Tensor Get(const std::string& name, std::vector<int64_t> shape) const {
    const at::Tensor* found = Find(name);
    if (found == nullptr && name.size() > 6 && name.compare(name.size() - 6, 6, "weight") == 0 &&
        name.find("LayerNorm") != std::string::npos) {
      found = Find(name.substr(0, name.size() - 6) + "gamma");  // TF-era checkpoints
    }
    if (found == nullptr && name.size() > 4 && name.compare(name.size() - 4, 4, "bias") == 0 &&
        name.find("LayerNorm") != std::string::npos) {
      found = Find(name.substr(0, name.size() - 4) + "beta");
    }
    if (found == nullptr) throw NotFound(source_ + ": missing tensor '" + name + "'");
    return Checked(name, *found, shape);
  }

  // The tensor `name` when the checkpoint has it (checked), else undefined.
  at::Tensor GetOptional(const std::string& name, std::vector<int64_t> shape) const {
    const at::Tensor* found = Find(name);
    return found == nullptr ? at::Tensor() : Checked(name, *found, shape);
  }

 private:
  at::Tensor Checked(const std::string& name, const at::Tensor& tensor,
                     std::vector<int64_t> shape) const {
    if (tensor.sizes() != at::IntArrayRef(shape)) {
      throw InvalidArgument(source_ + ": tensor '" + name + "' has shape " +
                            ShapeString(tensor.sizes()) + ", expected " + ShapeString(shape));
    }
    if (!tensor.is_floating_point()) {
      throw InvalidArgument(source_ + ": tensor '" + name + "' is not floating point");
    }
    return tensor.to(device_.device, device_.dtype).contiguous();
  }

  const at::Tensor* Find(const std::string& name) const {
    for (const std::string& prefix : {std::string(), std::string("bert.")}) {
      auto it = tensors_.find(prefix + name);
      if (it != tensors_.end()) return &it->second;
    }
    return nullptr;
  }

  const TensorMap& tensors_;
  const DeviceSpec& device_;
  const std::string& source_;
};

}  // namespace

BertModel BertModel::FromTensors(const BertConfig& config, const TensorMap& tensors,
                                 const DeviceSpec& device, const std::string& source) {
  config.Validate(source);
  BertModel model;
  model.config_ = config;
  model.device_ = device;
  const int64_t d = config.hidden_size, ffn = config.intermediate_size;
  TensorFetcher t(tensors, device, source);
  model.word_embeddings_ = t.Get("embeddings.word_embeddings.weight", {config.vocab_size, d});
  model.position_embeddings_ =
      t.Get("embeddings.position_embeddings.weight", {config.max_position_embeddings, d});
  model.token_type_embeddings_ =
      t.Get("embeddings.token_type_embeddings.weight", {config.type_vocab_size, d});
  model.embed_ln_weight_ = t.Get("embeddings.LayerNorm.weight", {d});
  model.embed_ln_bias_ = t.Get("embeddings.LayerNorm.bias", {d});
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer layer;
    layer.qkv_weight = at::cat({t.Get(p + "attention.self.query.weight", {d, d}),
                                t.Get(p + "attention.self.key.weight", {d, d}),
                                t.Get(p + "attention.self.value.weight", {d, d})});
    layer.qkv_bias = at::cat({t.Get(p + "attention.self.query.bias", {d}),
                              t.Get(p + "attention.self.key.bias", {d}),
                              t.Get(p + "attention.self.value.bias", {d})});
    layer.attn_out_weight = t.Get(p + "attention.output.dense.weight", {d, d});
    layer.attn_out_bias = t.Get(p + "attention.output.dense.bias", {d});
    layer.attn_ln_weight = t.Get(p + "attention.output.LayerNorm.weight", {d});
    layer.attn_ln_bias = t.Get(p + "attention.output.LayerNorm.bias", {d});
    layer.ffn_in_weight = t.Get(p + "intermediate.dense.weight", {ffn, d});
    layer.ffn_in_bias = t.Get(p + "intermediate.dense.bias", {ffn});
    layer.ffn_out_weight = t.Get(p + "output.dense.weight", {d, ffn});
    layer.ffn_out_bias = t.Get(p + "output.dense.bias", {d});
    layer.out_ln_weight = t.Get(p + "output.LayerNorm.weight", {d});
    layer.out_ln_bias = t.Get(p + "output.LayerNorm.bias", {d});
    model.layers_.push_back(std::move(layer));
  }
  if (config.pooling == Pooling::kPooler) {
    model.pooler_weight_ = t.Get("pooler.dense.weight", {d, d});
    model.pooler_bias_ = t.Get("pooler.dense.bias", {d});
  } else {
    model.pooler_weight_ = t.GetOptional("pooler.dense.weight", {d, d});
    model.pooler_bias_ =
        model.pooler_weight_.defined() ? t.Get("pooler.dense.bias", {d}) : at::Tensor();
  }
  model.ComputeFingerprint();
  return model;
}

BertModel BertModel::Random(const BertConfig& config, const DeviceSpec& device, uint64_t seed) {
  config.Validate(config.name);
  // Generated on the CPU generator (mt19937) so that every host, with or
  // without CUDA, builds bit-identical weights.
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  auto normal = [&](std::vector<int64_t> shape) {
    return at::normal(0.0, config.initializer_range, shape, gen, opts);
  };
  const int64_t d = config.hidden_size, ffn = config.intermediate_size;
  TensorMap w;
  w["embeddings.word_embeddings.weight"] = normal({config.vocab_size, d});
  w["embeddings.position_embeddings.weight"] = normal({config.max_position_embeddings, d});
  w["embeddings.token_type_embeddings.weight"] = normal({config.type_vocab_size, d});
  auto add_norm = [&](const std::string& prefix) {
    w[prefix + ".weight"] = at::ones({d}, opts);
    w[prefix + ".bias"] = at::zeros({d}, opts);
  };
  auto add_linear = [&](const std::string& prefix, int64_t out, int64_t in) {
    w[prefix + ".weight"] = normal({out, in});
    w[prefix + ".bias"] = at::zeros({out}, opts);
  };
  add_norm("embeddings.LayerNorm");
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    add_linear(p + "attention.self.query", d, d);
    add_linear(p + "attention.self.key", d, d);
    add_linear(p + "attention.self.value", d, d);
    add_linear(p + "attention.output.dense", d, d);
    add_norm(p + "attention.output.LayerNorm");
    add_linear(p + "intermediate.dense", ffn, d);
    add_linear(p + "output.dense", d, ffn);
    add_norm(p + "output.LayerNorm");
  }
  add_linear("pooler.dense", d, d);
  return FromTensors(config, w, device, config.name);
}

int64_t BertModel::num_parameters() const {
  int64_t n = word_embeddings_.numel() + position_embeddings_.numel() +
              token_type_embeddings_.numel() + embed_ln_weight_.numel() + embed_ln_bias_.numel() +
              (has_pooler() ? pooler_weight_.numel() + pooler_bias_.numel() : 0);
  for (const Layer& l : layers_) {
    for (const at::Tensor* t :
         {&l.qkv_weight, &l.qkv_bias, &l.attn_out_weight, &l.attn_out_bias, &l.attn_ln_weight,
          &l.attn_ln_bias, &l.ffn_in_weight, &l.ffn_in_bias, &l.ffn_out_weight, &l.ffn_out_bias,
          &l.out_ln_weight, &l.out_ln_bias}) {
      n += t->numel();
    }
  }
  return n;
}

void BertModel::ComputeFingerprint() {
  Sha256 hash;
  const BertConfig& c = config_;
  hash.Update("bert:v=" + std::to_string(c.vocab_size) + ";d=" + std::to_string(c.hidden_size) +
              ";L=" + std::to_string(c.num_hidden_layers) +
              ";h=" + std::to_string(c.num_attention_heads) +
              ";ffn=" + std::to_string(c.intermediate_size) +
              ";pos=" + std::to_string(c.max_position_embeddings) +
              ";types=" + std::to_string(c.type_vocab_size) + ";act=" + c.hidden_act +
              ";eps=" + std::to_string(c.layer_norm_eps) + ";");
  // Heads depend on the pooling. (Pooler-pooled models hash as they did
  // before pooling was configurable, so their stores stay valid.)
  if (c.pooling != Pooling::kPooler)
    hash.Update(std::string("pool=") + PoolingName(c.pooling) + ";");
  auto add = [&hash](const at::Tensor& t) { HashTensor(t, &hash); };
  for (const at::Tensor* t : {&word_embeddings_, &position_embeddings_, &token_type_embeddings_,
                              &embed_ln_weight_, &embed_ln_bias_}) {
    add(*t);
  }
  for (const Layer& l : layers_) {
    for (const at::Tensor* t :
         {&l.qkv_weight, &l.qkv_bias, &l.attn_out_weight, &l.attn_out_bias, &l.attn_ln_weight,
          &l.attn_ln_bias, &l.ffn_in_weight, &l.ffn_in_bias, &l.ffn_out_weight, &l.ffn_out_bias,
          &l.out_ln_weight, &l.out_ln_bias}) {
      add(*t);
    }
  }
  if (has_pooler()) {
    add(pooler_weight_);
    add(pooler_bias_);
  }
  fingerprint_ = hash.HexDigest();
}

at::Tensor BertModel::Activation(const at::Tensor& x) const {
  if (config_.hidden_act == "gelu") return at::gelu(x);
  if (config_.hidden_act == "relu") return at::relu(x);
  return at::gelu(x, "tanh");  // gelu_new, gelu_pytorch_tanh
}

at::Tensor BertModel::Embed(const at::Tensor& ids, const at::Tensor& types) const {
  const int64_t seq = ids.size(1);
  at::Tensor positions = at::arange(seq, at::TensorOptions().dtype(at::kLong).device(ids.device()));
  at::Tensor x = at::embedding(word_embeddings_, ids) +
                 at::embedding(token_type_embeddings_, types) +
                 at::embedding(position_embeddings_, positions).unsqueeze(0);
  return at::layer_norm(x, {config_.hidden_size}, embed_ln_weight_, embed_ln_bias_,
                        config_.layer_norm_eps);
}

at::Tensor BertModel::LayerForward(const Layer& layer, int64_t index, const at::Tensor& x,
                                   const at::Tensor& mask_bias, const AdapterWeights* adapter,
                                   const BatchAdapters* batch_adapters,
                                   SublayerKernel kernel) const {
  const int64_t batch = x.size(0), seq = x.size(1), d = config_.hidden_size;
  const int64_t heads = config_.num_attention_heads, head_dim = d / heads;
  const double eps = config_.layer_norm_eps;

  // [B, T, 3d] -> 3 x [B, H, T, dh]
  at::Tensor qkv = at::linear(x, layer.qkv_weight, layer.qkv_bias)
                       .view({batch, seq, 3, heads, head_dim})
                       .permute({2, 0, 3, 1, 4});
  at::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
#if TORCH_VERSION_MAJOR >= 2
  at::Tensor context = at::scaled_dot_product_attention(q, k, v, mask_bias);
#else
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(head_dim));
  at::Tensor context = at::matmul(at::softmax(scores + mask_bias, -1), v);
#endif
  context = context.transpose(1, 2).reshape({batch, seq, d});
  at::Tensor attention =
      at::layer_norm(at::linear(context, layer.attn_out_weight, layer.attn_out_bias) + x, {d},
                     layer.attn_ln_weight, layer.attn_ln_bias, eps);

  at::Tensor h =
      at::linear(Activation(at::linear(attention, layer.ffn_in_weight, layer.ffn_in_bias)),
                 layer.ffn_out_weight, layer.ffn_out_bias);
  if (adapter == nullptr || !adapter->defined()) {
    return AdapterSublayer(h, attention, layer.out_ln_weight, layer.out_ln_bias, eps,
                           batch_adapters, index, kernel);
  }
  at::Tensor residual = h + attention;
  at::Tensor out = at::layer_norm(residual, {d}, layer.out_ln_weight, layer.out_ln_bias, eps);
  at::Tensor a = ApplyAdapter(out, *adapter);
  return at::layer_norm(a + residual, {d}, layer.out_ln_weight, layer.out_ln_bias, eps);
}

BertOutput BertModel::Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                              const at::Tensor& token_type_ids,
                              const std::vector<AdapterWeights>* adapters) const {
  return Run(input_ids, attention_mask, token_type_ids, adapters, nullptr, SublayerKernel::kAuto);
}

BertOutput BertModel::Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                              const at::Tensor& token_type_ids, const BatchAdapters& adapters,
                              SublayerKernel kernel) const {
  if (adapters.defined() && adapters.down.size(0) != int64_t(layers_.size())) {
    throw InvalidArgument("adapters: expected one entry per layer (" +
                          std::to_string(layers_.size()) + "), got " +
                          std::to_string(adapters.down.size(0)));
  }
  return Run(input_ids, attention_mask, token_type_ids, nullptr, &adapters, kernel);
}

BertOutput BertModel::Run(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                          const at::Tensor& token_type_ids,
                          const std::vector<AdapterWeights>* adapters,
                          const BatchAdapters* batch_adapters, SublayerKernel kernel) const {
  if (input_ids.dim() != 2 || attention_mask.sizes() != input_ids.sizes() ||
      token_type_ids.sizes() != input_ids.sizes()) {
    throw InvalidArgument(
        "input_ids, attention_mask and token_type_ids must share one [B, T] shape");
  }
  if (input_ids.size(1) > config_.max_position_embeddings) {
    throw InvalidArgument("input_ids: sequence length " + std::to_string(input_ids.size(1)) +
                          " exceeds max_position_embeddings " +
                          std::to_string(config_.max_position_embeddings));
  }
  if (adapters != nullptr && adapters->size() != layers_.size()) {
    throw InvalidArgument("adapters: expected one entry per layer (" +
                          std::to_string(layers_.size()) + "), got " +
                          std::to_string(adapters->size()));
  }
  const at::Device device = device_.device;
  at::Tensor ids = input_ids.to(device, at::kLong);
  at::Tensor types = token_type_ids.to(device, at::kLong);
  // Additive mask: 0 where attended, the dtype's lowest value on padding,
  // shaped [B, 1, 1, T] to broadcast over heads and query positions.
  at::Tensor mask = attention_mask.to(device, device_.dtype);
  const double lowest = device_.dtype == at::kHalf ? -65504.0
                        : device_.dtype == at::kBFloat16
                            ? -3.3895313892515355e38
                            : double(std::numeric_limits<float>::lowest());
  at::Tensor mask_bias = ((1.0 - mask) * lowest).view({mask.size(0), 1, 1, mask.size(1)});

  at::Tensor x = Embed(ids, types);
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = LayerForward(layers_[i], int64_t(i), x, mask_bias, adapters ? &(*adapters)[i] : nullptr,
                     batch_adapters, kernel);
  }
  BertOutput out;
  out.last_hidden_state = x;
  out.pooled = Pool(x, mask, config_.pooling);
  return out;
}

at::Tensor BertModel::Pool(const at::Tensor& last_hidden_state, const at::Tensor& attention_mask,
                           Pooling pooling) const {
  switch (pooling) {
    case Pooling::kCls:
      return last_hidden_state.select(1, 0);
    case Pooling::kMean: {
      // As sentence-transformers: sum(h * m) / max(sum(m), 1e-9), in fp32.
      at::Tensor m = attention_mask.to(last_hidden_state.device(), at::kFloat).unsqueeze(-1);
      at::Tensor sum = (last_hidden_state.to(at::kFloat) * m).sum(1);
      return (sum / m.sum(1).clamp_min(1e-9)).to(last_hidden_state.scalar_type());
    }
    case Pooling::kPooler:
      break;
  }
  if (!has_pooler()) {
    throw FailedPrecondition(config_.name +
                             ": the checkpoint has no pooler weights; pool with "
                             "'cls' or 'mean'");
  }
  return at::tanh(at::linear(last_hidden_state.select(1, 0), pooler_weight_, pooler_bias_));
}

}  // namespace maskserve
