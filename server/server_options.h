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

// The shared PEFT banks and heads. Paths load trained ("warm") banks;
// otherwise they are random from the seeds (deterministic, so restarts and
// replicas agree).
struct BankOptions {
  std::string adapter_bank_path;  // X-PEFT bank (safetensors), or random
  std::string prototype_path;     // ProPETL prototype (safetensors), or random
  // Shared classification heads (safetensors written by maskserve_build_bank
  // --shared_heads_out or SharedHeadSet::Save); empty = none. They must have
  // been built for the loaded backbone (its fingerprint).
  std::string shared_heads_path;
  int64_t num_adapters = 100;  // N of a random bank
  int64_t top_k = 50;          // default k of X-PEFT hard profiles
  int64_t bottleneck = 0;      // b of random banks; 0 = d/16
  uint64_t seed = 1234;        // seed of random banks
};

struct BatchingOptions {
  int64_t max_batch_sequences = 64;
  int64_t max_batch_tokens = 16384;
  double max_queue_delay_ms = 2.0;
  // LibTorch intra-op threads of the serving forward; 0 = one per core.
  int intra_op_threads = 0;
  int64_t max_queued_sequences = 4096;
  int64_t max_queued_sequences_per_tenant = 2048;
};

struct TlsOptions {
  std::string cert_file;       // server certificate chain (PEM); empty = plaintext
  std::string key_file;        // its private key (PEM)
  std::string client_ca_file;  // if set, clients must present a certificate it signed (mTLS)
};

struct ServerOptions {
  // gRPC listen address, e.g. "0.0.0.0:50051" or "127.0.0.1:0" (any free port).
  std::string address = "0.0.0.0:50051";
  // Directory of the RocksDB store.
  std::string data_dir = "./maskserve-data";
  // HF model directory (config.json, vocab.txt, model.safetensors), or
  // "builtin" (or empty) for the deterministic built-in tiny BERT.
  std::string model_dir = "builtin";
  // Sentence vector for the heads: "pooler", "cls", "mean"; empty = the
  // checkpoint's (its sentence-transformers pooling config, else pooler).
  std::string pooling;
  // "auto", "cpu", "cuda", "cuda:N" and "auto", "float32", "float16", "bfloat16".
  std::string device = "auto";
  std::string dtype = "auto";
  // Seconds SIGTERM waits for in-flight work before cancelling it.
  double drain_timeout_seconds = 10.0;
  // Prometheus /metrics HTTP address; empty disables it.
  std::string metrics_address = "0.0.0.0:9464";
  // API key file (see server/auth.h); empty = development mode.
  std::string api_keys_file;
  // Accept a store written for other backbone/bank fingerprints, recording
  // the new ones (profiles of the old bank are then refused when served).
  bool migrate_fingerprints = false;
  // Resident profile table budget.
  int64_t profile_cache_bytes = int64_t{1} << 30;
  // RocksDB block cache.
  int64_t store_block_cache_bytes = int64_t{256} << 20;
  int training_workers = 1;
  // LibTorch intra-op threads of each training worker (which also runs at
  // nice +10, so serving wins contended cores); 0 = one per core.
  int training_intra_op_threads = 1;
  // Unfinished (queued or running) training jobs one tenant may have;
  // beyond it TrainProfile is RESOURCE_EXHAUSTED.
  int64_t max_unfinished_jobs_per_tenant = 100;
  LimitsOptions limits;
  BankOptions banks;
  BatchingOptions batching;
  TlsOptions tls;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_SERVER_OPTIONS_H_
