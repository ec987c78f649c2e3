#include "server/maskserve_server.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/error.h"
#include "core/model/backbone.h"
#include "core/model/device.h"
#include "core/peft/adapter_bank.h"
#include "core/peft/shared_heads.h"
#include "server/auth.h"
#include "server/instrumented_store.h"
#include "server/log.h"
#include "server/maskserve_service.h"
#include "server/metrics/callback_collector.h"
#include "server/metrics/metrics_exposer.h"
#include "server/metrics/process_metrics_collector.h"
#include "server/metrics/registry.h"
#include "server/model_info.h"
#include "server/predict_batcher.h"
#include "server/profile_table.h"
#include "server/resident_profile.h"
#include "server/server_metrics.h"
#include "server/status_util.h"
#include "server/training_manager.h"
#include "storage/rocksdb_profile_store.h"

namespace maskserve {

namespace {

constexpr char kServiceName[] = "maskserve.v1.Maskserve";

void SetServing(grpc::Server* server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(serving);
  health->SetServingStatus(kServiceName, serving);
}

absl::StatusOr<std::string> ReadFile(const std::string& field, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(field, ": cannot read '", path, "'"));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const TlsOptions& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError("tls_client_ca: needs tls_cert and tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert, tls_key: both are needed for TLS");
  }
  absl::StatusOr<std::string> cert = ReadFile("tls_cert", tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile("tls_key", tls.key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("tls_client_ca", tls.client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// The shared heads of `path` placed on the serving device, or null when no
// path is configured. Throws (naming the flag) when the file cannot be read
// or was built for another backbone.
std::shared_ptr<const SharedHeadSet> LoadSharedHeads(const std::string& path,
                                                     const BertModel& model) {
  if (path.empty()) return nullptr;
  std::shared_ptr<SharedHeadSet> heads;
  try {
    heads = std::make_shared<SharedHeadSet>(SharedHeadSet::Load(path));
  } catch (const EngineError& e) {
    throw EngineError(e.code(), std::string("shared_heads: ") + e.what());
  }
  if (heads->backbone_fingerprint() != model.fingerprint()) {
    throw FailedPrecondition(
        absl::StrCat("shared_heads: '", path, "' was built for another backbone (",
                     heads->backbone_fingerprint().substr(0, 16), "...), not the loaded ",
                     model.config().name, " (", model.fingerprint().substr(0, 16),
                     "...); rebuild the heads with maskserve_build_bank for this backbone"));
  }
  for (const SharedHead& head : heads->heads()) {
    if (head.weight.size(1) != model.config().hidden_size) {
      throw InvalidArgument(absl::StrCat("shared_heads: head '", head.name,
                                         "' has d=", head.weight.size(1), ", the backbone's is ",
                                         model.config().hidden_size));
    }
  }
  heads->Place(model.device());
  return heads;
}

ServingBanks LoadBanks(const BankOptions& options, const BertModel& model) {
  const BertConfig& c = model.config();
  const int64_t bottleneck =
      options.bottleneck > 0 ? options.bottleneck : DefaultBottleneck(c.hidden_size);
  ServingBanks banks;
  if (!options.adapter_bank_path.empty()) {
    banks.adapters =
        std::make_shared<AdapterBank>(AdapterBank::Load(options.adapter_bank_path, model.device()));
  } else {
    AdapterBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = bottleneck;
    config.num_adapters = options.num_adapters;
    config.top_k = options.top_k;
    banks.adapters =
        std::make_shared<AdapterBank>(AdapterBank::Random(config, model.device(), options.seed));
  }
  if (!options.prototype_path.empty()) {
    banks.prototype = std::make_shared<PrototypeBank>(
        PrototypeBank::Load(options.prototype_path, model.device()));
  } else {
    PrototypeBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = bottleneck;
    banks.prototype = std::make_shared<PrototypeBank>(
        PrototypeBank::Random(config, model.device(), options.seed + 1));
  }
  const AdapterBankConfig& a = banks.adapters->config();
  const PrototypeBankConfig& p = banks.prototype->config();
  if (a.num_layers != c.num_hidden_layers || a.hidden_size != c.hidden_size ||
      p.num_layers != c.num_hidden_layers || p.hidden_size != c.hidden_size) {
    throw InvalidArgument("adapter_bank/prototype: their L and d must match the backbone's (L=" +
                          std::to_string(c.num_hidden_layers) +
                          ", d=" + std::to_string(c.hidden_size) + ")");
  }
  banks.heads = LoadSharedHeads(options.shared_heads_path, model);
  return banks;
}

}  // namespace

// Everything behind the gRPC service, in construction order (destroyed in
// reverse: workers stop before the store closes).
struct ServerComponents {
  std::shared_ptr<metrics::Registry> registry;
  std::unique_ptr<ServerMetrics> metrics;
  std::shared_ptr<metrics::ProcessMetricsCollector> process_metrics;
  std::shared_ptr<metrics::CallbackCollector> gauges;
  std::unique_ptr<RocksDbProfileStore> rocksdb;
  std::unique_ptr<InstrumentedStore> store;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<ProfileTable> profiles;
  std::unique_ptr<PredictBatcher> batcher;
  std::unique_ptr<TrainingManager> trainer;
  // Last, so it is destroyed first: its scrapes call into the parts above.
  std::unique_ptr<metrics::MetricsExposer> exposer;

  void Stop() {
    if (batcher) batcher->Stop();
    if (trainer) trainer->Shutdown();
  }
};

MaskserveServer::MaskserveServer() = default;

absl::StatusOr<std::unique_ptr<MaskserveServer>> MaskserveServer::Start(
    const ServerOptions& options) {
  DeviceSpec device;
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    device = ResolveDevice(options.device, options.dtype);
    return absl::OkStatus();
  }));
  if (options.batching.intra_op_threads < 0) {
    return absl::InvalidArgumentError("intra_op_threads: must be >= 0 (0 = one per core)");
  }
  if (options.training_intra_op_threads < 0) {
    return absl::InvalidArgumentError("training_intra_op_threads: must be >= 0 (0 = one per core)");
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<Authenticator> auth;
  if (options.api_keys_file.empty()) {
    auth = Authenticator::Development();
  } else {
    absl::StatusOr<std::unique_ptr<Authenticator>> loaded =
        Authenticator::FromFile(options.api_keys_file);
    if (!loaded.ok()) return loaded.status();
    auth = std::move(*loaded);
  }

  std::unique_ptr<MaskserveServer> server(new MaskserveServer());
  server->service_ = std::make_unique<MaskserveService>();
  server->components_ = std::make_unique<ServerComponents>();
  ServerComponents& parts = *server->components_;
  parts.auth = std::move(auth);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, *credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("address: cannot listen on '", options.address, "'"));
  }
  // Reachable from here on, but NOT_SERVING until everything is loaded.
  SetServing(server->server_.get(), false);
  MASKSERVE_LOG(INFO) << "maskserve " << ServerVersion() << " listening on port " << server->port_
                      << (options.tls.cert_file.empty() ? "" : " (TLS)") << "; loading backbone "
                      << (options.model_dir.empty() ? kBuiltinModelDir : options.model_dir)
                      << " on " << DeviceName(device.device) << " (" << DtypeName(device.dtype)
                      << ")";
  if (parts.auth->development()) {
    MASKSERVE_LOG(WARNING) << "NO API KEY FILE: development mode, every caller is tenant '"
                           << kDevelopmentTenant << "'. Set --api_keys_file in production.";
  }

  auto fail = [&](absl::Status status) {
    server->Shutdown(absl::ZeroDuration());
    return status;
  };
  const absl::Time load_start = absl::Now();
  auto deps = std::make_shared<ServiceDependencies>();
  absl::Status loaded = CatchEngineErrors([&] {
    deps->backbone =
        LoadBackbone(options.model_dir, device, ParsePoolingOverride(options.pooling, "pooling"));
    deps->banks = LoadBanks(options.banks, *deps->backbone.model);
    return absl::OkStatus();
  });
  if (!loaded.ok()) return fail(loaded);
  const BertModel& model = *deps->backbone.model;

  RocksDbProfileStore::Options store_options;
  store_options.data_dir = options.data_dir;
  store_options.backbone_fingerprint = model.fingerprint();
  store_options.bank_fingerprints = {deps->banks.adapters->fingerprint(),
                                     deps->banks.prototype->fingerprint()};
  store_options.migrate_fingerprints = options.migrate_fingerprints;
  store_options.max_profiles_per_tenant = options.limits.max_profiles_per_tenant;
  store_options.block_cache_bytes = size_t(options.store_block_cache_bytes);
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store =
      RocksDbProfileStore::Open(std::move(store_options));
  if (!store.ok()) {
    return fail(
        absl::Status(store.status().code(), absl::StrCat("data_dir: ", store.status().message())));
  }
  parts.rocksdb = std::move(*store);

  // Metrics.
  parts.registry = std::make_shared<metrics::Registry>();
  parts.metrics = std::make_unique<ServerMetrics>(*parts.registry);
  parts.process_metrics = std::make_shared<metrics::ProcessMetricsCollector>();
  parts.gauges = std::make_shared<metrics::CallbackCollector>();
  parts.store = std::make_unique<InstrumentedStore>(parts.rocksdb.get(), parts.metrics.get());
  if (!options.metrics_address.empty()) {
    metrics::MetricsExposer::Options exposer_options;
    exposer_options.address = options.metrics_address;
    absl::StatusOr<std::unique_ptr<metrics::MetricsExposer>> exposer =
        metrics::MetricsExposer::Create(exposer_options);
    if (!exposer.ok()) {
      return fail(absl::Status(exposer.status().code(),
                               absl::StrCat("metrics_address: ", exposer.status().message())));
    }
    parts.exposer = std::move(*exposer);
    parts.exposer->RegisterCollectable(parts.registry);
    parts.exposer->RegisterCollectable(parts.process_metrics);
    parts.exposer->RegisterCollectable(parts.gauges);
  }

  // Serving and training.
  ServerMetrics* metrics = parts.metrics.get();
  ProfileStore* profile_store = parts.store.get();
  const Backbone backbone = deps->backbone;
  const ServingBanks banks = deps->banks;
  ProfileTable::Options table_options;
  table_options.max_bytes = options.profile_cache_bytes;
  parts.profiles = std::make_unique<ProfileTable>(
      table_options,
      [profile_store, backbone, banks, metrics](
          const std::string& tenant, const std::string& id) -> absl::StatusOr<ProfileHandle> {
        absl::StatusOr<StoredProfile> stored = profile_store->GetProfile(tenant, id);
        if (!stored.ok()) return stored.status();
        metrics->profile_loads.Increment();
        return MakeResidentProfile(tenant, id, stored->profile.version(), stored->payload, backbone,
                                   banks);
      });
  PredictBatcher::Options batching;
  batching.max_batch_sequences = options.batching.max_batch_sequences;
  batching.max_batch_tokens = options.batching.max_batch_tokens;
  batching.max_queue_delay =
      absl::Microseconds(int64_t(options.batching.max_queue_delay_ms * 1000));
  batching.max_queued_sequences = options.batching.max_queued_sequences;
  batching.max_queued_sequences_per_tenant = options.batching.max_queued_sequences_per_tenant;
  batching.intra_op_threads = options.batching.intra_op_threads;
  parts.batcher = std::make_unique<PredictBatcher>(
      batching, deps->backbone.model, [metrics](const BatchStats& stats) {
        metrics->batch_sequences.Observe(double(stats.sequences));
        metrics->batch_tokens.Observe(double(stats.tokens));
        metrics->batch_profiles.Observe(double(stats.profiles));
        metrics->backbone_forward_seconds.Observe(stats.forward_seconds);
        for (double wait : stats.queue_seconds) metrics->queue_wait_seconds.Observe(wait);
      });
  TrainingManager::Options training;
  training.workers = options.training_workers;
  training.intra_op_threads = options.training_intra_op_threads;
  training.max_unfinished_jobs_per_tenant = options.max_unfinished_jobs_per_tenant;
  TrainingManager::Hooks hooks;
  ProfileTable* table = parts.profiles.get();
  hooks.on_published = [table, metrics](const ProfileHandle& profile) {
    if (table->Publish(profile)) metrics->hot_swaps.Increment();
  };
  hooks.on_training_finished = [metrics](double seconds) {
    metrics->training_duration_seconds.Observe(seconds);
  };
  parts.trainer = std::make_unique<TrainingManager>(training, profile_store, deps->backbone,
                                                    deps->banks, hooks);
  MASKSERVE_RETURN_IF_ERROR(parts.trainer->Start());

  // Values computed at scrape time.
  PredictBatcher* batcher = parts.batcher.get();
  TrainingManager* trainer = parts.trainer.get();
  (void)parts.gauges->AddGauge("maskserve_queue_depth", "Sequences waiting in the batching queue.",
                               {}, [batcher] { return double(batcher->queued_sequences()); });
  RocksDbProfileStore* rocksdb = parts.rocksdb.get();
  (void)parts.gauges->AddGauge("maskserve_profiles_stored",
                               "Live profiles in the store, all tenants.", {},
                               [rocksdb] { return double(rocksdb->TotalProfileCount()); });
  (void)parts.gauges->AddGauge("maskserve_profiles_resident", "Profiles in the resident table.", {},
                               [table] { return double(table->resident_count()); });
  (void)parts.gauges->AddGauge("maskserve_profiles_resident_bytes",
                               "Memory held by resident profiles.", {},
                               [table] { return double(table->resident_bytes()); });
  for (v1::JobState state : {v1::QUEUED, v1::RUNNING}) {
    (void)parts.gauges->AddGauge("maskserve_training_jobs",
                                 "Training jobs in this process by state.",
                                 {{"state", v1::JobState_Name(state)}}, [trainer, state] {
                                   auto counts = trainer->CountByState();
                                   auto it = counts.find(state);
                                   return it == counts.end() ? 0.0 : double(it->second);
                                 });
  }
  (void)parts.gauges->AddGauge(
      "maskserve_device_memory_bytes", "Memory allocated by the engine on the serving device.",
      {{"device", DeviceName(device.device)}},
      [device] { return double(DeviceMemoryAllocatedBytes(device.device)); });

  deps->limits = options.limits;
  deps->model_info = BuildModelInfo(deps->backbone, deps->banks, options.limits);
  deps->auth = parts.auth.get();
  deps->store = profile_store;
  deps->profiles = table;
  deps->batcher = batcher;
  deps->trainer = trainer;
  deps->metrics = metrics;
  server->service_->Ready(deps);
  MASKSERVE_LOG(INFO) << "backbone " << model.config().name
                      << " ready: L=" << model.config().num_hidden_layers
                      << " d=" << model.config().hidden_size << " params=" << model.num_parameters()
                      << " fingerprint " << model.fingerprint().substr(0, 16)
                      << "; adapter bank N=" << deps->banks.adapters->config().num_adapters
                      << " b=" << deps->banks.adapters->config().bottleneck << "; "
                      << (deps->banks.heads ? deps->banks.heads->heads().size() : 0)
                      << " shared heads; store " << options.data_dir
                      << (parts.exposer ? absl::StrCat("; metrics on port ", parts.exposer->port())
                                        : "")
                      << " (" << absl::FormatDuration(absl::Now() - load_start) << ")";
  SetServing(server->server_.get(), true);
  return server;
}

MaskserveServer::~MaskserveServer() { Shutdown(absl::ZeroDuration()); }

int MaskserveServer::metrics_port() const {
  return components_ && components_->exposer ? components_->exposer->port() : 0;
}

void MaskserveServer::Shutdown(absl::Duration drain) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  MASKSERVE_LOG(INFO) << "draining for up to " << absl::FormatDuration(drain);
  SetServing(server_.get(), false);
  service_->Drain();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + drain));
  if (components_) {
    components_->Stop();
    components_.reset();  // closes the store
  }
  MASKSERVE_LOG(INFO) << "stopped";
}

void MaskserveServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace maskserve
