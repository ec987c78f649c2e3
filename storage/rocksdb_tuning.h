// File: storage/rocksdb_tuning.h
//
// Turns RocksDbStoreOptions into RocksDB options for the store's three
// column families. Keeps every RocksDB tuning decision in one place:
//   profiles: 4 KiB blocks, bloom filters, a hash index inside data blocks,
//             memtable bloom, index/filter blocks cached and L0's pinned;
//   jobs:     16 KiB blocks (requests with examples are larger, read rarely);
//   meta:     defaults (a handful of keys), same cache.
// All families share one LRU block cache of `block_cache_bytes`.
//
//   absl::StatusOr<RocksDbTuning> tuning = MakeRocksDbTuning(options);
//
// Thread safety: pure function.
#ifndef MASKSERVE_STORAGE_ROCKSDB_TUNING_H_
#define MASKSERVE_STORAGE_ROCKSDB_TUNING_H_

#include "absl/status/statusor.h"
#include "rocksdb/options.h"
#include "storage/rocksdb_store_options.h"

namespace maskserve {

struct RocksDbTuning {
  rocksdb::DBOptions db;
  rocksdb::ColumnFamilyOptions profiles;
  rocksdb::ColumnFamilyOptions jobs;
  rocksdb::ColumnFamilyOptions meta;
  // What kAuto resolved to.
  rocksdb::CompressionType compression = rocksdb::kNoCompression;
  rocksdb::CompressionType bottommost_compression = rocksdb::kNoCompression;
};

// INVALID_ARGUMENT naming the option when a value is out of range or a
// compression is not compiled into this RocksDB.
absl::StatusOr<RocksDbTuning> MakeRocksDbTuning(const RocksDbStoreOptions& options);

// "lz4", "zstd", ... for reports.
const char* CompressionName(rocksdb::CompressionType type);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_ROCKSDB_TUNING_H_
