// File: server/server_options.h
//
// Everything the server is configured with. Flags and environment variables
// are read only in server/main.cc and turned into these structs; libraries
// never read flags.
#ifndef MASKSERVE_SERVER_SERVER_OPTIONS_H_
#define MASKSERVE_SERVER_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>

namespace maskserve {

// Input limits enforced on every RPC (reported by GetModelInfo).
struct LimitsOptions {
  uint32_t max_inputs_per_request = 256;
  uint32_t max_text_bytes = 16 * 1024;
  uint32_t max_examples_per_job = 10000;
  uint32_t max_labels = 64;
  uint32_t max_sequence_length = 128;
  uint64_t max_profiles_per_tenant = 1000000;
};

struct ServerOptions {
  // gRPC listen address, e.g. "0.0.0.0:50051" or "127.0.0.1:0" (any free port).
  std::string address = "0.0.0.0:50051";
  // Directory of the RocksDB store.
  std::string data_dir = "./maskserve-data";
  // HF model directory (config.json, vocab.txt, model.safetensors); empty
  // selects the deterministic built-in tiny BERT.
  std::string model_dir;
  // "auto", "cpu", "cuda", "cuda:N" and "auto", "float32", "float16", "bfloat16".
  std::string device = "auto";
  std::string dtype = "auto";
  // Seconds SIGTERM waits for in-flight work before cancelling it.
  double drain_timeout_seconds = 10.0;
  LimitsOptions limits;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_SERVER_OPTIONS_H_
