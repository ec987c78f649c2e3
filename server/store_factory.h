// File: server/store_factory.h
//
// Opens the profile store the server is configured with: RocksDB in
// --data_dir (the embedded default), or PostgreSQL when --store is a libpq
// URI ("postgresql://..." or "postgres://..."), which several replicas may
// share. What the rest of the server needs beyond ProfileStore comes with
// it: the total live profile count for metrics, and whether the store can
// write checkpoints (only RocksDB; PostgreSQL is backed up with its own
// tools).
//
// Errors name the flag: "data_dir: ..." for RocksDB, "store: ..." for
// PostgreSQL (INVALID_ARGUMENT for a value that is neither, UNAVAILABLE
// when the database cannot be reached, FAILED_PRECONDITION for another
// backbone or bank, or a newer schema).
//
// Thread safety: OpenProfileStore is a plain function; the store returned is
// thread-safe.
#ifndef MASKSERVE_SERVER_STORE_FACTORY_H_
#define MASKSERVE_SERVER_STORE_FACTORY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/profile_store.h"

namespace maskserve {

struct StoreConfig {
  // "rocksdb" (or empty): RocksDB in `data_dir`; else a PostgreSQL URI.
  std::string store = "rocksdb";
  std::string data_dir;
  std::string backbone_fingerprint;
  std::vector<std::string> bank_fingerprints;
  bool migrate_fingerprints = false;
  uint64_t max_profiles_per_tenant = 0;
  size_t block_cache_bytes = 0;  // RocksDB only; 0 = its default
  int postgres_pool_size = 8;
};

struct OpenedStore {
  std::unique_ptr<ProfileStore> store;
  // "rocksdb" or "postgres".
  std::string kind;
  // Where it lives, for logs: the directory, or the URI without a password.
  std::string location;
  // Live profiles of all tenants; an error when it cannot be read now.
  std::function<absl::StatusOr<uint64_t>()> total_profiles;
};

// True when `store` names PostgreSQL (a "postgresql://" or "postgres://" URI).
bool IsPostgresStore(const std::string& store);

absl::StatusOr<OpenedStore> OpenProfileStore(const StoreConfig& config);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_STORE_FACTORY_H_
