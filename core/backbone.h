// File: core/backbone.h
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
#ifndef MASKSERVE_CORE_BACKBONE_H_
#define MASKSERVE_CORE_BACKBONE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/bert_model.h"
#include "core/device.h"
#include "core/wordpiece_tokenizer.h"

namespace maskserve {

// The seed of the built-in backbone's weights (part of its fingerprint).
inline constexpr uint64_t kBuiltinBackboneSeed = 20240917;

struct Backbone {
  std::shared_ptr<const BertModel> model;
  std::shared_ptr<const WordPieceTokenizer> tokenizer;
};

// Loads `dir`/config.json, `dir`/vocab.txt and `dir`/model.safetensors (and
// `dir`/tokenizer_config.json's do_lower_case when present; lowercase by
// default). Throws NotFound / InvalidArgument / DataLoss naming the file and
// the key or tensor at fault. The model's name is the directory's name.
Backbone LoadHfBackbone(const std::string& dir, const DeviceSpec& device);

// The deterministic built-in tiny BERT (BuiltinTinyBertConfig(), random
// weights from `seed`, the built-in vocabulary, lowercasing).
Backbone BuiltinBackbone(const DeviceSpec& device, uint64_t seed = kBuiltinBackboneSeed);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BACKBONE_H_
