// File: core/profile/profile_data.h
//
// A trained profile in its stored, device-independent form: which PEFT
// method, the shapes and fingerprints it was trained against, its packed
// masks / fp16 weights, its head (fp16, or int8 with per-row scales) and
// label names, and training metrics.
// Standard library only, so the codec (core/profile/profile_codec.h) and its fuzzer
// need no LibTorch. core/peft/profile_tensors.h turns it into device tensors.
//
// Payload layouts (row-major; fp16 as raw uint16 bits):
//   XPEFT_HARD     mask_bits: 2*L rows of ceil(N/8) bytes: the down-projection
//                  (A) masks of layers 0..L-1, then the up-projection (B)
//                  masks; exactly top_k bits set per row.
//   XPEFT_SOFT     mask_weights: [2, L, N] softmax weights (A then B).
//   XPEFT_*        norm_params: [2, L, b] (weight then bias) of the LayerNorm
//                  after the down projection; empty when not used.
//   PROPETL_LAYER  mask_bits: 2*L rows of ceil(d*b/8) bytes: layer l's down
//                  mask ([d, b]) then its up mask ([b, d]).
//   PROPETL_HYBRID mask_bits: 2 rows: the task's down mask and up mask, OR-ed
//                  with the prototype's shared layer masks at composition.
//   ADAPTER        adapter_params: per layer down [d*b], down_bias [b],
//                  up [b*d], up_bias [d].
//   all            head_bias [C] (C = labels.size()) and the head weight
//                  [C, d] in exactly one of two forms: head_weight (fp16), or
//                  head_weight_int8 with head_weight_scale [C] (fp16), one
//                  symmetric scale per row (class): w[c, j] ~= q[c, j] *
//                  scale[c], scale[c] = max_j |w[c, j]| / 127 (0 for an
//                  all-zero row), |q| <= 127;
//                  or no head at all but a reference to a shared head
//                  (shared_head name + shared_head_fingerprint, see
//                  core/peft/shared_heads.h) whose labels equal `labels`.
//
// Thread safety: plain value type.
#ifndef MASKSERVE_CORE_PROFILE_PROFILE_DATA_H_
#define MASKSERVE_CORE_PROFILE_PROFILE_DATA_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maskserve {

// Values equal maskserve.v1.Method.
enum class Method : uint8_t {
  kUnspecified = 0,
  kXpeftHard = 1,
  kXpeftSoft = 2,
  kPropetlLayer = 3,
  kPropetlHybrid = 4,
  kHeadOnly = 5,
  kAdapter = 6,
};

// "XPEFT_HARD", ... (the API's names).
const char* MethodName(Method method);
bool IsXpeft(Method method);
bool IsPropetl(Method method);
// The rule for shared head names: 1-64 of [A-Za-z0-9_.-].
bool IsValidSharedHeadName(std::string_view name);
// Throws InvalidArgument naming `field` unless IsValidSharedHeadName(name).
void ValidateSharedHeadName(const std::string& name, const std::string& field);

// The shapes a profile was trained for.
struct ProfileShape {
  uint32_t num_layers = 0;    // L
  uint32_t hidden_size = 0;   // d
  uint32_t bottleneck = 0;    // b
  uint32_t num_adapters = 0;  // N (X-PEFT)
  uint32_t top_k = 0;         // k (X-PEFT hard)
  float keep_fraction = 0;    // ProPETL mask density

  bool operator==(const ProfileShape& o) const {
    return num_layers == o.num_layers && hidden_size == o.hidden_size &&
           bottleneck == o.bottleneck && num_adapters == o.num_adapters && top_k == o.top_k &&
           keep_fraction == o.keep_fraction;
  }
};

// Metrics of the training run that produced the profile: on the held-out
// validation split (zero when there was none), and on the examples it was
// trained on, as served (after training, without noise).
struct ProfileMetrics {
  float validation_accuracy = 0;
  float validation_loss = 0;
  float validation_macro_f1 = 0;
  uint32_t validation_examples = 0;
  uint32_t train_examples = 0;
  float train_accuracy = 0;
  float train_loss = 0;
  float train_macro_f1 = 0;
};

// Bytes a profile takes, by part (see maskserve.v1.ProfileSize).
struct ProfileBytes {
  uint64_t masks = 0;
  uint64_t head = 0;
  uint64_t metadata = 0;
  uint64_t total = 0;
};

struct ProfileData {
  Method method = Method::kUnspecified;
  std::string backbone_fingerprint;  // hex sha256 of the backbone
  std::string bank_fingerprint;      // hex sha256 of the bank; "" when none is used
  ProfileShape shape;
  std::vector<std::string> labels;
  std::vector<uint8_t> mask_bits;
  std::vector<uint16_t> mask_weights;
  std::vector<uint16_t> norm_params;
  std::vector<uint16_t> adapter_params;
  std::vector<uint16_t> head_weight;        // fp16 head; empty when int8
  std::vector<int8_t> head_weight_int8;     // int8 head; empty when fp16
  std::vector<uint16_t> head_weight_scale;  // with head_weight_int8
  std::vector<uint16_t> head_bias;
  // Set instead of the head fields when the profile uses a shared head.
  std::string shared_head;
  std::string shared_head_fingerprint;
  ProfileMetrics metrics;

  size_t num_labels() const { return labels.size(); }
  bool has_int8_head() const { return !head_weight_int8.empty(); }
  bool has_shared_head() const { return !shared_head.empty(); }
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PROFILE_PROFILE_DATA_H_
