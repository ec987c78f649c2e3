#include "server/engine/backbone_forward.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <utility>

#include "core/model/padded_batch.h"
#include "core/peft/mixed_batch.h"
#include "server/engine/engine_errors.h"
#include "server/engine/loaded_model.h"

namespace maskserve {

BatchForward MakeBackboneForward(std::shared_ptr<const LoadedModel> model) {
  return [model = std::move(model)](const ForwardBatch& batch) -> absl::StatusOr<ForwardResult> {
    ForwardResult result;
    absl::Status status = CatchEngineErrors([&] {
      c10::InferenceMode inference;
      std::vector<const PooledProfile*> profiles;
      profiles.reserve(batch.profiles.size());
      for (const ResidentProfile* p : batch.profiles) profiles.push_back(p->pooled.get());
      ExampleBatch padded = PadEncodings(batch.rows, at::kCPU);
      result.padded_length = padded.ids.size(1);
      const at::Device device = model->backbone.model->device().device;
      if (device.is_cuda()) {  // through pinned memory, without blocking the host
        for (at::Tensor* t : {&padded.ids, &padded.mask, &padded.types}) {
          *t = t->pin_memory().to(device, /*non_blocking=*/true);
        }
      }
      result.logits = ClassifyPooledBatch(*model->backbone.model, *model->pool, profiles,
                                          batch.profile_of, padded.ids, padded.mask, padded.types,
                                          SublayerKernel::kAuto, model->graphs.get());
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return result;
  };
}

}  // namespace maskserve
