// maskserve: the server binary. Reads flags (each also settable through the
// environment variable MASKSERVE_<FLAG_NAME_IN_CAPITALS>; a flag given on the
// command line wins), starts the server and drains it on SIGTERM/SIGINT.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/engine/model_info.h"
#include "server/log.h"
#include "server/maskserve_server.h"
#include "storage/rocksdb_profile_store.h"

ABSL_FLAG(std::string, address, "0.0.0.0:50051", "gRPC listen address (host:port; port 0 = any)");
ABSL_FLAG(std::string, store, "rocksdb",
          "Profile store: 'rocksdb' (embedded, in --data_dir) or a PostgreSQL URI "
          "(postgresql://user[:password]@host[:port]/database) that replicas may share");
ABSL_FLAG(std::string, roles, "serve,train",
          "What this process does: serve (answer Predict), train (run training jobs) or "
          "serve,train; splitting them needs a shared --store=postgresql://...");
ABSL_FLAG(int32_t, postgres_pool_size, 8,
          "Connections a PostgreSQL --store keeps for concurrent calls (each process also "
          "holds one for its change feed)");
ABSL_FLAG(double, job_lease_seconds, 30,
          "On a shared store: how long a trainer's claim on a job holds without renewal (a "
          "trainer that died frees its jobs after this long)");
ABSL_FLAG(std::string, data_dir, "./maskserve-data", "Directory of the RocksDB profile store");
ABSL_FLAG(std::string, model_dir, MASKSERVE_DEFAULT_MODEL_DIR,
          "HF model directory (config.json, vocab.txt, model.safetensors); 'builtin' = the "
          "built-in tiny random BERT (for tests)");
ABSL_FLAG(std::string, pooling, "",
          "Sentence vector the heads see: pooler (tanh over [CLS]), cls or mean; empty = the "
          "checkpoint's (1_Pooling/config.json, else pooler)");
ABSL_FLAG(std::string, device, "auto", "Serving device: auto, cpu, cuda or cuda:N");
ABSL_FLAG(std::string, dtype, "auto", "Weight dtype: auto, float32, float16 or bfloat16");
ABSL_FLAG(bool, cuda_graphs, true,
          "On a CUDA device, replay the serving forward as CUDA graphs (per batch/length bucket)");
ABSL_FLAG(double, drain_timeout_seconds, 10.0, "How long SIGTERM waits for in-flight work");
ABSL_FLAG(std::string, port_file, "", "If set, write the bound gRPC port to this file");
ABSL_FLAG(uint32_t, max_inputs_per_request, 256, "Most inputs one Predict call may carry");
ABSL_FLAG(uint32_t, max_text_bytes, 16 * 1024, "Most UTF-8 bytes per text");
ABSL_FLAG(uint32_t, max_examples_per_job, 10000, "Most examples one TrainProfile call may carry");
ABSL_FLAG(uint32_t, max_labels, 64, "Most labels per profile");
ABSL_FLAG(uint32_t, max_sequence_length, 128, "Most tokens per sequence, specials included");
ABSL_FLAG(uint64_t, max_profiles_per_tenant, 1000000, "Most profiles one tenant may store");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9464",
          "Prometheus /metrics HTTP address (host:port; empty disables)");
ABSL_FLAG(std::string, api_keys_file, "",
          "File of '<tenant> <sha256 hex of key>' lines; empty = development mode (one tenant)");
ABSL_FLAG(bool, allow_unauthenticated, false,
          "Without --api_keys_file, accept clients from any host (default: loopback only). "
          "Anyone who reaches the port can then train, import and delete");
ABSL_FLAG(std::string, admin_keys_file, "",
          "File of '<name> <sha256 hex of key>' lines for the maskserve.v1.Admin service "
          "(backups); empty = admin calls only in development mode");
ABSL_FLAG(std::string, backup_root, "",
          "Directory that CreateBackup's relative paths are resolved in (absolute ones must "
          "lie under it); empty = absolute paths anywhere the server can write");
ABSL_FLAG(std::string, restore_from, "",
          "Restore the backup in this directory into --data_dir (which must be empty or "
          "absent), then exit without serving");
ABSL_FLAG(bool, migrate_fingerprints, false,
          "Accept a store written for another backbone or bank, recording the new fingerprints");
