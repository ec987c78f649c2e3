#include "server/admin_service.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/auth.h"
#include "server/engine/engine_errors.h"
#include "server/log.h"
#include "server/status_util.h"

namespace maskserve {
namespace {

namespace fs = std::filesystem;

// `path` made absolute and normalised, without a trailing separator.
fs::path Normal(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  fs::path normal = absolute.lexically_normal();
  if (!normal.has_filename() && normal.has_parent_path() && normal != normal.root_path()) {
    normal = normal.parent_path();
  }
  return normal;
}

// True when `path` is `dir` or lies under it (both normalised).
bool IsWithin(const fs::path& path, const fs::path& dir) {
  const fs::path relative = path.lexically_relative(dir);
  return !relative.empty() && *relative.begin() != "..";
}

}  // namespace

absl::StatusOr<std::string> AdminCaller(const AdminDependencies& deps,
                                        const grpc::ServerContext& context) {
  if (deps.admin_auth != nullptr) {
    absl::StatusOr<std::string> admin = deps.admin_auth->Authenticate(context);
    if (admin.ok()) return admin;
    if (deps.tenant_auth != nullptr && !deps.tenant_auth->development() &&
        deps.tenant_auth->Authenticate(context).ok()) {
      return absl::PermissionDeniedError(
          "authorization: a tenant key cannot call the admin service; use a key listed in "
          "--admin_keys_file");
    }
    return admin.status();
  }
  if (deps.tenant_auth != nullptr && deps.tenant_auth->development()) {
    absl::StatusOr<std::string> caller = deps.tenant_auth->Authenticate(context);
    if (!caller.ok()) return caller.status();
    return std::string("development");
  }
  return absl::PermissionDeniedError(
      "authorization: the admin service is off on this server; start it with --admin_keys_file");
}

absl::StatusOr<std::string> ResolveBackupDir(const std::string& dir, const std::string& backup_root,
                                             const std::string& data_dir) {
  if (dir.empty()) return absl::InvalidArgumentError("dir: required");
  const fs::path requested(dir);
  for (const fs::path& part : requested) {
    if (part == "..") return absl::InvalidArgumentError("dir: may not contain '..'");
  }
  fs::path resolved;
  if (backup_root.empty()) {
    if (requested.is_relative()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dir: '", dir,
          "' is relative; give an absolute path on the server, or start the server with "
          "--backup_root to name backups relative to it"));
    }
    resolved = Normal(requested);
  } else {
    const fs::path root = Normal(backup_root);
    resolved = Normal(requested.is_relative() ? root / requested : requested);
    if (!IsWithin(resolved, root) || resolved == root) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dir: '", dir, "' is not under the backup root ", root.string(), " (--backup_root)"));
    }
  }
  if (resolved == resolved.root_path()) {
    return absl::InvalidArgumentError("dir: may not be the root directory");
  }
  const fs::path data = Normal(data_dir);
  if (IsWithin(resolved, data) || IsWithin(data, resolved)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dir: '", resolved.string(), "' overlaps the data directory ", data.string()));
  }
  return resolved.string();
}

void AdminService::Ready(std::shared_ptr<const AdminDependencies> deps) {
  std::atomic_store(&deps_, std::move(deps));
}

grpc::Status AdminService::CreateBackup(grpc::ServerContext* context,
                                        const v1::CreateBackupRequest* request,
                                        v1::CreateBackupResponse* response) {
  const absl::Time start = absl::Now();
  std::shared_ptr<const AdminDependencies> deps = std::atomic_load(&deps_);
  auto run = [&]() -> absl::Status {
    if (deps == nullptr) return absl::UnavailableError("the server is loading; retry shortly");
    if (draining_.load()) return absl::UnavailableError("the server is shutting down");
    absl::StatusOr<std::string> caller = AdminCaller(*deps, *context);
    if (!caller.ok()) return caller.status();
    absl::StatusOr<std::string> dir =
        ResolveBackupDir(request->dir(), deps->backup_root, deps->data_dir);
    if (!dir.ok()) return dir.status();
    std::error_code exists_error;
    if (fs::exists(*dir, exists_error)) {
      return absl::AlreadyExistsError(absl::StrCat("dir: ", *dir, " already exists"));
    }
    if (!backup_mu_.TryLock()) {
      return absl::AbortedError("another backup is running; retry when it has finished");
    }
    absl::Status written = deps->store->CreateCheckpoint(*dir);
    backup_mu_.Unlock();
    if (!written.ok()) {
      MASKSERVE_LOG(WARNING) << "backup to " << *dir << " for " << *caller
                             << " failed: " << written;
      return absl::Status(written.code(),
                          absl::StrCat("backup to ", *dir, ": ", written.message()));
    }
    uint64_t files = 0, bytes = 0;
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(*dir, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      ++files;
      bytes += entry.file_size(ec);
    }
    response->set_dir(*dir);
    response->set_files(files);
    response->set_bytes(bytes);
    if (deps->total_profiles) {
      absl::StatusOr<uint64_t> total = deps->total_profiles();
      if (total.ok()) response->set_profiles(*total);
    }
    response->set_seconds(absl::ToDoubleSeconds(absl::Now() - start));
    MASKSERVE_LOG(INFO) << "backup to " << *dir << " for " << *caller << ": " << files << " files, "
                        << bytes << " bytes, " << response->profiles() << " profiles ("
                        << absl::FormatDuration(absl::Now() - start) << ")";
    return absl::OkStatus();
  };
  grpc::Status result = ToGrpcStatus(CatchEngineErrors(run));
  if (deps != nullptr && deps->metrics != nullptr) {
    deps->metrics->RecordRequest(Rpc::kCreateBackup, result.error_code(),
                                 absl::ToDoubleSeconds(absl::Now() - start));
  }
  return result;
}

}  // namespace maskserve
