// File: server/engine/engine_options.h
//
// What the engine is configured with: input limits, the batcher's budgets,
// the resident table and the training workers (BankOptions say which banks
// LoadModel loads; server/engine/model_loading.h). ServerOptions
// (server/server_options.h) holds one, filled from flags by server/main.cc;
// libraries never read flags.
#ifndef MASKSERVE_SERVER_ENGINE_ENGINE_OPTIONS_H_
#define MASKSERVE_SERVER_ENGINE_ENGINE_OPTIONS_H_

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
  // A profile's description (TrainProfile, ImportProfile).
  uint32_t max_description_bytes = 1024;
  // Training budgets, checked when a job is submitted: tokens in one
  // optimiser step (batch_size x max_sequence_length), which bounds its
  // activation memory, and token passes in the whole job (examples x
  // max_sequence_length x (epochs + 1)).
  uint64_t max_train_tokens_per_step = 8192;
  uint64_t max_train_tokens_per_job = uint64_t{64} << 20;
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
  // 0 = by device: 256 sequences and 32768 tokens on a GPU, 64 and 16384
  // on the CPU.
  int64_t max_batch_sequences = 0;
  int64_t max_batch_tokens = 0;
  double max_queue_delay_ms = 2.0;
  // LibTorch intra-op threads of the serving forward; 0 = one per core.
  int intra_op_threads = 0;
  int64_t max_queued_sequences = 4096;
  int64_t max_queued_sequences_per_tenant = 2048;
};

struct EngineOptions {
  LimitsOptions limits;
  BatchingOptions batching;
  // Resident profile table budget.
  int64_t profile_cache_bytes = int64_t{1} << 30;
  int training_workers = 1;
  // LibTorch intra-op threads of each training worker; 0 = one per core.
  int training_intra_op_threads = 1;
  // Unfinished (queued or running) training jobs one tenant may have.
  int64_t max_unfinished_jobs_per_tenant = 100;
  // Runs a job may start before a crash during it ends it FAILED.
  int max_job_attempts = 2;
  // Longest one training job may run (then FAILED); 0 = no limit.
  double max_training_seconds_per_job = 3600;
  // Open WatchTrainingJob streams, in all and per tenant.
  int64_t max_watch_streams = 256;
  int64_t max_watch_streams_per_tenant = 32;
  // Roles (--roles): answer Predict (serve) and run training jobs (train).
  // A serving-only engine stores TrainProfile's jobs for the trainers that
  // share its store; a training-only one refuses Predict.
  bool serve = true;
  bool train = true;
  // On a shared store: how long a trainer's claim on a job holds without
  // renewal (a trainer that died frees its job after this long).
  double job_lease_seconds = 30;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_ENGINE_OPTIONS_H_
