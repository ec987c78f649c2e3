#include "server/store_factory.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/postgres_profile_store.h"
#include "storage/rocksdb_profile_store.h"

namespace maskserve {
namespace {

// The URI with any password replaced by "***" (for logs).
std::string RedactPassword(const std::string& uri) {
  const size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const size_t at = uri.find('@', scheme + 3);
  const size_t colon = uri.find(':', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

absl::Status Named(const char* flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(flag, ": ", status.message()));
}

absl::StatusOr<OpenedStore> OpenRocksDb(const StoreConfig& config) {
  RocksDbProfileStore::Options options;
  options.data_dir = config.data_dir;
  options.backbone_fingerprint = config.backbone_fingerprint;
  options.bank_fingerprints = config.bank_fingerprints;
  options.migrate_fingerprints = config.migrate_fingerprints;
  options.max_profiles_per_tenant = config.max_profiles_per_tenant;
  if (config.block_cache_bytes > 0) options.block_cache_bytes = config.block_cache_bytes;
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> opened =
      RocksDbProfileStore::Open(std::move(options));
  if (!opened.ok()) return Named("data_dir", opened.status());
  RocksDbProfileStore* rocksdb = opened->get();
  OpenedStore out;
  out.store = *std::move(opened);
  out.kind = "rocksdb";
  out.location = config.data_dir;
  out.total_profiles = [rocksdb]() -> absl::StatusOr<uint64_t> {
    return rocksdb->TotalProfileCount();
  };
  return out;
}

absl::StatusOr<OpenedStore> OpenPostgres(const StoreConfig& config) {
  PostgresProfileStore::Options options;
  options.url = config.store;
  options.pool_size = config.postgres_pool_size;
  options.backbone_fingerprint = config.backbone_fingerprint;
  options.bank_fingerprints = config.bank_fingerprints;
  options.migrate_fingerprints = config.migrate_fingerprints;
  options.max_profiles_per_tenant = config.max_profiles_per_tenant;
  absl::StatusOr<std::unique_ptr<PostgresProfileStore>> opened =
      PostgresProfileStore::Open(std::move(options));
  if (!opened.ok()) return Named("store", opened.status());
  PostgresProfileStore* postgres = opened->get();
  OpenedStore out;
  out.store = *std::move(opened);
  out.kind = "postgres";
  out.location = RedactPassword(config.store);
  out.total_profiles = [postgres] { return postgres->TotalProfileCount(); };
  return out;
}

}  // namespace

bool IsPostgresStore(const std::string& store) {
  return absl::StartsWith(store, "postgresql://") || absl::StartsWith(store, "postgres://");
}

absl::StatusOr<OpenedStore> OpenProfileStore(const StoreConfig& config) {
  if (config.store.empty() || config.store == "rocksdb") return OpenRocksDb(config);
  if (IsPostgresStore(config.store)) return OpenPostgres(config);
  return absl::InvalidArgumentError(
      absl::StrCat("store: expected 'rocksdb' or a PostgreSQL URI (postgresql://...), got '",
                   RedactPassword(config.store), "'"));
}

}  // namespace maskserve
