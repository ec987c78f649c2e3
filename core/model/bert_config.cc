#include "core/model/bert_config.h"

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/text/builtin_vocab.h"

namespace maskserve {

namespace {
void RequirePositive(const std::string& source, const char* key, int64_t value) {
  if (value <= 0) {
    throw InvalidArgument(source + ": " + key + " must be positive, got " + std::to_string(value));
  }
}
}  // namespace

const char* PoolingName(Pooling pooling) {
  switch (pooling) {
    case Pooling::kPooler:
      return "pooler";
    case Pooling::kCls:
      return "cls";
    case Pooling::kMean:
      return "mean";
  }
  return "pooler";
}

Pooling ParsePooling(const std::string& name, const std::string& field) {
  for (Pooling p : {Pooling::kPooler, Pooling::kCls, Pooling::kMean}) {
    if (name == PoolingName(p)) return p;
  }
  throw InvalidArgument(field + ": '" + name + "' is not a pooling (pooler, cls, mean)");
}

std::optional<Pooling> ParsePoolingOverride(const std::string& name, const std::string& field) {
  if (name.empty()) return std::nullopt;
  return ParsePooling(name, field);
}

Pooling ParseSentenceTransformersPooling(const JsonValue& json, const std::string& source) {
  if (!json.is_object()) throw InvalidArgument(source + ": expected a JSON object");
  auto mode = [&](const char* key) {
    const JsonValue* v = json.Find(key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_bool()) throw InvalidArgument(source + ": " + key + " must be true or false");
    return v->AsBool();
  };
  for (const char* unsupported : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                  "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    if (mode(unsupported)) {
      throw InvalidArgument(source + ": " + unsupported +
                            " is not supported (cls or mean tokens; or override the pooling)");
    }
  }
  const bool cls = mode("pooling_mode_cls_token"), mean = mode("pooling_mode_mean_tokens");
  if (cls == mean) {
    throw InvalidArgument(source +
                          ": exactly one of pooling_mode_cls_token and "
                          "pooling_mode_mean_tokens must be true");
  }
  return cls ? Pooling::kCls : Pooling::kMean;
}

void BertConfig::Validate(const std::string& source) const {
  RequirePositive(source, "vocab_size", vocab_size);
  RequirePositive(source, "hidden_size", hidden_size);
  RequirePositive(source, "num_hidden_layers", num_hidden_layers);
  RequirePositive(source, "num_attention_heads", num_attention_heads);
  RequirePositive(source, "intermediate_size", intermediate_size);
  RequirePositive(source, "max_position_embeddings", max_position_embeddings);
  RequirePositive(source, "type_vocab_size", type_vocab_size);
  if (hidden_size % num_attention_heads != 0) {
    throw InvalidArgument(source + ": hidden_size " + std::to_string(hidden_size) +
                          " is not a multiple of num_attention_heads " +
                          std::to_string(num_attention_heads));
  }
  if (!(layer_norm_eps > 0.0)) {
    throw InvalidArgument(source + ": layer_norm_eps must be positive");
  }
  if (hidden_act != "gelu" && hidden_act != "gelu_new" && hidden_act != "gelu_pytorch_tanh" &&
      hidden_act != "relu") {
    throw InvalidArgument(source + ": hidden_act '" + hidden_act +
                          "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
  }
  if (pad_token_id < 0 || pad_token_id >= vocab_size) {
    throw InvalidArgument(source + ": pad_token_id out of range");
  }
}

BertConfig ParseBertConfig(const JsonValue& json, const std::string& source) {
  if (!json.is_object()) throw InvalidArgument(source + ": expected a JSON object");
  if (const JsonValue* type = json.Find("model_type")) {
    if (!type->is_string() || type->AsString() != "bert") {
      throw InvalidArgument(source + ": model_type must be 'bert'");
    }
  }
  BertConfig c;
  c.vocab_size = json.GetInt64("vocab_size");
  c.hidden_size = json.GetInt64("hidden_size");
  c.num_hidden_layers = json.GetInt64("num_hidden_layers");
  c.num_attention_heads = json.GetInt64("num_attention_heads");
  c.intermediate_size = json.GetInt64("intermediate_size");
  c.max_position_embeddings = json.GetInt64("max_position_embeddings");
  if (json.Contains("type_vocab_size")) c.type_vocab_size = json.GetInt64("type_vocab_size");
  if (json.Contains("layer_norm_eps")) c.layer_norm_eps = json.GetDouble("layer_norm_eps");
  if (json.Contains("hidden_act")) c.hidden_act = json.GetString("hidden_act");
  if (json.Contains("initializer_range")) c.initializer_range = json.GetDouble("initializer_range");
  if (const JsonValue* pad = json.Find("pad_token_id"); pad != nullptr && !pad->is_null()) {
    c.pad_token_id = pad->AsInt64();
  }
  c.Validate(source);
  return c;
}

BertConfig BuiltinTinyBertConfig() {
  BertConfig config;
  config.name = "builtin-tiny-bert";
  config.hidden_size = 128;
  config.num_hidden_layers = 4;
  config.num_attention_heads = 4;
  config.intermediate_size = 512;
  config.max_position_embeddings = 512;
  config.type_vocab_size = 2;
  config.vocab_size = static_cast<int64_t>(BuiltinVocabTokens().size());
  config.initializer_range = 0.05;
  config.lowercase = true;
  return config;
}

}  // namespace maskserve
