// File: server/engine/model_info.h
//
// Builds the GetModelInfo answer from what the server has actually loaded.
#ifndef MASKSERVE_SERVER_ENGINE_MODEL_INFO_H_
#define MASKSERVE_SERVER_ENGINE_MODEL_INFO_H_

#include "core/model/backbone.h"
#include "core/peft/serving_banks.h"
#include "maskserve/v1/maskserve.pb.h"
#include "server/engine/engine_options.h"

namespace maskserve {

// The server's own version (the CMake project version).
const char* ServerVersion();

v1::ModelInfo BuildModelInfo(const Backbone& backbone, const ServingBanks& banks,
                             const LimitsOptions& limits);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_MODEL_INFO_H_