ABSL_FLAG(int64_t, profile_cache_bytes, int64_t{1} << 30, "Budget of the resident profile table");
ABSL_FLAG(int64_t, store_block_cache_bytes, int64_t{256} << 20, "RocksDB block cache size");
ABSL_FLAG(int32_t, training_workers, 1, "Training jobs run at the same time");
ABSL_FLAG(int32_t, training_intra_op_threads, 1,
          "LibTorch intra-op threads of each training job (0 = one per core)");
ABSL_FLAG(int32_t, intra_op_threads, 0,
          "LibTorch intra-op threads of the serving forward (0 = one per core)");
ABSL_FLAG(std::string, adapter_bank, "",
          "Trained X-PEFT adapter bank (safetensors); empty = random");
ABSL_FLAG(std::string, prototype, "", "Trained ProPETL prototype (safetensors); empty = random");
ABSL_FLAG(std::string, shared_heads, "",
          "Shared classification heads (safetensors from maskserve_build_bank "
          "--shared_heads_out) for the loaded backbone; empty = none");
ABSL_FLAG(int64_t, num_adapters, 100, "N, adapters per layer of a random X-PEFT bank");
ABSL_FLAG(int64_t, top_k, 50, "Default k of X-PEFT hard profiles");
ABSL_FLAG(int64_t, bottleneck, 0, "Bottleneck b of random banks; 0 = hidden size / 16");
ABSL_FLAG(uint64_t, bank_seed, 1234, "Seed of random banks");
ABSL_FLAG(int64_t, max_batch_sequences, 0,
          "Most sequences in one backbone forward; 0 = by device (GPU 256, CPU 64)");
ABSL_FLAG(int64_t, max_batch_tokens, 0,
          "Most padded tokens in one backbone forward; 0 = by device (GPU 32768, CPU 16384)");
ABSL_FLAG(double, max_queue_delay_ms, 2.0, "Longest a request waits for its batch to fill");
ABSL_FLAG(int64_t, max_queued_sequences, 4096,
          "Sequences that may wait; beyond it Predict is RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_queued_sequences_per_tenant, 2048,
          "Sequences one tenant may have waiting (its share of the queue)");
ABSL_FLAG(int64_t, max_unfinished_jobs_per_tenant, 100,
          "Queued or running training jobs one tenant may have");
ABSL_FLAG(uint32_t, max_description_bytes, 1024, "Most bytes of a profile's description");
ABSL_FLAG(uint64_t, max_train_tokens_per_step, 8192,
          "Training budget: batch_size x max_sequence_length of one optimiser step");
ABSL_FLAG(uint64_t, max_train_tokens_per_job, uint64_t{64} << 20,
          "Training budget: examples x max_sequence_length x (epochs + 1) of one job");
ABSL_FLAG(double, max_training_seconds_per_job, 3600,
          "Longest one training job may run before it ends FAILED; 0 = no limit");
ABSL_FLAG(int32_t, max_job_attempts, 2,
          "Runs a training job may start; a job running when the server died this many times "
          "ends FAILED instead of running again");
ABSL_FLAG(int64_t, max_watch_streams, 256, "Open WatchTrainingJob streams, all tenants");
ABSL_FLAG(int64_t, max_watch_streams_per_tenant, 32, "Open WatchTrainingJob streams per tenant");
ABSL_FLAG(int32_t, max_rpc_threads, 1024, "Threads gRPC may use for calls");
ABSL_FLAG(int64_t, max_message_bytes, int64_t{64} << 20, "Largest request message accepted");
ABSL_FLAG(std::string, tls_cert, "", "Server certificate chain (PEM); empty = plaintext");
ABSL_FLAG(std::string, tls_key, "", "Private key of --tls_cert (PEM)");
ABSL_FLAG(std::string, tls_client_ca, "", "CA (PEM) that client certificates must chain to (mTLS)");

