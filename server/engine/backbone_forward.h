// File: server/engine/backbone_forward.h
//
// The batcher's forward on the loaded backbone: pads the rows
// (core/model/padded_batch.h), runs ONE mixed-profile forward
// (core/peft/mixed_batch.h) under inference mode on the backbone's device
// and returns each row's logits as floats. This is the device seam: the
// only serving code that touches tensors.
//
//   PredictBatcher batcher(options, MakeBackboneForward(backbone.model));
//
// Thread safety: the returned function is reentrant (the model is
// read-only); the batcher calls it from one thread.
#ifndef MASKSERVE_SERVER_ENGINE_BACKBONE_FORWARD_H_
#define MASKSERVE_SERVER_ENGINE_BACKBONE_FORWARD_H_

#include <memory>

#include "server/engine/predict_batcher.h"

namespace maskserve {

class BertModel;

BatchForward MakeBackboneForward(std::shared_ptr<const BertModel> model);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_BACKBONE_FORWARD_H_
