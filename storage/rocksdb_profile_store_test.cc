// RocksDbProfileStore beyond the shared contract (the contract itself,
// versions, CAS, delete, isolation, quotas, concurrency, runs on every store
// in storage/profile_store_contract_test.cc): opening, column families,
// tuning, fingerprint migration, listing bounds, the total count, a full
// disk. Backups and corruption have their own files.
#include "storage/rocksdb_profile_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "storage/testing/failing_file_system.h"
#include "storage/testing/store_fixture.h"

namespace maskserve {
namespace {

using absl::StatusCode;

using StoreTest = StoreFixture;

TEST_F(StoreTest, CreatesTheColumnFamilies) {
  Close();
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir(), &families).ok());
  for (const char* name : {"profiles", "jobs", "meta"}) {
    EXPECT_NE(std::find(families.begin(), families.end(), name), families.end()) << name;
  }
}

TEST_F(StoreTest, MissingStoreWithoutCreateIsNotFound) {
  RocksDbProfileStore::Options options = BaseOptions();
  options.data_dir = dir().path() + "/nowhere";
  options.create_if_missing = false;
  EXPECT_THAT(RocksDbProfileStore::Open(options),
              StatusIs(StatusCode::kNotFound, "data_dir: no store at"));
  options.data_dir = "";
  EXPECT_THAT(RocksDbProfileStore::Open(options),
              StatusIs(StatusCode::kInvalidArgument, "data_dir"));
}

TEST_F(StoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  EXPECT_THAT(RocksDbProfileStore::Open(BaseOptions()), StatusIs(StatusCode::kUnavailable, "lock"));
}

TEST_F(StoreTest, BadTuningIsInvalidArgument) {
  RocksDbProfileStore::Options options = BaseOptions();
  options.data_dir = dir().path() + "/other";
  options.block_size_bytes = 1;
  EXPECT_THAT(RocksDbProfileStore::Open(options),
              StatusIs(StatusCode::kInvalidArgument, "block_size_bytes"));
}

TEST_F(StoreTest, OtherFingerprintsAreRefusedUnlessMigrating) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("x")));
  Close();
  RocksDbProfileStore::Options options = BaseOptions();
  options.bank_fingerprints = {"new-bank"};
  EXPECT_THAT(RocksDbProfileStore::Open(options),
              StatusIs(StatusCode::kFailedPrecondition, "bank fingerprints"));
  options = BaseOptions();
  options.backbone_fingerprint = "new-backbone";
  EXPECT_THAT(RocksDbProfileStore::Open(options),
              StatusIs(StatusCode::kFailedPrecondition, "backbone fingerprint"));
  // Unspecified fingerprints (tools) accept what is recorded.
  options = BaseOptions();
  options.backbone_fingerprint.clear();
  options.bank_fingerprints.clear();
  Reopen(options);
  EXPECT_EQ(store().meta().backbone_fingerprint(), kTestBackbone);

  options = BaseOptions();
  options.bank_fingerprints = {"new-bank"};
  options.migrate_fingerprints = true;
  Reopen(options);
  EXPECT_EQ(store().meta().bank_fingerprints(0), "new-bank");
  EXPECT_EQ(store().meta().migrations_size(), 1);
  // Old profiles stay readable (their metadata names their bank); new ones
  // must be for the new bank.
  absl::StatusOr<StoredProfile> old = store().GetProfile("t", "p");
  ASSERT_OK(old);
  EXPECT_EQ(old->profile.bank_fingerprint(), kTestBank);
  EXPECT_THAT(store().PublishProfile("t", "q", TestPublish("x")),
              StatusIs(StatusCode::kFailedPrecondition, "profile.bank_fingerprint"));
  EXPECT_OK(store().PublishProfile("t", "q", TestPublish("x", "new-bank")));
  options.migrate_fingerprints = false;
  Reopen(options);  // the new fingerprints are now the recorded ones
}