namespace maskserve {
namespace {

// Flags that may also come from MASKSERVE_<NAME> environment variables.
const char* const kEnvFlags[] = {
    "address",
    "store",
    "roles",
    "postgres_pool_size",
    "job_lease_seconds",
    "data_dir",
    "model_dir",
    "pooling",
    "device",
    "dtype",
    "cuda_graphs",
    "drain_timeout_seconds",
    "port_file",
    "max_inputs_per_request",
    "max_text_bytes",
    "max_examples_per_job",
    "max_labels",
    "max_sequence_length",
    "max_profiles_per_tenant",
    "metrics_address",
    "api_keys_file",
    "allow_unauthenticated",
    "admin_keys_file",
    "backup_root",
    "migrate_fingerprints",
    "profile_cache_bytes",
    "store_block_cache_bytes",
    "training_workers",
    "training_intra_op_threads",
    "intra_op_threads",
    "adapter_bank",
    "prototype",
    "shared_heads",
    "num_adapters",
    "top_k",
    "bottleneck",
    "bank_seed",
    "max_batch_sequences",
    "max_batch_tokens",
    "max_queue_delay_ms",
    "max_queued_sequences",
    "max_queued_sequences_per_tenant",
    "max_unfinished_jobs_per_tenant",
    "max_description_bytes",
    "max_train_tokens_per_step",
    "max_train_tokens_per_job",
    "max_training_seconds_per_job",
    "max_job_attempts",
    "max_watch_streams",
    "max_watch_streams_per_tenant",
    "max_rpc_threads",
    "max_message_bytes",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
};

// Applies environment variables as new flag defaults; returns false (after
// printing why) when one does not parse.
bool ApplyEnvironment() {
  for (const char* name : kEnvFlags) {
    std::string env = "MASKSERVE_" + absl::AsciiStrToUpper(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "maskserve: %s='%s': %s\n", env.c_str(), value, error.c_str());
      return false;
    }
  }
  return true;
}

int g_signal_pipe[2] = {-1, -1};

void ForwardSignal(int signal_number) {
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  ssize_t ignored = write(g_signal_pipe[1], &byte, 1);  // async-signal-safe
  (void)ignored;
}

bool InstallShutdownSignalHandlers() {
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    std::perror("maskserve: pipe2");
    return false;
  }
  struct sigaction action = {};
  action.sa_handler = ForwardSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return sigaction(SIGTERM, &action, nullptr) == 0 && sigaction(SIGINT, &action, nullptr) == 0;
}

// Blocks until SIGTERM or SIGINT arrives; returns its number.
int WaitForShutdownSignal() {
  unsigned char byte = 0;
  while (read(g_signal_pipe[0], &byte, 1) != 1) {
  }
  return byte;
}

ServerOptions OptionsFromFlags() {
  ServerOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.store = absl::GetFlag(FLAGS_store);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  options.pooling = absl::GetFlag(FLAGS_pooling);
  options.device = absl::GetFlag(FLAGS_device);
  options.dtype = absl::GetFlag(FLAGS_dtype);
  options.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  options.drain_timeout_seconds = absl::GetFlag(FLAGS_drain_timeout_seconds);
  options.engine.limits.max_inputs_per_request = absl::GetFlag(FLAGS_max_inputs_per_request);
  options.engine.limits.max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes);
  options.engine.limits.max_examples_per_job = absl::GetFlag(FLAGS_max_examples_per_job);
  options.engine.limits.max_labels = absl::GetFlag(FLAGS_max_labels);
  options.engine.limits.max_sequence_length = absl::GetFlag(FLAGS_max_sequence_length);
  options.engine.limits.max_profiles_per_tenant = absl::GetFlag(FLAGS_max_profiles_per_tenant);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.api_keys_file = absl::GetFlag(FLAGS_api_keys_file);
  options.allow_unauthenticated = absl::GetFlag(FLAGS_allow_unauthenticated);
  options.admin_keys_file = absl::GetFlag(FLAGS_admin_keys_file);
  options.backup_root = absl::GetFlag(FLAGS_backup_root);
  options.migrate_fingerprints = absl::GetFlag(FLAGS_migrate_fingerprints);
  options.engine.profile_cache_bytes = absl::GetFlag(FLAGS_profile_cache_bytes);
  options.store_block_cache_bytes = absl::GetFlag(FLAGS_store_block_cache_bytes);
  options.engine.training_workers = absl::GetFlag(FLAGS_training_workers);
  options.engine.training_intra_op_threads = absl::GetFlag(FLAGS_training_intra_op_threads);
  options.engine.batching.intra_op_threads = absl::GetFlag(FLAGS_intra_op_threads);
  options.banks.adapter_bank_path = absl::GetFlag(FLAGS_adapter_bank);
  options.banks.prototype_path = absl::GetFlag(FLAGS_prototype);
  options.banks.shared_heads_path = absl::GetFlag(FLAGS_shared_heads);
  options.banks.num_adapters = absl::GetFlag(FLAGS_num_adapters);
  options.banks.top_k = absl::GetFlag(FLAGS_top_k);
  options.banks.bottleneck = absl::GetFlag(FLAGS_bottleneck);
  options.banks.seed = absl::GetFlag(FLAGS_bank_seed);
  options.engine.batching.max_batch_sequences = absl::GetFlag(FLAGS_max_batch_sequences);
  options.engine.batching.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  options.engine.batching.max_queue_delay_ms = absl::GetFlag(FLAGS_max_queue_delay_ms);
  options.engine.batching.max_queued_sequences = absl::GetFlag(FLAGS_max_queued_sequences);
  options.engine.batching.max_queued_sequences_per_tenant =
      absl::GetFlag(FLAGS_max_queued_sequences_per_tenant);
  options.engine.max_unfinished_jobs_per_tenant =
      absl::GetFlag(FLAGS_max_unfinished_jobs_per_tenant);
  options.engine.limits.max_description_bytes = absl::GetFlag(FLAGS_max_description_bytes);
  options.engine.limits.max_train_tokens_per_step = absl::GetFlag(FLAGS_max_train_tokens_per_step);
  options.engine.limits.max_train_tokens_per_job = absl::GetFlag(FLAGS_max_train_tokens_per_job);
  options.engine.max_training_seconds_per_job = absl::GetFlag(FLAGS_max_training_seconds_per_job);
  options.engine.max_job_attempts = absl::GetFlag(FLAGS_max_job_attempts);
  options.roles = absl::GetFlag(FLAGS_roles);
  options.postgres_pool_size = absl::GetFlag(FLAGS_postgres_pool_size);
  options.engine.job_lease_seconds = absl::GetFlag(FLAGS_job_lease_seconds);
  options.engine.max_watch_streams = absl::GetFlag(FLAGS_max_watch_streams);
  options.engine.max_watch_streams_per_tenant = absl::GetFlag(FLAGS_max_watch_streams_per_tenant);
  options.max_rpc_threads = absl::GetFlag(FLAGS_max_rpc_threads);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  return options;
}

