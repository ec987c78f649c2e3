// File: server/maskserve_server.h
//
// Owns a running maskserve: the backbone and banks, the RocksDB store, the
// resident profile table, the batcher, the trainer, the gRPC server (the
// Maskserve service, the standard health service and reflection) and the
// Prometheus exposer.
//
//   auto server = MaskserveServer::Start(options);   // binds, loads, serves
//   if (!server.ok()) ...
//   (*server)->port();                               // the bound port
//   (*server)->Shutdown(absl::Seconds(10));          // drain, then stop
//
// Health ("" and "maskserve.v1.Maskserve") reports NOT_SERVING while the
// backbone, banks and store load, while the store does not take writes
// (disk full, a failed final-state write) and while draining, SERVING in
// between.
//
// Thread safety: Shutdown() and Wait() may be called from any thread;
// Shutdown() is idempotent.
#ifndef MASKSERVE_SERVER_MASKSERVE_SERVER_H_
#define MASKSERVE_SERVER_MASKSERVE_SERVER_H_

#include <memory>
#include <mutex>  // std::once_flag
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/server_options.h"

namespace maskserve {

class AdminService;
class MaskserveService;
struct ServerComponents;

class MaskserveServer {
 public:
  // Binds `options.address` (health NOT_SERVING), loads the backbone, banks
  // and store, re-queues unfinished training jobs, then reports SERVING.
  // Fails with INVALID_ARGUMENT for bad options, UNAVAILABLE when an address
  // cannot be bound, and the loaders' errors (NOT_FOUND, DATA_LOSS naming
  // the file, FAILED_PRECONDITION for a store of another backbone or bank
  // and for shared heads built for another backbone).
  static absl::StatusOr<std::unique_ptr<MaskserveServer>> Start(const ServerOptions& options);

  ~MaskserveServer();
  MaskserveServer(const MaskserveServer&) = delete;
  MaskserveServer& operator=(const MaskserveServer&) = delete;

  // The port actually bound (useful with port 0), and the metrics port (0
  // when disabled).
  int port() const { return port_; }
  int metrics_port() const;

  // Reports NOT_SERVING, refuses new calls, lets in-flight calls finish for
  // up to `drain`, interrupts training (the job stays queued in the store)
  // and closes the store.
  void Shutdown(absl::Duration drain);

  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  MaskserveServer();
  // Every second: NOT_SERVING while the store does not take writes
  // (Engine::StoreHealth), SERVING again once it does.
  void WatchStoreHealth();

  std::unique_ptr<MaskserveService> service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ServerComponents> components_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  absl::Notification stop_health_;
  std::once_flag health_stopped_;
  std::thread health_thread_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_MASKSERVE_SERVER_H_
