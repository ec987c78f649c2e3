// File: server/engine/model_loading.h
//
// Loads what the engine serves with: the backbone from an HF directory (or
// "builtin") and the shared banks from BankOptions (trained files, or
// random from seeds), checked against each other, on one device; and
// describes it to the server (fingerprints for the store, a log line, the
// device for metrics) without the server touching LibTorch types.
//
//   absl::StatusOr<std::string> where = CheckDevice("auto", "auto");   // "cpu (float32)"
//   absl::StatusOr<std::shared_ptr<const LoadedModel>> model = LoadModel(request);
//   ModelSummary summary = Summarize(**model);
//
// Errors name the option: INVALID_ARGUMENT for "device"/"dtype" and for
// banks whose L or d differ from the backbone's, NOT_FOUND / DATA_LOSS for
// unreadable files, FAILED_PRECONDITION for shared heads built for another
// backbone.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_SERVER_ENGINE_MODEL_LOADING_H_
#define MASKSERVE_SERVER_ENGINE_MODEL_LOADING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/engine/engine_options.h"

namespace maskserve {

struct LoadedModel;  // server/engine/loaded_model.h

struct ModelRequest {
  std::string model_dir;  // an HF directory, or "builtin" / empty
  std::string pooling;    // empty: the checkpoint's own
  std::string device = "auto";
  std::string dtype = "auto";
  BankOptions banks;
  // Capture CUDA graphs of the serving forward (CUDA devices only).
  bool cuda_graphs = true;
};

// What the server needs to know about a loaded model.
struct ModelSummary {
  std::string name;
  int64_t num_layers = 0;
  int64_t hidden_size = 0;
  int64_t num_parameters = 0;
  std::string fingerprint;                     // the backbone's
  std::vector<std::string> bank_fingerprints;  // adapter bank, prototype
  int64_t num_adapters = 0;
  int64_t bottleneck = 0;
  int64_t shared_heads = 0;
  std::string device;  // "cpu", "cuda:0"
};

// The device the options select, as "cpu (float32)"; INVALID_ARGUMENT
// naming "device" or "dtype" when they are unknown or unavailable.
absl::StatusOr<std::string> CheckDevice(const std::string& device, const std::string& dtype);

absl::StatusOr<std::shared_ptr<const LoadedModel>> LoadModel(const ModelRequest& request);

ModelSummary Summarize(const LoadedModel& model);

// Bytes the engine has allocated on the model's device (0 on CPU).
int64_t DeviceMemoryBytes(const LoadedModel& model);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_MODEL_LOADING_H_
