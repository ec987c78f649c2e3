// File: server/engine/backbone_forward.h
//
// The batcher's forward on the loaded model: pads the rows
// (core/model/padded_batch.h), composes the batch's adapters from the
// device pool's resident rows and runs ONE mixed-profile forward
// (ClassifyPooledBatch, core/peft/mixed_batch.h) under inference mode on
// the backbone's device, returning each row's logits as floats. This is
// the device seam: the only serving code that touches tensors.
//
//   PredictBatcher batcher(options, MakeBackboneForward(loaded_model));
//
// Thread safety: the returned function is reentrant (the model is
// read-only, the pool internally synchronised); the batcher calls it from
// one thread.
#ifndef MASKSERVE_SERVER_ENGINE_BACKBONE_FORWARD_H_
#define MASKSERVE_SERVER_ENGINE_BACKBONE_FORWARD_H_

#include <memory>

#include "server/engine/predict_batcher.h"

namespace maskserve {

struct LoadedModel;

BatchForward MakeBackboneForward(std::shared_ptr<const LoadedModel> model);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_BACKBONE_FORWARD_H_
