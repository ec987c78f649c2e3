#include "server/maskserve_server.h"

#include <chrono>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/bert_config.h"
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
  BertConfig backbone;
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&]() -> absl::Status {
    device = ResolveDevice(options.device, options.dtype);
    if (!options.model_dir.empty()) {
      return absl::UnimplementedError(
          "model_dir: loading HF checkpoints is not available yet; leave it empty "
          "for the built-in backbone");
    }
    backbone = BuiltinTinyBertConfig();
    return absl::OkStatus();
  }));

  std::unique_ptr<MaskserveServer> server(new MaskserveServer());
  server->service_ = std::make_unique<MaskserveService>(
      BuildModelInfo(backbone, device, options.limits));

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
  SetServing(server->server_.get(), false);
  MASKSERVE_LOG(INFO) << "maskserve " << ServerVersion() << " listening on port "
                      << server->port_ << " (backbone " << backbone.name << " on "
                      << DeviceName(device.device) << ", " << DtypeName(device.dtype) << ")";
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
