// File: storage/rocksdb_store_options.h
//
// Options of RocksDbProfileStore (alias RocksDbProfileStore::Options), kept
// apart from the class so that the RocksDB tuning (rocksdb_tuning.h) can be
// built and tested on its own. Defaults are for millions of tiny values
// (a profile is a few KB) read by point lookup: 4 KiB blocks with a hash
// index inside each block, 10-bit bloom filters, index and filter blocks in
// a shared LRU block cache, LZ4 (ZSTD for the bottommost level).
//
//   RocksDbStoreOptions options;
//   options.data_dir = "/var/lib/maskserve/store";
//   options.bank_fingerprints = {bank.fingerprint()};
//   options.block_cache_bytes = 1 << 30;
#ifndef MASKSERVE_STORAGE_ROCKSDB_STORE_OPTIONS_H_
#define MASKSERVE_STORAGE_ROCKSDB_STORE_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace maskserve {

enum class StoreCompression {
  // LZ4 if this RocksDB has it, else Snappy, else none. For the bottommost
  // level: ZSTD if available, else as the other levels.
  kAuto,
  kNone,
  kSnappy,
  kLz4,
  kZstd,
};

struct RocksDbStoreOptions {
  // Directory of the database (created if missing and allowed). Required.
  std::string data_dir;
  // Create an empty store when `data_dir` holds none [true]. When false, a
  // missing store is NOT_FOUND.
  bool create_if_missing = true;

  // Fingerprints of the loaded backbone and bank(s) (sha256 hex). A new store
  // records them; an existing store written for others is refused with
  // FAILED_PRECONDITION unless `migrate_fingerprints` is set, in which case
  // the new ones are recorded (and the change logged in the store). Empty
  // means "do not check" (tools, tests). Published and imported profiles
  // whose bank_fingerprint is not one of `bank_fingerprints` are refused.
  std::string backbone_fingerprint;
  std::vector<std::string> bank_fingerprints;
  bool migrate_fingerprints = false;

  // Quota: at most this many live profiles per tenant; 0 = unlimited [0].
  // Only creating a profile is refused (RESOURCE_EXHAUSTED); new versions of
  // existing profiles are not.
  uint64_t max_profiles_per_tenant = 0;
  // Optional hook consulted before a profile is created, with the tenant's
  // live profile count; a non-OK status (normally RESOURCE_EXHAUSTED) refuses
  // the creation. Must be thread-safe and must not call the store.
  std::function<absl::Status(std::string_view tenant, uint64_t live_profiles)> quota_check;
  // Largest payload accepted [64 MiB].
  size_t max_payload_bytes = size_t{64} << 20;
  // One ListProfiles page ends early (with a next-page token) after looking
  // at this many records, tombstones included [10000], or holding this many
  // bytes of metadata [4 MiB]: a call's work and response stay bounded.
  int64_t list_scan_budget = 10000;
  size_t list_page_bytes = size_t{4} << 20;

  // Shared LRU cache of data, index and filter blocks [256 MiB].
  size_t block_cache_bytes = size_t{256} << 20;
  // Data block size of the profiles family [4 KiB]; small blocks keep a
  // point read to one small I/O.
  size_t block_size_bytes = 4096;
  // Bloom filter bits per key; 0 disables filters [10, ~1% false positives].
  int bloom_bits_per_key = 10;
  StoreCompression compression = StoreCompression::kAuto;
  StoreCompression bottommost_compression = StoreCompression::kAuto;
  // Memtable size per column family [64 MiB].
  size_t write_buffer_bytes = size_t{64} << 20;
  // Background flush and compaction threads [2].
  int max_background_jobs = 2;
  // O_DIRECT reads bypassing the OS page cache [false]; benchmarks use it to
  // measure truly cold reads.
  bool use_direct_reads = false;

  // fsync the WAL before acknowledging publish, delete, import, job creation
  // and a job's final state [true]. Turning it off keeps writes atomic and
  // safe against process crashes (the WAL is still written first) but not
  // against power loss: for bulk loads and tests only.
  bool sync_writes = true;
  // Write-ahead log directory; empty: inside `data_dir`.
  std::string wal_dir;
  // Flush memtables once the WAL exceeds this size; 0: RocksDB's default
  // (4x the memtables' total).
  uint64_t max_total_wal_bytes = 0;

  // Time source for create/update/delete times and job ids [absl::Now].
  std::function<absl::Time()> clock;
  // Seed of the job-id generator; 0 draws one at random [0].
  uint64_t job_id_seed = 0;
  // RocksDB's environment (tests inject I/O failures); null: the default.
  // Must outlive the store.
  rocksdb::Env* env = nullptr;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_ROCKSDB_STORE_OPTIONS_H_
