// File: server/engine/loaded_model.h
//
// What the engine serves with, once loaded (server/engine/model_loading.h):
// the backbone (model + tokenizer) and the shared banks, on one device.
// Only engine code sees this type; the rest of server/ holds it opaquely.
//
// Thread safety: immutable once loaded; shared read-only.
#ifndef MASKSERVE_SERVER_ENGINE_LOADED_MODEL_H_
#define MASKSERVE_SERVER_ENGINE_LOADED_MODEL_H_

#include "core/model/backbone.h"
#include "core/peft/serving_banks.h"

namespace maskserve {

struct LoadedModel {
  Backbone backbone;
  ServingBanks banks;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_LOADED_MODEL_H_