// --restore_from: a one-shot restore, run before any server starts.
int RestoreBackup(const std::string& backup_dir, const std::string& data_dir) {
  const absl::Time start = absl::Now();
  const absl::Status restored = RocksDbProfileStore::RestoreCheckpoint(backup_dir, data_dir);
  if (!restored.ok()) {
    MASKSERVE_LOG(ERROR) << "cannot restore " << backup_dir << " into " << data_dir << ": "
                         << restored;
    return 1;
  }
  MASKSERVE_LOG(INFO) << "restored " << backup_dir << " into " << data_dir << " ("
                      << absl::FormatDuration(absl::Now() - start)
                      << "); start the server on it without --restore_from";
  return 0;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "maskserve: multi-tenant gRPC personalization server.\n"
      "Every flag can also be set as MASKSERVE_<FLAG> in the environment.");
  if (!ApplyEnvironment()) return 2;
  absl::ParseCommandLine(argc, argv);

  // Libraries start threads of their own (OpenBLAS at load time), so signal
  // masks cannot route SIGTERM to one thread; a handler forwards the signal
  // number through a pipe to the thread that shuts down instead.
  if (!InstallShutdownSignalHandlers()) return 1;

  ServerOptions options = OptionsFromFlags();
  if (const std::string from = absl::GetFlag(FLAGS_restore_from); !from.empty()) {
    if (options.store != "rocksdb" && !options.store.empty()) {
      MASKSERVE_LOG(ERROR) << "restore_from: restores a backup of the RocksDB store into "
                              "--data_dir; a PostgreSQL store is restored with PostgreSQL's "
                              "tools (pg_restore)";
      return 2;
    }
    return RestoreBackup(from, options.data_dir);
  }
  auto server = MaskserveServer::Start(options);
  if (!server.ok()) {
    MASKSERVE_LOG(ERROR) << "cannot start: " << server.status().ToString();
    return 1;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    std::ofstream out(port_file + ".tmp");
    out << (*server)->port() << "\n";
    out.close();
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }

  std::thread signal_waiter([&] {
    const int signal_number = WaitForShutdownSignal();
    MASKSERVE_LOG(INFO) << "received signal " << signal_number << ", shutting down";
    (*server)->Shutdown(absl::Seconds(options.drain_timeout_seconds));
  });
  (*server)->Wait();
  signal_waiter.join();
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) { return maskserve::Run(argc, argv); }