TEST_F(StoreTest, InvalidIdsNameTheField) {
  EXPECT_THAT(store().PublishProfile("t", "a/b", TestPublish("x")),
              StatusIs(StatusCode::kInvalidArgument, "profile_id: "));
  EXPECT_THAT(store().PublishProfile("bad tenant", "p", TestPublish("x")),
              StatusIs(StatusCode::kInvalidArgument, "tenant: "));
  EXPECT_THAT(store().GetProfile("t", ".x"), StatusIs(StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_THAT(store().GetProfile("", "x"), StatusIs(StatusCode::kInvalidArgument, "tenant"));
  EXPECT_THAT(store().DeleteProfile("t", std::string(129, 'x'), std::nullopt),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_THAT(store().ListProfiles("t/x", {}), StatusIs(StatusCode::kInvalidArgument, "tenant"));
  EXPECT_THAT(store().CountProfiles(""), StatusIs(StatusCode::kInvalidArgument, "tenant"));
  EXPECT_THAT(store().ImportProfile("t", "", "x", {}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(store().TotalProfileCount(), 0u);
}

TEST_F(StoreTest, ListsPagesInIdOrderSkippingTombstones) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back("p" + std::to_string(i));
  std::shuffle(ids.begin(), ids.end(), std::mt19937(3));
  for (const std::string& id : ids) ASSERT_OK(store().PublishProfile("t", id, TestPublish(id)));
  ASSERT_OK(store().PublishProfile("u", "p0", TestPublish("other tenant")));
  ASSERT_OK(store().DeleteProfile("t", "p13", std::nullopt));
  ASSERT_OK(store().DeleteProfile("t", "p9", std::nullopt));  // the last id
  std::sort(ids.begin(), ids.end());
  ids.erase(std::remove(ids.begin(), ids.end(), "p13"), ids.end());
  ids.erase(std::remove(ids.begin(), ids.end(), "p9"), ids.end());

  std::vector<std::string> seen;
  PageRequest page;
  page.page_size = 10;
  int pages = 0;
  do {
    absl::StatusOr<ListProfilesResult> result = store().ListProfiles("t", page);
    ASSERT_OK(result);
    EXPECT_EQ(result->total_count, 23u);
    EXPECT_LE(result->profiles.size(), 10u);
    for (const v1::Profile& p : result->profiles) seen.push_back(p.profile_id());
    page.page_token = result->next_page_token;
    ++pages;
  } while (!page.page_token.empty() && pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);

  page = {};
  absl::StatusOr<ListProfilesResult> all = store().ListProfiles("t", page);  // default 100
  ASSERT_OK(all);
  EXPECT_EQ(all->profiles.size(), 23u);
  EXPECT_TRUE(all->next_page_token.empty());
  // Exactly page_size left: no dangling empty page.
  page.page_size = 23;
  EXPECT_TRUE(store().ListProfiles("t", page)->next_page_token.empty());
  page.page_size = 22;
  EXPECT_FALSE(store().ListProfiles("t", page)->next_page_token.empty());

  page.page_size = 10;
  page.page_token = store().ListProfiles("t", page)->next_page_token;
  EXPECT_THAT(store().ListProfiles("u", page),
              StatusIs(StatusCode::kInvalidArgument, "page_token"));
  page.page_token = "garbage";
  EXPECT_THAT(store().ListProfiles("t", page),
              StatusIs(StatusCode::kInvalidArgument, "page_token"));
  EXPECT_TRUE(store().ListProfiles("empty", {})->profiles.empty());
}

// A tenant that deleted many profiles must not make one ListProfiles call
// scan all of its tombstones: the page ends early with a token.
TEST_F(StoreTest, AListPageScansABoundedNumberOfRecords) {
  RocksDbProfileStore::Options options = BaseOptions();
  options.list_scan_budget = 5;
  Reopen(options);
  for (int i = 0; i < 12; ++i) {
    const std::string id = absl::StrCat("p", 10 + i);
    ASSERT_OK(store().PublishProfile("t", id, TestPublish("x")));
    if (i < 10) ASSERT_OK(store().DeleteProfile("t", id, std::nullopt));
  }
  PageRequest page;
  absl::StatusOr<ListProfilesResult> first = store().ListProfiles("t", page);
  ASSERT_OK(first);
  EXPECT_TRUE(first->profiles.empty());
  ASSERT_FALSE(first->next_page_token.empty());
  std::vector<std::string> seen;
  int pages = 1;
  page.page_token = first->next_page_token;
  while (!page.page_token.empty() && pages < 10) {
    absl::StatusOr<ListProfilesResult> next = store().ListProfiles("t", page);
    ASSERT_OK(next);
    for (const v1::Profile& p : next->profiles) seen.push_back(p.profile_id());
    page.page_token = next->next_page_token;
    ++pages;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"p20", "p21"}));
  EXPECT_EQ(pages, 3);
}

// Disk full: writes fail, and CheckWritable() reports it (health goes
// NOT_SERVING) without leaking file paths, for as long as writes fail;
// reads go on. (Whether RocksDB can resume by itself once space is back
// depends on where the write failed; when it cannot, health stays
// NOT_SERVING until the server is restarted.)
TEST_F(StoreTest, CheckWritableReportsAFullDisk) {
  FailingFileSystem disk;
  RocksDbProfileStore::Options options = BaseOptions();
  options.env = disk.env();
  Reopen(options);
  ASSERT_OK(store().CheckWritable());
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("x")));
  disk.set_fail_writes(true);
  absl::StatusOr<v1::Profile> failed = store().PublishProfile("t", "q", TestPublish("x"));
  EXPECT_THAT(failed.status(), StatusIs(StatusCode::kResourceExhausted, "no space left on device"));
  EXPECT_EQ(failed.status().message().find(data_dir()), absl::string_view::npos) << failed.status();
  for (int i = 0; i < 3; ++i) {
    absl::Status health = store().CheckWritable();  // probes, and fails while full
    EXPECT_FALSE(health.ok());
    EXPECT_EQ(health.message().find(data_dir()), absl::string_view::npos) << health;
  }
  EXPECT_OK(store().GetProfile("t", "p").status());  // reads go on
  EXPECT_EQ(store().GetProfile("t", "q").status().code(), StatusCode::kNotFound);
  Close();  // before `disk`
}

