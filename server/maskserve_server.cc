#include "server/maskserve_server.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/admin_service.h"
#include "server/auth.h"
#include "server/engine/engine.h"
#include "server/engine/model_info.h"
#include "server/engine/model_loading.h"
#include "server/instrumented_store.h"
#include "server/log.h"
#include "server/maskserve_service.h"
#include "server/metrics_endpoint.h"
#include "server/process_metrics.h"
#include "server/roles.h"
#include "server/scrape_time_metrics.h"
#include "server/server_metrics.h"
#include "server/store_factory.h"
#include "storage/status_macros.h"

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

}  // namespace

// Everything behind the gRPC service, in construction order (destroyed in
// reverse: the engine's workers stop before the store closes).
struct ServerComponents {
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<ServerMetrics> metrics;
  std::shared_ptr<ProcessMetricsCollector> process_metrics;
  std::shared_ptr<ScrapeTimeMetrics> gauges;
  OpenedStore backing;  // RocksDB or PostgreSQL
  std::unique_ptr<InstrumentedStore> store;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<Authenticator> admin_auth;  // null without --admin_keys_file
  std::unique_ptr<Engine> engine;
  // Last, so it is destroyed first: its scrapes call into the parts above.
  std::unique_ptr<MetricsEndpoint> exposer;

  void Stop() {
    if (engine) engine->Stop();
  }
};

