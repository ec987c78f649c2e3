// File: server/admin_service.h
//
// The gRPC implementation of maskserve.v1.Admin (proto/maskserve/v1/
// admin.proto): whole-server operations for operators, on the same port as
// the tenant API but behind its own keys. Who may call it (AdminCaller):
//   - with --admin_keys_file: a key listed there; a tenant key is
//     PERMISSION_DENIED, no or an unknown key UNAUTHENTICATED;
//   - without it, on a development server (no --api_keys_file): whoever the
//     tenant authenticator accepts (loopback only, unless
//     --allow_unauthenticated);
//   - without it, on a server with tenant keys: nobody (PERMISSION_DENIED).
// Every call is counted in ServerMetrics and logged with the caller's name.
// Until Ready() every RPC is UNAVAILABLE.
//
// Thread safety: all RPC methods may be called concurrently; backups run
// one at a time (a second one is ABORTED).
#ifndef MASKSERVE_SERVER_ADMIN_SERVICE_H_
#define MASKSERVE_SERVER_ADMIN_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "maskserve/v1/admin.grpc.pb.h"
#include "server/server_metrics.h"
#include "storage/profile_store.h"

namespace maskserve {

class Authenticator;

// What the admin service calls; owned by MaskserveServer.
struct AdminDependencies {
  const Authenticator* tenant_auth = nullptr;
  const Authenticator* admin_auth = nullptr;  // null: no --admin_keys_file
  ProfileStore* store = nullptr;              // backups are its CreateCheckpoint()
  std::function<absl::StatusOr<uint64_t>()> total_profiles;
  ServerMetrics* metrics = nullptr;
  std::string data_dir;     // backups may not go inside it
  std::string backup_root;  // empty: absolute backup paths only
};

// The admin caller's name, or why the call is refused (see above).
absl::StatusOr<std::string> AdminCaller(const AdminDependencies& deps,
                                        const grpc::ServerContext& context);

// Where CreateBackup(dir) writes: an absolute, normalised path.
// INVALID_ARGUMENT ("dir: ...") for an empty path, a relative one without a
// backup root, one outside the root, one with "..", or one inside data_dir.
absl::StatusOr<std::string> ResolveBackupDir(const std::string& dir, const std::string& backup_root,
                                             const std::string& data_dir);

class AdminService final : public v1::Admin::Service {
 public:
  AdminService() = default;

  // Starts serving with `deps` (which must outlive the service).
  void Ready(std::shared_ptr<const AdminDependencies> deps);
  // Makes new calls UNAVAILABLE (drain).
  void Drain() { draining_.store(true); }

  // v1::Admin::Service interface
  grpc::Status CreateBackup(grpc::ServerContext* context, const v1::CreateBackupRequest* request,
                            v1::CreateBackupResponse* response) override;

 private:
  std::shared_ptr<const AdminDependencies> deps_;  // std::atomic_load / store
  std::atomic<bool> draining_{false};
  absl::Mutex backup_mu_;  // held while a backup runs
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ADMIN_SERVICE_H_
