// File: server/engine/prediction.h
//
// What Engine::Predict answers, as plain values (the gRPC service copies
// them into a v1::PredictResponse), and the one function that turns a
// sequence's logits into them: softmax probabilities, the argmax label and
// the top-k labels by probability (ties keep label order).
//
//   Prediction p = ScoreLogits({2.0f, -1.0f}, {"pos", "neg"}, /*top_k=*/1, false);
//   p.label == "pos"; p.probabilities.size() == 2; p.top.size() == 1
//
// Thread safety: value types and a pure function.
#ifndef MASKSERVE_SERVER_ENGINE_PREDICTION_H_
#define MASKSERVE_SERVER_ENGINE_PREDICTION_H_

#include <cstdint>
#include <string>
#include <vector>

namespace maskserve {

// One input of a Predict call: a text, or a text pair (text_pair non-empty).
struct TextInput {
  std::string text;
  std::string text_pair;
};

struct LabelScore {
  std::string label;
  uint32_t index = 0;
  float probability = 0;
};

struct Prediction {
  std::string label;  // the most probable label
  uint32_t label_index = 0;
  std::vector<float> probabilities;  // per label, in label order; sums to 1
  std::vector<LabelScore> top;       // the top_k labels, most probable first
  std::vector<float> logits;         // only when asked for
};

struct PredictResult {
  std::string profile_id;
  uint64_t profile_version = 0;  // the version every prediction used
  std::vector<std::string> label_names;
  std::vector<Prediction> predictions;  // one per input, in order
};

// `logits` has one entry per label (at least one). top_k 0 means 1; it is
// capped at the number of labels.
Prediction ScoreLogits(const std::vector<float>& logits, const std::vector<std::string>& labels,
                       uint32_t top_k, bool return_logits);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_PREDICTION_H_
