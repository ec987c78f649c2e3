#include "storage/rocksdb_tuning.h"

#include <gtest/gtest.h>

#include "rocksdb/table.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

TEST(RocksDbTuningTest, DefaultsSuitTinyPointLookups) {
  RocksDbStoreOptions options;
  absl::StatusOr<RocksDbTuning> tuning = MakeRocksDbTuning(options);
  ASSERT_OK(tuning);
  EXPECT_EQ(tuning->compression, rocksdb::kLZ4Compression);  // Debian's RocksDB has LZ4
  EXPECT_EQ(tuning->bottommost_compression, rocksdb::kZSTD);
  EXPECT_TRUE(tuning->db.create_missing_column_families);
  EXPECT_EQ(tuning->db.wal_recovery_mode, rocksdb::WALRecoveryMode::kPointInTimeRecovery);
  auto* table = tuning->profiles.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->block_size, 4096u);
  EXPECT_NE(table->filter_policy, nullptr);
  EXPECT_TRUE(table->cache_index_and_filter_blocks);
  EXPECT_EQ(table->data_block_index_type, rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash);
  EXPECT_TRUE(tuning->profiles.memtable_whole_key_filtering);
  // One block cache shared by every family.
  auto* jobs = tuning->jobs.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
  EXPECT_EQ(jobs->block_cache, table->block_cache);
  EXPECT_EQ(table->block_cache->GetCapacity(), options.block_cache_bytes);
}

TEST(RocksDbTuningTest, ExplicitChoicesAreHonoured) {
  RocksDbStoreOptions options;
  options.compression = StoreCompression::kZstd;
  options.bottommost_compression = StoreCompression::kNone;
  options.bloom_bits_per_key = 0;
  options.use_direct_reads = true;
  options.wal_dir = "/wal";
  absl::StatusOr<RocksDbTuning> tuning = MakeRocksDbTuning(options);
  ASSERT_OK(tuning);
  EXPECT_EQ(tuning->profiles.compression, rocksdb::kZSTD);
  EXPECT_EQ(tuning->profiles.bottommost_compression, rocksdb::kNoCompression);
  EXPECT_TRUE(tuning->db.use_direct_reads);
  EXPECT_EQ(tuning->db.wal_dir, "/wal");
  auto* table = tuning->profiles.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
  EXPECT_EQ(table->filter_policy, nullptr);
}

TEST(RocksDbTuningTest, OutOfRangeValuesNameTheOption) {
  RocksDbStoreOptions options;
  options.block_size_bytes = 100;
  EXPECT_THAT(MakeRocksDbTuning(options),
              StatusIs(absl::StatusCode::kInvalidArgument, "block_size_bytes"));
  options = {};
  options.bloom_bits_per_key = -1;
  EXPECT_THAT(MakeRocksDbTuning(options),
              StatusIs(absl::StatusCode::kInvalidArgument, "bloom_bits_per_key"));
  options = {};
  options.write_buffer_bytes = 1000;
  EXPECT_THAT(MakeRocksDbTuning(options),
              StatusIs(absl::StatusCode::kInvalidArgument, "write_buffer_bytes"));
  options = {};
  options.max_background_jobs = 0;
  EXPECT_THAT(MakeRocksDbTuning(options),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_background_jobs"));
}

}  // namespace
}  // namespace maskserve
