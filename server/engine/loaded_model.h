// File: server/engine/loaded_model.h
//
// What the engine serves with, once loaded (server/engine/model_loading.h):
// the backbone (model + tokenizer), the shared banks and the device pool of
// resident profiles' rows, on one device.
// Only engine code sees this type; the rest of server/ holds it opaquely.
//
// Thread safety: immutable once loaded; shared read-only.
#ifndef MASKSERVE_SERVER_ENGINE_LOADED_MODEL_H_
#define MASKSERVE_SERVER_ENGINE_LOADED_MODEL_H_

#include "core/model/backbone.h"
#include "core/model/cuda_graph_forward.h"
#include "core/peft/profile_pool.h"
#include "core/peft/serving_banks.h"

namespace maskserve {

struct LoadedModel {
  Backbone backbone;
  ServingBanks banks;
  // Internally synchronised; shared by the loader, the trainer and the
  // batcher's forward.
  std::shared_ptr<ProfilePool> pool;
  // The serving forward's CUDA graphs; null on the CPU or with
  // --cuda_graphs=false.
  std::shared_ptr<CudaGraphForward> graphs;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_LOADED_MODEL_H_
