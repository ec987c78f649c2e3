#include "storage/rocksdb_tuning.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace maskserve {
namespace {

bool Supported(rocksdb::CompressionType type) {
  if (type == rocksdb::kNoCompression) return true;
  static const std::vector<rocksdb::CompressionType> supported =
      rocksdb::GetSupportedCompressions();
  return std::find(supported.begin(), supported.end(), type) != supported.end();
}

absl::StatusOr<rocksdb::CompressionType> Resolve(StoreCompression wanted,
                                                 rocksdb::CompressionType automatic,
                                                 const char* field) {
  rocksdb::CompressionType type = automatic;
  switch (wanted) {
    case StoreCompression::kAuto:
      return automatic;
    case StoreCompression::kNone:
      type = rocksdb::kNoCompression;
      break;
    case StoreCompression::kSnappy:
      type = rocksdb::kSnappyCompression;
      break;
    case StoreCompression::kLz4:
      type = rocksdb::kLZ4Compression;
      break;
    case StoreCompression::kZstd:
      type = rocksdb::kZSTD;
      break;
  }
  if (!Supported(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", CompressionName(type), " is not compiled into this RocksDB"));
  }
  return type;
}

rocksdb::CompressionType AutoCompression() {
  for (auto type : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (Supported(type)) return type;
  }
  return rocksdb::kNoCompression;
}

rocksdb::BlockBasedTableOptions TableOptions(const RocksDbStoreOptions& options,
                                             std::shared_ptr<rocksdb::Cache> cache,
                                             size_t block_size) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = std::move(cache);
  table.block_size = block_size;
  table.format_version = 5;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (options.bloom_bits_per_key > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key));
    table.whole_key_filtering = true;
    table.optimize_filters_for_memory = true;
  }
  return table;
}

rocksdb::ColumnFamilyOptions FamilyOptions(const RocksDbStoreOptions& options,
                                           const rocksdb::BlockBasedTableOptions& table,
                                           rocksdb::CompressionType compression,
                                           rocksdb::CompressionType bottommost) {
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.write_buffer_size = options.write_buffer_bytes;
  cf.compression = compression;
  cf.bottommost_compression = bottommost;
  cf.level_compaction_dynamic_level_bytes = true;
  return cf;
}

}  // namespace

const char* CompressionName(rocksdb::CompressionType type) {
  switch (type) {
    case rocksdb::kNoCompression:
      return "none";
    case rocksdb::kSnappyCompression:
      return "snappy";
    case rocksdb::kLZ4Compression:
      return "lz4";
    case rocksdb::kZSTD:
      return "zstd";
    case rocksdb::kZlibCompression:
      return "zlib";
    default:
      return "other";
  }
}

absl::StatusOr<RocksDbTuning> MakeRocksDbTuning(const RocksDbStoreOptions& options) {
  if (options.block_size_bytes < 512 || options.block_size_bytes > (size_t{4} << 20)) {
    return absl::InvalidArgumentError("block_size_bytes: must be in [512, 4 MiB]");
  }
  if (options.bloom_bits_per_key < 0 || options.bloom_bits_per_key > 100) {
    return absl::InvalidArgumentError("bloom_bits_per_key: must be in [0, 100]");
  }
  if (options.write_buffer_bytes < (size_t{1} << 20)) {
    return absl::InvalidArgumentError("write_buffer_bytes: must be at least 1 MiB");
  }
  if (options.max_background_jobs < 1) {
    return absl::InvalidArgumentError("max_background_jobs: must be at least 1");
  }
  RocksDbTuning tuning;
  rocksdb::CompressionType automatic = AutoCompression();
  auto compression = Resolve(options.compression, automatic, "compression");
  if (!compression.ok()) return compression.status();
  auto bottommost =
      Resolve(options.bottommost_compression,
              Supported(rocksdb::kZSTD) ? rocksdb::kZSTD : *compression, "bottommost_compression");
  if (!bottommost.ok()) return bottommost.status();
  tuning.compression = *compression;
  tuning.bottommost_compression = *bottommost;

  rocksdb::DBOptions& db = tuning.db;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = true;
  db.paranoid_checks = true;
  db.max_background_jobs = options.max_background_jobs;
  db.bytes_per_sync = 1 << 20;
  db.wal_bytes_per_sync = 512 << 10;
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db.wal_dir = options.wal_dir;
  db.max_total_wal_size = options.max_total_wal_bytes;
  db.use_direct_reads = options.use_direct_reads;
  db.keep_log_file_num = 5;
  if (options.env != nullptr) db.env = options.env;
  db.max_log_file_size = 16 << 20;

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::BlockBasedTableOptions profiles_table =
      TableOptions(options, cache, options.block_size_bytes);
  profiles_table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  profiles_table.data_block_hash_table_util_ratio = 0.75;
  tuning.profiles = FamilyOptions(options, profiles_table, *compression, *bottommost);
  if (options.bloom_bits_per_key > 0) {
    tuning.profiles.memtable_whole_key_filtering = true;
    tuning.profiles.memtable_prefix_bloom_size_ratio = 0.02;
  }

  tuning.jobs =
      FamilyOptions(options, TableOptions(options, cache, 16 << 10), *compression, *bottommost);
  tuning.meta =
      FamilyOptions(options, TableOptions(options, cache, 4096), *compression, *bottommost);
  tuning.meta.write_buffer_size = 4 << 20;
  return tuning;
}

}  // namespace maskserve
