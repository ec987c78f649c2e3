// RocksDbProfileStore: opening, fingerprints, profile versions, CAS, delete,
// listing, counts, quotas, concurrency. Jobs, backups and corruption have
// their own files.
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

TEST_F(StoreTest, PublishAssignsVersionsAndTimes) {
  absl::StatusOr<v1::Profile> v1 = store().PublishProfile("t", "p", TestPublish("one"));
  ASSERT_OK(v1);
  EXPECT_EQ(v1->version(), 1u);
  EXPECT_EQ(v1->profile_id(), "p");
  EXPECT_EQ(v1->create_time().seconds(), 1700000000);
  Advance(absl::Seconds(10));
  PublishProfileRequest second = TestPublish("two");
  second.profile.set_profile_id("ignored");
  second.profile.set_version(99);
  absl::StatusOr<v1::Profile> v2 = store().PublishProfile("t", "p", std::move(second));
  ASSERT_OK(v2);
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_EQ(v2->profile_id(), "p");
  EXPECT_EQ(v2->create_time().seconds(), 1700000000);
  EXPECT_EQ(v2->update_time().seconds(), 1700000010);

  absl::StatusOr<StoredProfile> got = store().GetProfile("t", "p");
  ASSERT_OK(got);
  EXPECT_EQ(got->payload, "two");
  EXPECT_EQ(got->profile.SerializeAsString(), v2->SerializeAsString());
  Reopen();
  got = store().GetProfile("t", "p");
  ASSERT_OK(got);
  EXPECT_EQ(got->profile.version(), 2u);
  EXPECT_EQ(got->payload, "two");
}

TEST_F(StoreTest, AbsentProfilesAreNotFound) {
  EXPECT_THAT(store().GetProfile("t", "nope"), StatusIs(StatusCode::kNotFound, "\"nope\""));
  EXPECT_THAT(store().DeleteProfile("t", "nope", std::nullopt), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ExportProfile("t", "nope"), StatusIs(StatusCode::kNotFound));
}

TEST_F(StoreTest, CompareAndSetPublish) {
  PublishProfileRequest create = TestPublish("a");
  create.expected_version = 0;
  ASSERT_OK(store().PublishProfile("t", "p", create));
  EXPECT_THAT(store().PublishProfile("t", "p", create),
              StatusIs(StatusCode::kFailedPrecondition,
                       "expected_version: profile \"p\" is at version 1, not 0"));
  PublishProfileRequest update = TestPublish("b");
  update.expected_version = 5;
  EXPECT_THAT(store().PublishProfile("t", "p", update), StatusIs(StatusCode::kFailedPrecondition));
  PublishProfileRequest missing = TestPublish("b");
  missing.expected_version = 1;
  EXPECT_THAT(store().PublishProfile("t", "other", missing),
              StatusIs(StatusCode::kFailedPrecondition, "(it does not exist)"));
  update.expected_version = 1;
  absl::StatusOr<v1::Profile> v2 = store().PublishProfile("t", "p", update);
  ASSERT_OK(v2);
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_EQ(store().GetProfile("t", "p")->payload, "b");
}

TEST_F(StoreTest, DeleteLeavesATombstoneAndVersionsContinue) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("a")));
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("b")));
  EXPECT_THAT(store().DeleteProfile("t", "p", 1), StatusIs(StatusCode::kFailedPrecondition));
  absl::StatusOr<uint64_t> deleted = store().DeleteProfile("t", "p", 2);
  ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 2u);
  EXPECT_THAT(store().GetProfile("t", "p"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeleteProfile("t", "p", std::nullopt), StatusIs(StatusCode::kNotFound));
  Reopen();
  EXPECT_THAT(store().GetProfile("t", "p"), StatusIs(StatusCode::kNotFound));
  Advance(absl::Minutes(1));
  PublishProfileRequest recreate = TestPublish("c");
  recreate.expected_version = 0;  // a deleted profile does not exist
  absl::StatusOr<v1::Profile> v3 = store().PublishProfile("t", "p", recreate);
  ASSERT_OK(v3);
  EXPECT_EQ(v3->version(), 3u) << "versions never go back";
  EXPECT_EQ(v3->create_time().seconds(), absl::ToUnixSeconds(now())) << "a new profile";
}

