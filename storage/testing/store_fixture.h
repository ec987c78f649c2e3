// File: storage/testing/store_fixture.h
//
// A gtest fixture with a RocksDbProfileStore in a temporary directory, a
// controllable clock, and Reopen() to check what survives a close.
//
//   TEST_F(StoreFixture, Something) {
//     ASSERT_OK(store().PublishProfile("t", "p", TestPublish("x")));
//     Reopen();
//   }
#ifndef MASKSERVE_STORAGE_TESTING_STORE_FIXTURE_H_
#define MASKSERVE_STORAGE_TESTING_STORE_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "storage/rocksdb_profile_store.h"
#include "storage/testing/store_test_util.h"
#include "storage/testing/temp_dir.h"

namespace maskserve {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  // Options for the fixture's directory; small caches and memtables.
  RocksDbProfileStore::Options BaseOptions() {
    RocksDbProfileStore::Options options;
    options.data_dir = data_dir();
    options.backbone_fingerprint = kTestBackbone;
    options.bank_fingerprints = {kTestBank};
    options.block_cache_bytes = 8 << 20;
    options.write_buffer_bytes = 4 << 20;
    options.clock = [this] { return now_; };
    return options;
  }

  // Closes the store (if open) and opens it again with `options`.
  void Reopen() { Reopen(BaseOptions()); }
  void Reopen(RocksDbProfileStore::Options options) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store =
        RocksDbProfileStore::Open(std::move(options));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *std::move(store);
  }
  void Close() { store_.reset(); }

  RocksDbProfileStore& store() { return *store_; }
  std::string data_dir() const { return dir_.path() + "/db"; }
  const TempDir& dir() const { return dir_; }
  void Advance(absl::Duration d) { now_ += d; }
  absl::Time now() const { return now_; }

 private:
  TempDir dir_{"maskserve_store_test"};
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::unique_ptr<RocksDbProfileStore> store_;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_STORE_FIXTURE_H_
