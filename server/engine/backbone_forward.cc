#include "server/engine/backbone_forward.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <utility>

#include "core/model/bert_model.h"
#include "core/model/padded_batch.h"
#include "core/peft/composed_profile.h"
#include "core/peft/mixed_batch.h"
#include "server/engine/engine_errors.h"

namespace maskserve {

BatchForward MakeBackboneForward(std::shared_ptr<const BertModel> model) {
  return [model = std::move(model)](const ForwardBatch& batch) -> absl::StatusOr<ForwardResult> {
    ForwardResult result;
    absl::Status status = CatchEngineErrors([&] {
      c10::InferenceMode inference;
      std::vector<const ComposedProfile*> profiles;
      profiles.reserve(batch.profiles.size());
      for (const ResidentProfile* p : batch.profiles) profiles.push_back(p->composed.get());
      ExampleBatch padded = PadEncodings(batch.rows, at::kCPU);
      result.padded_length = padded.ids.size(1);
      std::vector<at::Tensor> logits = ClassifyMixedBatch(*model, profiles, batch.profile_of,
                                                          padded.ids, padded.mask, padded.types);
      result.logits.reserve(logits.size());
      for (const at::Tensor& row : logits) {
        const at::Tensor values = row.to(at::kCPU, at::kFloat).contiguous();
        const float* data = values.data_ptr<float>();
        result.logits.emplace_back(data, data + values.numel());
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return result;
  };
}

}  // namespace maskserve
