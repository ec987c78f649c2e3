// File: server/server_options.h
//
// Everything the server is configured with. Flags and environment variables
// are read only in server/main.cc and turned into these structs; libraries
// never read flags.
#ifndef MASKSERVE_SERVER_SERVER_OPTIONS_H_
#define MASKSERVE_SERVER_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "server/engine/engine_options.h"

namespace maskserve {

struct TlsOptions {
  std::string cert_file;       // server certificate chain (PEM); empty = plaintext
  std::string key_file;        // its private key (PEM)
  std::string client_ca_file;  // if set, clients must present a certificate it signed (mTLS)
};

struct ServerOptions {
  // gRPC listen address, e.g. "0.0.0.0:50051" or "127.0.0.1:0" (any free port).
  std::string address = "0.0.0.0:50051";
  // The profile store: "rocksdb" (in data_dir) or a PostgreSQL URI
  // ("postgresql://user@host/db"), which replicas may share.
  std::string store = "rocksdb";
  // What this process does (server/roles.h): "serve", "train" or both.
  // Splitting them needs a shared (PostgreSQL) store.
  std::string roles = "serve,train";
  // Connections a PostgreSQL store keeps for concurrent calls (plus one for
  // its change feed).
  int postgres_pool_size = 8;
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
  // Replay the serving forward as CUDA graphs (on a CUDA device).
  bool cuda_graphs = true;
  // Seconds SIGTERM waits for in-flight work before cancelling it.
  double drain_timeout_seconds = 10.0;
  // Prometheus /metrics HTTP address; empty disables it.
  std::string metrics_address = "0.0.0.0:9464";
  // API key file (see server/auth.h); empty = development mode, which
  // accepts only loopback clients unless allow_unauthenticated.
  std::string api_keys_file;
  // Development mode accepts clients from any host (no authentication at
  // all: anyone who reaches the port can train, import and delete).
  bool allow_unauthenticated = false;
  // Admin key file (same format; names instead of tenants) for the
  // maskserve.v1.Admin service; empty = admin calls only in development mode.
  std::string admin_keys_file;
  // Directory that CreateBackup's relative paths are resolved in (and
  // absolute ones must lie under); empty = absolute paths anywhere.
  std::string backup_root;
  // Accept a store written for other backbone/bank fingerprints, recording
  // the new ones (profiles of the old bank are then refused when served).
  bool migrate_fingerprints = false;
  // RocksDB block cache.
  int64_t store_block_cache_bytes = int64_t{256} << 20;
  // Threads gRPC may use for calls; beyond them new calls are
  // RESOURCE_EXHAUSTED.
  int max_rpc_threads = 1024;
  // Largest request message accepted (RESOURCE_EXHAUSTED beyond).
  int64_t max_message_bytes = int64_t{64} << 20;
  // Input limits, batching, the resident table and training.
  EngineOptions engine;
  BankOptions banks;
  TlsOptions tls;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_SERVER_OPTIONS_H_