TEST_F(StoreTest, CountsAreMaintained) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(store().PublishProfile("t", "p" + std::to_string(i), TestPublish("x")));
  }
  ASSERT_OK(store().PublishProfile("t", "p0", TestPublish("new version")));
  ASSERT_OK(store().PublishProfile("u", "p0", TestPublish("x")));
  EXPECT_EQ(*store().CountProfiles("t"), 5u);
  ASSERT_OK(store().DeleteProfile("t", "p1", std::nullopt));
  EXPECT_EQ(*store().CountProfiles("t"), 4u);
  ASSERT_OK(store().PublishProfile("t", "p1", TestPublish("back")));
  ASSERT_OK(store().DeleteProfile("t", "p2", std::nullopt));
  EXPECT_EQ(*store().CountProfiles("t"), 4u);
  EXPECT_EQ(store().TotalProfileCount(), 5u);
  Reopen();
  EXPECT_EQ(*store().CountProfiles("t"), 4u);
  EXPECT_EQ(*store().CountProfiles("u"), 1u);
  EXPECT_EQ(store().TotalProfileCount(), 5u);
}

TEST_F(StoreTest, QuotaHoldsUnderConcurrentCreation) {
  RocksDbProfileStore::Options options = BaseOptions();
  options.max_profiles_per_tenant = 20;
  options.sync_writes = false;
  Reopen(options);
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (store()
                .PublishProfile("t", "p" + std::to_string(t) + "-" + std::to_string(i),
                                TestPublish("x"))
                .ok()) {
          ++created;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(created.load(), 20);
  EXPECT_EQ(*store().CountProfiles("t"), 20u);
  EXPECT_EQ(store().ListProfiles("t", {})->profiles.size(), 20u);
}

}  // namespace
}  // namespace maskserve