TEST_F(StoreTest, TenantsAreIsolated) {
  ASSERT_OK(store().PublishProfile("a", "p", TestPublish("a's")));
  ASSERT_OK(store().PublishProfile("a.b", "p", TestPublish("a.b's")));
  ASSERT_OK(store().PublishProfile("a-", "q", TestPublish("x")));
  EXPECT_EQ(store().GetProfile("a", "p")->payload, "a's");
  EXPECT_EQ(store().GetProfile("a.b", "p")->payload, "a.b's");
  EXPECT_THAT(store().GetProfile("b", "p"), StatusIs(StatusCode::kNotFound));
  absl::StatusOr<ListProfilesResult> list = store().ListProfiles("a", {});
  ASSERT_OK(list);
  ASSERT_EQ(list->profiles.size(), 1u);
  EXPECT_EQ(list->total_count, 1u);
  EXPECT_EQ(*store().CountProfiles("a.b"), 1u);
  EXPECT_EQ(*store().CountProfiles("nobody"), 0u);
  ASSERT_OK(store().DeleteProfile("a", "p", std::nullopt));
  EXPECT_EQ(store().GetProfile("a.b", "p")->payload, "a.b's");
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

TEST_F(StoreTest, QuotaLimitsCreationNotNewVersions) {
  RocksDbProfileStore::Options options = BaseOptions();
  options.max_profiles_per_tenant = 2;
  options.quota_check = [](std::string_view tenant, uint64_t live) {
    return tenant == "blocked" ? absl::ResourceExhaustedError("tenant blocked by policy")
                               : absl::OkStatus();
  };
  Reopen(options);
  ASSERT_OK(store().PublishProfile("t", "a", TestPublish("x")));
  ASSERT_OK(store().PublishProfile("t", "b", TestPublish("x")));
  EXPECT_THAT(store().PublishProfile("t", "c", TestPublish("x")),
              StatusIs(StatusCode::kResourceExhausted, "quota is 2"));
  ASSERT_OK(store().PublishProfile("t", "a", TestPublish("new version")));
  ASSERT_OK(store().PublishProfile("u", "c", TestPublish("x")));
  ASSERT_OK(store().DeleteProfile("t", "b", std::nullopt));
  ASSERT_OK(store().PublishProfile("t", "c", TestPublish("x")));
  EXPECT_THAT(store().PublishProfile("blocked", "a", TestPublish("x")),
              StatusIs(StatusCode::kResourceExhausted, "blocked by policy"));
  absl::StatusOr<ExportedProfile> exported = store().ExportProfile("t", "a");
  ASSERT_OK(exported);
  EXPECT_THAT(store().ImportProfile("t", "d", exported->data, {}),
              StatusIs(StatusCode::kResourceExhausted));
}

TEST_F(StoreTest, ProfilesForAnotherBankOrTooLargeAreRefused) {
  EXPECT_THAT(store().PublishProfile("t", "p", TestPublish("x", "foreign")),
              StatusIs(StatusCode::kFailedPrecondition, "is not a bank this store serves"));
  EXPECT_THAT(store().PublishProfile("t", "p", TestPublish("x", "")),
              StatusIs(StatusCode::kInvalidArgument, "profile.bank_fingerprint: required"));
  RocksDbProfileStore::Options options = BaseOptions();
  options.max_payload_bytes = 10;
  Reopen(options);
  EXPECT_THAT(store().PublishProfile("t", "p", TestPublish(std::string(11, 'x'))),
              StatusIs(StatusCode::kInvalidArgument, "payload: 11 bytes"));
  EXPECT_EQ(*store().CountProfiles("t"), 0u);
}

TEST_F(StoreTest, ConcurrentPublishersGetDenseVersions) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_OK(store().PublishProfile("t", "hot", TestPublish(std::to_string(t))));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store().GetProfile("t", "hot")->profile.version(), uint64_t{kThreads * kEach});
}

TEST_F(StoreTest, CompareAndSetAdmitsExactlyOneWriterPerVersion) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("start")));
  constexpr int kThreads = 6;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      PublishProfileRequest request = TestPublish("cas");
      request.expected_version = 1;
      absl::StatusOr<v1::Profile> result = store().PublishProfile("t", "p", request);
      if (result.ok()) {
        ++wins;
      } else {
        EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(store().GetProfile("t", "p")->profile.version(), 2u);
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
