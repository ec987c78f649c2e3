#include "server/maskserve_server.h"

#include <chrono>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/backbone.h"
#include "core/device.h"
#include "server/log.h"
#include "server/maskserve_service.h"
#include "server/model_info.h"
#include "server/status_util.h"

namespace maskserve {

namespace {
constexpr char kServiceName[] = "maskserve.v1.Maskserve";

void SetServing(grpc::Server* server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(serving);
  health->SetServingStatus(kServiceName, serving);
}
}  // namespace

absl::StatusOr<std::unique_ptr<MaskserveServer>> MaskserveServer::Start(
    const ServerOptions& options) {
  DeviceSpec device;
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    device = ResolveDevice(options.device, options.dtype);
    return absl::OkStatus();
  }));

  std::unique_ptr<MaskserveServer> server(new MaskserveServer());
  server->service_ = std::make_unique<MaskserveService>();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("address: cannot listen on '", options.address, "'"));
  }
  // Reachable from here on, but NOT_SERVING until the backbone is loaded.
  SetServing(server->server_.get(), false);
  MASKSERVE_LOG(INFO) << "maskserve " << ServerVersion() << " listening on port "
                      << server->port_ << "; loading backbone "
                      << (options.model_dir.empty() ? "(built-in)" : options.model_dir) << " on "
                      << DeviceName(device.device) << " (" << DtypeName(device.dtype) << ")";

  const absl::Time load_start = absl::Now();
  absl::Status loaded = CatchEngineErrors([&] {
    server->backbone_ = options.model_dir.empty() ? BuiltinBackbone(device)
                                                  : LoadHfBackbone(options.model_dir, device);
    return absl::OkStatus();
  });
  if (!loaded.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return loaded;
  }
  const BertModel& model = *server->backbone_.model;
  server->service_->SetModelInfo(BuildModelInfo(model, options.limits));
  MASKSERVE_LOG(INFO) << "backbone " << model.config().name << " ready: L="
                      << model.config().num_hidden_layers << " d=" << model.config().hidden_size
                      << " params=" << model.num_parameters() << " fingerprint "
                      << model.fingerprint().substr(0, 16) << " ("
                      << absl::FormatDuration(absl::Now() - load_start) << ")";
  SetServing(server->server_.get(), true);
  return server;
}

MaskserveServer::~MaskserveServer() { Shutdown(absl::ZeroDuration()); }

void MaskserveServer::Shutdown(absl::Duration drain) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  MASKSERVE_LOG(INFO) << "draining for up to " << absl::FormatDuration(drain);
  SetServing(server_.get(), false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + drain));
  MASKSERVE_LOG(INFO) << "stopped";
}

void MaskserveServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace maskserve
