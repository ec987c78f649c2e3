// File: core/model/bert_model.h
//
// The frozen BERT encoder: embeddings (word + position + token type, then
// LayerNorm), L post-LN transformer layers (self-attention with a padding
// mask, GELU FFN) and a sentence vector pooled as the config says (tanh
// pooler over [CLS], raw [CLS], or the mean over attended tokens).
// Numerically equal to HF `BertModel` in eval mode (and the mean to
// sentence-transformers' mean pooling).
//
// Every layer has a Pfeiffer adapter insertion point in its FFN output
// sublayer (AdapterHub `seq_bn`). With h = FFN output and r = attention
// output:
//   stock:        out = LN(h + r)
//   with adapter: x = LN(h + r); a = adapter(x); out = LN(a + h + r)
// using the layer's own LayerNorm both times. Adapters are per sequence
// (see core/model/adapter.h), so one forward may mix profiles.
//
//   BertModel model = BertModel::Builtin(device, /*seed=*/1234);
//   BertOutput out = model.Forward(ids, mask, types);          // no adapters
//   BertOutput out2 = model.Forward(ids, mask, types, &layers); // L adapters
//
// Ownership: the model owns its weights (on `device()`, in its dtype, never
// requiring grad). Thread safety: Forward() is const and may run
// concurrently; gradients flow through it to adapter weights when the caller
// is not in inference mode.
#ifndef MASKSERVE_CORE_MODEL_BERT_MODEL_H_
#define MASKSERVE_CORE_MODEL_BERT_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/adapter.h"
#include "core/model/adapter_sublayer.h"
#include "core/model/bert_config.h"
#include "core/model/device.h"

namespace maskserve {

struct BertOutput {
  at::Tensor last_hidden_state;  // [B, T, d]
  at::Tensor pooled;             // [B, d], pooled as config().pooling says
};

// A name -> tensor map in HF naming, e.g. "encoder.layer.0.output.dense.weight".
using TensorMap = std::map<std::string, at::Tensor>;

class BertModel {
 public:
  // Builds the model from HF-named tensors (an optional "bert." prefix is
  // accepted; extra tensors such as a classifier are ignored). The pooler
  // weights are needed only for Pooling::kPooler. Throws NotFound /
  // InvalidArgument naming `source` and the tensor when one is missing or
  // has the wrong shape.
  static BertModel FromTensors(const BertConfig& config, const TensorMap& tensors,
                               const DeviceSpec& device, const std::string& source);

  // A deterministic random model of `config`'s shape (weights N(0, 0.02),
  // LayerNorm 1/0, biases 0), identical for the same seed on every host.
  static BertModel Random(const BertConfig& config, const DeviceSpec& device, uint64_t seed);

  // input_ids, attention_mask, token_type_ids: int64 [B, T] on any device
  // (moved to the model's device). `adapters` is null or has one entry per
  // layer; an entry with undefined weights leaves that layer stock.
  BertOutput Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids,
                     const std::vector<AdapterWeights>* adapters = nullptr) const;
  // The serving forward: every layer's FFN output sublayer through
  // AdapterSublayer with `adapters` (one forward's composed adapters and
  // each sequence's index among them; see core/model/adapter_sublayer.h).
  // Inference only (the fused kernel has no backward).
  BertOutput Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids, const BatchAdapters& adapters,
                     SublayerKernel kernel = SublayerKernel::kAuto) const;

  // The sentence vectors of `last_hidden_state` [B, T, d] under `pooling`
  // (attention_mask [B, T], 1 = attended). Throws FailedPrecondition for
  // kPooler when the checkpoint had no pooler weights.
  at::Tensor Pool(const at::Tensor& last_hidden_state, const at::Tensor& attention_mask,
                  Pooling pooling) const;
  bool has_pooler() const { return pooler_weight_.defined(); }

  const BertConfig& config() const { return config_; }
  const DeviceSpec& device() const { return device_; }
  // sha256 (hex) over the configuration and every weight, as loaded.
  const std::string& fingerprint() const { return fingerprint_; }
  // Parameter count of the frozen weights.
  int64_t num_parameters() const;

 private:
  struct Layer {
    at::Tensor qkv_weight, qkv_bias;  // fused [3d, d], [3d]
    at::Tensor attn_out_weight, attn_out_bias;
    at::Tensor attn_ln_weight, attn_ln_bias;
    at::Tensor ffn_in_weight, ffn_in_bias;
    at::Tensor ffn_out_weight, ffn_out_bias;
    at::Tensor out_ln_weight, out_ln_bias;
  };

  BertModel() = default;
  at::Tensor Embed(const at::Tensor& ids, const at::Tensor& types) const;
  // Exactly one of `adapter` (training's per-sequence weights, with
  // autograd) and `batch` (serving's) is used; both null = stock.
  at::Tensor LayerForward(const Layer& layer, int64_t index, const at::Tensor& x,
                          const at::Tensor& mask_bias, const AdapterWeights* adapter,
                          const BatchAdapters* batch_adapters, SublayerKernel kernel) const;
  BertOutput Run(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                 const at::Tensor& token_type_ids, const std::vector<AdapterWeights>* adapters,
                 const BatchAdapters* batch_adapters, SublayerKernel kernel) const;
  at::Tensor Activation(const at::Tensor& x) const;
  void ComputeFingerprint();

  BertConfig config_;
  DeviceSpec device_;
  at::Tensor word_embeddings_, position_embeddings_, token_type_embeddings_;
  at::Tensor embed_ln_weight_, embed_ln_bias_;
  std::vector<Layer> layers_;
  at::Tensor pooler_weight_, pooler_bias_;
  std::string fingerprint_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_BERT_MODEL_H_
