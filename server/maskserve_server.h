// File: server/maskserve_server.h
//
// Owns a running maskserve: the gRPC server with the Maskserve service, the
// standard health service and server reflection, and the engine behind them.
//
//   auto server = MaskserveServer::Start(options);   // binds, loads, serves
//   if (!server.ok()) ...
//   (*server)->port();                               // the bound port
//   (*server)->Shutdown(absl::Seconds(10));          // drain, then stop
//
// Health ("" and "maskserve.v1.Maskserve") reports NOT_SERVING while the
// backbone is loading and while draining, SERVING in between.
//
// Thread safety: Shutdown() and Wait() may be called from any thread;
// Shutdown() is idempotent.
#ifndef MASKSERVE_SERVER_MASKSERVE_SERVER_H_
#define MASKSERVE_SERVER_MASKSERVE_SERVER_H_

#include <memory>
#include <mutex>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backbone.h"
#include "server/server_options.h"

namespace maskserve {

class MaskserveService;

class MaskserveServer {
 public:
  // Binds `options.address` (health NOT_SERVING), loads the backbone, then
  // reports SERVING. Fails with INVALID_ARGUMENT for bad options,
  // UNAVAILABLE when the address cannot be bound, and the loader's error
  // (NOT_FOUND, INVALID_ARGUMENT, DATA_LOSS naming the file) when the model
  // directory cannot be loaded.
  static absl::StatusOr<std::unique_ptr<MaskserveServer>> Start(const ServerOptions& options);

  ~MaskserveServer();
  MaskserveServer(const MaskserveServer&) = delete;
  MaskserveServer& operator=(const MaskserveServer&) = delete;

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

  // Reports NOT_SERVING, lets in-flight calls finish for up to `drain`, then
  // cancels what is left and stops.
  void Shutdown(absl::Duration drain);

  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  MaskserveServer() = default;

  Backbone backbone_;
  std::unique_ptr<MaskserveService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_MASKSERVE_SERVER_H_
