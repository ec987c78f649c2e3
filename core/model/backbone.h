// File: core/model/backbone.h
//
// A frozen backbone ready to serve: the BERT encoder on its device plus the
// matching WordPiece tokenizer. Loaded once at start-up from an HF model
// directory, or built deterministically when none is configured.
//
//   Backbone b = LoadHfBackbone("/models/bert-base-uncased", ResolveDevice("auto", "auto"));
//   Backbone tiny = BuiltinBackbone(DeviceSpec());
//
// Thread safety: both members are immutable and shared; a Backbone may be
// copied and used from any thread.
#ifndef MASKSERVE_CORE_MODEL_BACKBONE_H_
#define MASKSERVE_CORE_MODEL_BACKBONE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/model/bert_model.h"
#include "core/model/device.h"
#include "core/text/wordpiece_tokenizer.h"

namespace maskserve {

// The seed of the built-in backbone's weights (part of its fingerprint).
inline constexpr uint64_t kBuiltinBackboneSeed = 20240917;

// What `--model_dir=builtin` names: the deterministic built-in tiny model.
inline constexpr const char* kBuiltinModelDir = "builtin";

struct Backbone {
  std::shared_ptr<const BertModel> model;
  std::shared_ptr<const WordPieceTokenizer> tokenizer;
  // Where it was loaded from: the model directory, or "builtin".
  std::string source;
  // Where the weights came from, when known: the first line of the
  // directory's SOURCE file (scripts/fetch_model.sh writes the package and
  // version), or a description of the built-in model; may be empty.
  std::string origin;
};

// Loads `dir`/config.json, `dir`/vocab.txt and `dir`/model.safetensors (and
// `dir`/tokenizer_config.json's do_lower_case when present; lowercase by
// default). The pooling is `pooling` when given, else the
// sentence-transformers config `dir`/1_Pooling/config.json's when present,
// else BertModel's pooler. Throws NotFound / InvalidArgument / DataLoss
// naming the file and the key or tensor at fault. The model's name is the
// directory's name.
Backbone LoadHfBackbone(const std::string& dir, const DeviceSpec& device,
                        std::optional<Pooling> pooling = std::nullopt);

// LoadHfBackbone(dir), or BuiltinBackbone() when `dir` is "builtin" (or
// empty); `pooling` overrides the pooling of either.
Backbone LoadBackbone(const std::string& dir, const DeviceSpec& device,
                      std::optional<Pooling> pooling = std::nullopt);

// The deterministic built-in tiny BERT (BuiltinTinyBertConfig(), random
// weights from `seed`, the built-in vocabulary, lowercasing).
Backbone BuiltinBackbone(const DeviceSpec& device, uint64_t seed = kBuiltinBackboneSeed,
                         Pooling pooling = Pooling::kPooler);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_BACKBONE_H_