namespace {

absl::StatusOr<std::unique_ptr<Authenticator>> LoadAuthenticator(const ServerOptions& options) {
  if (options.api_keys_file.empty()) {
    return Authenticator::Development(options.allow_unauthenticated
                                          ? Authenticator::Peers::kAny
                                          : Authenticator::Peers::kLoopbackOnly);
  }
  if (options.allow_unauthenticated) {
    return absl::InvalidArgumentError(
        "allow_unauthenticated: means 'no API keys'; it cannot be combined with --api_keys_file");
  }
  return Authenticator::FromFile(options.api_keys_file);
}

absl::StatusOr<std::unique_ptr<Authenticator>> LoadAdminAuthenticator(
    const ServerOptions& options) {
  if (options.admin_keys_file.empty()) return std::unique_ptr<Authenticator>();
  return Authenticator::FromFile(options.admin_keys_file, "admin_keys_file");
}

absl::Status CheckThreadOptions(const ServerOptions& options) {
  if (options.engine.batching.intra_op_threads < 0) {
    return absl::InvalidArgumentError("intra_op_threads: must be >= 0 (0 = one per core)");
  }
  if (options.engine.training_intra_op_threads < 0) {
    return absl::InvalidArgumentError("training_intra_op_threads: must be >= 0 (0 = one per core)");
  }
  if (options.max_rpc_threads < 2) {
    return absl::InvalidArgumentError("max_rpc_threads: must be >= 2");
  }
  if (options.max_message_bytes < 1024 || options.max_message_bytes > (int64_t{1} << 31) - 1) {
    return absl::InvalidArgumentError("max_message_bytes: must be in 1024..2147483647");
  }
  if (options.engine.max_job_attempts < 1) {
    return absl::InvalidArgumentError("max_job_attempts: must be >= 1");
  }
  if (options.postgres_pool_size < 1 || options.postgres_pool_size > 1000) {
    return absl::InvalidArgumentError("postgres_pool_size: must be in 1..1000");
  }
  if (!(options.engine.job_lease_seconds >= 1)) {
    return absl::InvalidArgumentError("job_lease_seconds: must be >= 1");
  }
  if (options.engine.max_training_seconds_per_job < 0) {
    return absl::InvalidArgumentError("max_training_seconds_per_job: must be >= 0 (0 = no limit)");
  }
  return absl::OkStatus();
}

absl::StatusOr<OpenedStore> OpenStore(const ServerOptions& options, const ModelSummary& model) {
  StoreConfig config;
  config.store = options.store;
  config.data_dir = options.data_dir;
  config.backbone_fingerprint = model.fingerprint;
  config.bank_fingerprints = model.bank_fingerprints;
  config.migrate_fingerprints = options.migrate_fingerprints;
  config.max_profiles_per_tenant = options.engine.limits.max_profiles_per_tenant;
  config.block_cache_bytes = size_t(options.store_block_cache_bytes);
  config.postgres_pool_size = options.postgres_pool_size;
  return OpenProfileStore(config);
}

EngineHooks MetricsHooks(ServerMetrics* metrics) {
  EngineHooks hooks;
  hooks.on_batch = [metrics](const BatchStats& stats) {
    metrics->batch_sequences.Observe(double(stats.sequences));
    metrics->batch_tokens.Observe(double(stats.tokens));
    metrics->batch_profiles.Observe(double(stats.profiles));
    metrics->backbone_forward_seconds.Observe(stats.forward_seconds);
    for (double wait : stats.queue_seconds) metrics->queue_wait_seconds.Observe(wait);
  };
  hooks.on_profile_load = [metrics] { metrics->profile_loads.Increment(); };
  hooks.on_hot_swap = [metrics] { metrics->hot_swaps.Increment(); };
  hooks.on_predict = [metrics](const PredictStats& stats) {
    metrics->RecordPredict(stats.tokenize_seconds, stats.queue_seconds, stats.inference_seconds,
                           stats.input_tokens);
  };
  hooks.on_training_finished = [metrics](double seconds) {
    metrics->training_duration_seconds.Observe(seconds);
  };
  hooks.on_training_busy = [metrics](const std::string& tenant, double seconds) {
    metrics->RecordTrainingBusy(tenant, seconds);
  };
  hooks.on_profile_change = [metrics](const ProfileChange& change) {
    (change.deleted ? metrics->profile_changes_deleted : metrics->profile_changes_published)
        .Increment();
    metrics->profile_change_delay_seconds.Observe(
        std::max(0.0, absl::ToDoubleSeconds(absl::Now() - change.time)));
  };
  hooks.on_change_feed = [metrics](const absl::Status& status) {
    if (status.ok()) {
      MASKSERVE_LOG(INFO) << "profile change feed connected; resident profiles revalidated";
    } else {
      metrics->change_feed_interruptions.Increment();
      MASKSERVE_LOG(WARNING) << "profile change feed interrupted (resident profiles are "
                                "confirmed with the store until it is back): "
                             << status;
    }
  };
  return hooks;
}

// Metrics and the /metrics endpoint (when an address is set).
absl::Status StartMetrics(const ServerOptions& options, ServerComponents& parts) {
  parts.registry = std::make_shared<prometheus::Registry>();
  parts.metrics = std::make_unique<ServerMetrics>(*parts.registry);
  parts.process_metrics = std::make_shared<ProcessMetricsCollector>();
  parts.gauges = std::make_shared<ScrapeTimeMetrics>();
  if (options.metrics_address.empty()) return absl::OkStatus();
  MetricsEndpoint::Options exposer_options;
  exposer_options.address = options.metrics_address;
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> exposer =
      MetricsEndpoint::Start(exposer_options);
  if (!exposer.ok()) {
    return absl::Status(exposer.status().code(),
                        absl::StrCat("metrics_address: ", exposer.status().message()));
  }
  parts.exposer = std::move(*exposer);
  parts.exposer->RegisterCollectable(parts.registry);
  parts.exposer->RegisterCollectable(parts.process_metrics);
  parts.exposer->RegisterCollectable(parts.gauges);
  return absl::OkStatus();
}

// Values computed at scrape time.
void RegisterGauges(const ModelSummary& model, ServerComponents& parts) {
  Engine* engine = parts.engine.get();
  std::function<absl::StatusOr<uint64_t>()> total = parts.backing.total_profiles;
  ScrapeTimeMetrics& gauges = *parts.gauges;
  (void)gauges.AddGauge("maskserve_queue_depth", "Sequences waiting in the batching queue.", {},
                        [engine] { return double(engine->queued_sequences()); });
  (void)gauges.AddGauge("maskserve_profiles_stored", "Live profiles in the store, all tenants.", {},
                        [total] {
                          absl::StatusOr<uint64_t> count = total();
                          return count.ok() ? double(*count) : std::nan("");
                        });
  (void)gauges.AddGauge("maskserve_profiles_resident", "Profiles in the resident table.", {},
                        [engine] { return double(engine->resident_profiles()); });
  (void)gauges.AddGauge("maskserve_profiles_resident_bytes", "Memory held by resident profiles.",
                        {}, [engine] { return double(engine->resident_bytes()); });
  (void)gauges.AddGauge(
      "maskserve_profiles_resident_confirmed",
      "1 while resident profiles are known current (the store's change feed is up, or only "
      "this process writes the store); 0 while each must be confirmed with the store first.",
      {}, [engine] { return engine->resident_profiles_confirmed() ? 1.0 : 0.0; });
  for (v1::JobState state : {v1::QUEUED, v1::RUNNING}) {
    (void)gauges.AddGauge("maskserve_training_jobs", "Training jobs in this process by state.",
                          {{"state", v1::JobState_Name(state)}}, [engine, state] {
                            auto counts = engine->jobs_by_state();
                            auto it = counts.find(state);
                            return it == counts.end() ? 0.0 : double(it->second);
                          });
  }
  (void)gauges.AddGaugeFamily(
      "maskserve_training_tenant_jobs",
      "Queued and running training jobs in this process by tenant and state.", [engine] {
        std::vector<ScrapeTimeMetrics::Sample> samples;
        for (const auto& [key, count] : engine->jobs_by_tenant_and_state()) {
          if (key.second != v1::QUEUED && key.second != v1::RUNNING) continue;
          samples.push_back(
              {{{"tenant", key.first}, {"state", v1::JobState_Name(key.second)}}, double(count)});
        }
        return samples;
      });
  (void)gauges.AddGauge(
      "maskserve_device_memory_bytes", "Memory allocated by the engine on the serving device.",
      {{"device", model.device}}, [engine] { return double(engine->device_memory_bytes()); });
}

void LogReady(const ServerOptions& options, const ServerComponents& parts, absl::Time load_start) {
  const ModelSummary model = parts.engine->summary();
  MASKSERVE_LOG(INFO) << "backbone " << model.name << " ready: L=" << model.num_layers
                      << " d=" << model.hidden_size << " params=" << model.num_parameters
                      << " fingerprint " << model.fingerprint.substr(0, 16)
                      << "; adapter bank N=" << model.num_adapters << " b=" << model.bottleneck
                      << "; " << model.shared_heads << " shared heads; store " << parts.backing.kind
                      << " " << parts.backing.location
                      << (parts.exposer ? absl::StrCat("; metrics on port ", parts.exposer->port())
                                        : "")
                      << " (" << absl::FormatDuration(absl::Now() - load_start) << ")";
}

}  // namespace

MaskserveServer::MaskserveServer() = default;

absl::StatusOr<std::unique_ptr<MaskserveServer>> MaskserveServer::Start(
    const ServerOptions& options) {
  MASKSERVE_ASSIGN_OR_RETURN(const std::string device, CheckDevice(options.device, options.dtype));
  MASKSERVE_RETURN_IF_ERROR(CheckThreadOptions(options));
  MASKSERVE_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                             Credentials(options.tls));
  MASKSERVE_ASSIGN_OR_RETURN(std::unique_ptr<Authenticator> auth, LoadAuthenticator(options));
  MASKSERVE_ASSIGN_OR_RETURN(std::unique_ptr<Authenticator> admin_auth,
                             LoadAdminAuthenticator(options));

  std::unique_ptr<MaskserveServer> server(new MaskserveServer());
  server->service_ = std::make_unique<MaskserveService>();
  server->admin_service_ = std::make_unique<AdminService>();
  server->components_ = std::make_unique<ServerComponents>();
  ServerComponents& parts = *server->components_;
  parts.auth = std::move(auth);
  parts.admin_auth = std::move(admin_auth);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->admin_service_.get());
  builder.SetMaxReceiveMessageSize(int(options.max_message_bytes));
  grpc::ResourceQuota quota("maskserve");
  quota.SetMaxThreads(options.max_rpc_threads);
  builder.SetResourceQuota(quota);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("address: cannot listen on '", options.address, "'"));
  }
  // Reachable from here on, but NOT_SERVING until everything is loaded.
  SetServing(server->server_.get(), false);
  MASKSERVE_LOG(INFO) << "maskserve " << ServerVersion() << " listening on port " << server->port_
                      << (options.tls.cert_file.empty() ? "" : " (TLS)") << "; loading backbone "
                      << (options.model_dir.empty() ? std::string("builtin") : options.model_dir)
                      << " on " << device;
  if (parts.auth->loopback_only()) {
    MASKSERVE_LOG(WARNING) << "NO API KEY FILE: development mode, every caller is tenant '"
                           << kDevelopmentTenant
                           << "' and only loopback clients are accepted. Set --api_keys_file "
                              "to serve other hosts.";
  } else if (parts.auth->development()) {
    MASKSERVE_LOG(WARNING)
        << "!!! NO AUTHENTICATION (--allow_unauthenticated): ANY client that reaches port "
        << server->port_ << " can train, import, delete and back up profiles as tenant '"
        << kDevelopmentTenant << "'. Never run this way on a shared network. !!!";
  }

  auto fail = [&](absl::Status status) {
    server->Shutdown(absl::ZeroDuration());
    return status;
  };
  const absl::Time load_start = absl::Now();
  ModelRequest request;
  request.model_dir = options.model_dir;
  request.pooling = options.pooling;
  request.device = options.device;
  request.dtype = options.dtype;
  request.cuda_graphs = options.cuda_graphs;
  request.banks = options.banks;
  absl::StatusOr<std::shared_ptr<const LoadedModel>> model = LoadModel(request);
  if (!model.ok()) return fail(model.status());
  const ModelSummary summary = Summarize(**model);
  absl::StatusOr<OpenedStore> store = OpenStore(options, summary);
  if (!store.ok()) return fail(store.status());
  absl::StatusOr<ServerRoles> roles = ParseRoles(options.roles);
  if (!roles.ok()) return fail(roles.status());
  if (store->kind == "rocksdb" && !(roles->serve && roles->train)) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "roles: --roles=", RolesName(*roles),
        " needs a store that other replicas share (--store=postgresql://...); a server on the "
        "embedded RocksDB store is its only process and runs both roles")));
  }
  parts.backing = *std::move(store);
  if (absl::Status started = StartMetrics(options, parts); !started.ok()) return fail(started);
  parts.store = std::make_unique<InstrumentedStore>(parts.backing.store.get(), parts.metrics.get());

  EngineOptions engine = options.engine;
  engine.serve = roles->serve;
  engine.train = roles->train;
  parts.engine = std::make_unique<Engine>(engine, *std::move(model), parts.store.get(),
                                          MetricsHooks(parts.metrics.get()));
  if (absl::Status started = parts.engine->Start(); !started.ok()) return fail(started);
  RegisterGauges(summary, parts);

  auto deps = std::make_shared<ServiceDependencies>();
  deps->auth = parts.auth.get();
  deps->engine = parts.engine.get();
  deps->metrics = parts.metrics.get();
  server->service_->Ready(std::move(deps));
  auto admin = std::make_shared<AdminDependencies>();
  admin->tenant_auth = parts.auth.get();
  admin->admin_auth = parts.admin_auth.get();
  admin->store = parts.backing.store.get();
  admin->total_profiles = parts.backing.total_profiles;
  admin->metrics = parts.metrics.get();
  admin->data_dir = options.data_dir;
  admin->backup_root = options.backup_root;
  server->admin_service_->Ready(std::move(admin));
  LogReady(options, parts, load_start);
  SetServing(server->server_.get(), true);
  server->health_thread_ = std::thread([s = server.get()] { s->WatchStoreHealth(); });
  return server;
}

void MaskserveServer::WatchStoreHealth() {
  bool serving = true;
  while (!stop_health_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    const absl::Status health = components_->engine->StoreHealth();
    if (health.ok() == serving) continue;
    serving = health.ok();
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    SetServing(server_.get(), serving);
    if (serving) {
      MASKSERVE_LOG(INFO) << "the store takes writes again; SERVING";
    } else {
      MASKSERVE_LOG(ERROR) << "the store does not take writes (" << health << "); NOT_SERVING";
    }
  }
}

MaskserveServer::~MaskserveServer() { Shutdown(absl::ZeroDuration()); }

int MaskserveServer::metrics_port() const {
  return components_ && components_->exposer ? components_->exposer->port() : 0;
}

void MaskserveServer::Shutdown(absl::Duration drain) {
  std::call_once(health_stopped_, [this] {
    stop_health_.Notify();
    if (health_thread_.joinable()) health_thread_.join();
  });
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  MASKSERVE_LOG(INFO) << "draining for up to " << absl::FormatDuration(drain);
  SetServing(server_.get(), false);
  service_->Drain();
  admin_service_->Drain();
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
