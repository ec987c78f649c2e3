// Unit tests of the resident profile table with a scripted loader: hits and
// misses, version monotonicity against publishes and deletes, LRU eviction
// by bytes, a load that races with a publish, and changes made by other
// writers: the change feed's changes, and the confirmation of resident
// copies while the feed is down and after it is back.
#include "server/engine/profile_table.h"

#include <map>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace maskserve {
namespace {

ProfileHandle Version(const std::string& id, uint64_t version, int64_t bytes = 10,
                      const std::string& tenant = "acme") {
  auto p = std::make_shared<ResidentProfile>();
  p->tenant = tenant;
  p->profile_id = id;
  p->version = version;
  p->bytes = bytes;
  return p;
}

// A store stand-in: the version each id is at, and how often it was read.
struct FakeLoader {
  std::map<std::string, uint64_t> versions;
  std::map<std::string, int> loads;
  int64_t bytes = 10;
  std::function<void()> during_load;  // runs inside the load (races)

  ProfileTable::Loader Get() {
    return
        [this](const std::string& tenant, const std::string& id) -> absl::StatusOr<ProfileHandle> {
          ++loads[id];
          if (during_load) during_load();
          auto it = versions.find(id);
          if (it == versions.end()) return absl::NotFoundError("profile '" + id + "' not found");
          return Version(id, it->second, bytes, tenant);
        };
  }
};

// The store's version reads (ProfileStore::GetProfileVersions) over the
// same versions as a FakeLoader, counted; `fail` makes them UNAVAILABLE.
struct FakeVersions {
  FakeLoader* store;
  int reads = 0;
  bool fail = false;

  ProfileTable::VersionReader Get() {
    return [this](const std::string&,
                  const std::vector<std::string>& ids) -> absl::StatusOr<std::vector<uint64_t>> {
      ++reads;
      if (fail) return absl::UnavailableError("database unreachable");
      std::vector<uint64_t> out;
      for (const std::string& id : ids) {
        auto it = store->versions.find(id);
        out.push_back(it == store->versions.end() ? 0 : it->second);
      }
      return out;
    };
  }
};

ProfileChange Change(const std::string& id, uint64_t version, bool deleted = false) {
  ProfileChange change;
  change.tenant = "acme";
  change.profile_id = id;
  change.version = version;
  change.deleted = deleted;
  return change;
}

ProfileTable::Options Budget(int64_t bytes) {
  ProfileTable::Options options;
  options.max_bytes = bytes;
  return options;
}

TEST(ProfileTableTest, LoadsOnceThenServesFromMemory) {
  FakeLoader store;
  store.versions["alice"] = 3;
  ProfileTable table(Budget(1000), store.Get());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<ProfileHandle> h = table.Get("acme", "alice");
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ((*h)->version, 3u);
  }
  EXPECT_EQ(store.loads["alice"], 1);
  EXPECT_EQ(table.resident_count(), 1);
  EXPECT_EQ(table.resident_bytes(), 10);
}

TEST(ProfileTableTest, MissingProfileIsNotFoundAndNotCached) {
  FakeLoader store;
  ProfileTable table(Budget(1000), store.Get());
  EXPECT_EQ(table.Get("acme", "bob").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table.Get("acme", "bob").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.loads["bob"], 2);
  EXPECT_EQ(table.resident_count(), 0);
}

TEST(ProfileTableTest, PublishMovesForwardOnly) {
  FakeLoader store;
  store.versions["alice"] = 1;
  ProfileTable table(Budget(1000), store.Get());
  ASSERT_TRUE(table.Get("acme", "alice").ok());
  EXPECT_TRUE(table.Publish(Version("alice", 2)));
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
  EXPECT_FALSE(table.Publish(Version("alice", 1)));  // stale: ignored
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
  EXPECT_EQ(store.loads["alice"], 1);
}

TEST(ProfileTableTest, HandlesKeepTheirVersionAcrossAHotSwap) {
  FakeLoader store;
  store.versions["alice"] = 1;
  ProfileTable table(Budget(1000), store.Get());
  const ProfileHandle held = *table.Get("acme", "alice");
  table.Publish(Version("alice", 2));
  EXPECT_EQ(held->version, 1u);  // an admitted request keeps its version
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
}

TEST(ProfileTableTest, EraseDropsTheEntryAndAStaleLoadCannotReturn) {
  FakeLoader store;
  store.versions["alice"] = 4;
  ProfileTable table(Budget(1000), store.Get());
  ASSERT_TRUE(table.Get("acme", "alice").ok());
  table.Erase("acme", "alice", 4);
  EXPECT_EQ(table.resident_count(), 0);
  // The store still answers v4 (a replica lagging): refused, then retried
  // until the table gives up rather than serve a deleted version.
  EXPECT_EQ(table.Get("acme", "alice").status().code(), absl::StatusCode::kUnavailable);
  store.versions["alice"] = 5;  // re-created after the delete
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 5u);
}

// Deleting a corrupt record reports version 0: the resident version must
// not go on serving from memory.
TEST(ProfileTableTest, EraseOfAnUnknownVersionDropsWhateverIsResident) {
  FakeLoader store;
  store.versions["alice"] = 5;
  ProfileTable table(Budget(1000), store.Get());
  ASSERT_TRUE(table.Get("acme", "alice").ok());
  store.versions.erase("alice");
  table.Erase("acme", "alice", 0);
  EXPECT_EQ(table.resident_count(), 0);
  EXPECT_EQ(table.Get("acme", "alice").status().code(), absl::StatusCode::kNotFound);
  store.versions["alice"] = 1;  // re-created: the store restarts at 1
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 1u);
}

TEST(ProfileTableTest, ALoadRacingWithAPublishKeepsTheNewerVersion) {
  FakeLoader store;
  store.versions["alice"] = 1;
  ProfileTable table(Budget(1000), store.Get());
  // While the table loads v1 from the store, training publishes v2.
  store.during_load = [&] {
    store.during_load = nullptr;
    table.Publish(Version("alice", 2));
  };
  absl::StatusOr<ProfileHandle> h = table.Get("acme", "alice");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ((*h)->version, 2u);
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
}

TEST(ProfileTableTest, EvictsLeastRecentlyUsedByBytes) {
  FakeLoader store;
  for (const char* id : {"a", "b", "c"}) store.versions[id] = 1;
  ProfileTable table(Budget(25), store.Get());  // room for two of 10 bytes
  ASSERT_TRUE(table.Get("acme", "a").ok());
  ASSERT_TRUE(table.Get("acme", "b").ok());
  ASSERT_TRUE(table.Get("acme", "a").ok());  // a is now the most recent
  ASSERT_TRUE(table.Get("acme", "c").ok());  // evicts b
  EXPECT_EQ(table.resident_count(), 2);
  EXPECT_EQ(table.resident_bytes(), 20);
  ASSERT_TRUE(table.Get("acme", "a").ok());
  EXPECT_EQ(store.loads["a"], 1);
  ASSERT_TRUE(table.Get("acme", "b").ok());
  EXPECT_EQ(store.loads["b"], 2);  // it had been evicted
}

TEST(ProfileTableTest, KeepsTheNewestEntryEvenWhenItAloneIsOverBudget) {
  FakeLoader store;
  store.versions["big"] = 1;
  store.bytes = 100;
  ProfileTable table(Budget(50), store.Get());
  ASSERT_TRUE(table.Get("acme", "big").ok());
  EXPECT_EQ(table.resident_count(), 1);
  EXPECT_EQ(table.resident_bytes(), 100);
}

TEST(ProfileTableTest, TenantsAreSeparateKeys) {
  FakeLoader store;
  store.versions["alice"] = 1;
  ProfileTable table(Budget(1000), store.Get());
  ASSERT_TRUE(table.Get("acme", "alice").ok());
  ASSERT_TRUE(table.Get("globex", "alice").ok());
  EXPECT_EQ(table.resident_count(), 2);
  EXPECT_EQ(store.loads["alice"], 2);
}

TEST(ProfileTableTest, AChangeFromAnotherWriterDropsTheOlderCopyAndTheNextGetLoadsTheNewOne) {
  FakeLoader store;
  store.versions["alice"] = 1;
  ProfileTable table(Budget(1000), store.Get());
  ASSERT_EQ((*table.Get("acme", "alice"))->version, 1u);

  store.versions["alice"] = 2;
  table.ApplyChange(Change("alice", 2));
  EXPECT_EQ(table.resident_count(), 0);
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
  EXPECT_EQ(store.loads["alice"], 2);

  // Our own publication's notification, arriving after the swap: no-op.
  table.ApplyChange(Change("alice", 2));
  EXPECT_EQ(table.resident_count(), 1);
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
  EXPECT_EQ(store.loads["alice"], 2);

  table.ApplyChange(Change("alice", 2, /*deleted=*/true));
  EXPECT_EQ(table.resident_count(), 0);
}

TEST(ProfileTableTest, ALoadThatReadTheVersionBeforeAChangeIsNotKept) {
  FakeLoader store;
  store.versions["alice"] = 1;
  ProfileTable table(Budget(1000), store.Get());
  // The notification of version 2 arrives while the first load, which read
  // version 1, runs; the second load reads version 2.
  int load = 0;
  store.during_load = [&] {
    if (++load == 1) {
      table.ApplyChange(Change("alice", 2));
    } else {
      store.versions["alice"] = 2;
    }
  };
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 2u);
  EXPECT_EQ(store.loads["alice"], 2);
}

TEST(ProfileTableTest, WhileUnconfirmedEveryGetAsksTheStoreAndServesOnlyTheCurrentVersion) {
  FakeLoader store;
  store.versions["alice"] = 1;
  store.versions["bob"] = 1;
  FakeVersions versions{&store};
  ProfileTable table(Budget(1000), store.Get(), versions.Get());
  ASSERT_TRUE(table.Get("acme", "alice").ok());
  ASSERT_TRUE(table.Get("acme", "bob").ok());
  EXPECT_TRUE(table.confirmed());
  EXPECT_EQ(versions.reads, 0);

  table.Unconfirm();
  EXPECT_FALSE(table.confirmed());
  // Still current: served from memory after one version read each time.
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 1u);
  EXPECT_EQ((*table.Get("acme", "alice"))->version, 1u);
  EXPECT_EQ(versions.reads, 2);
  EXPECT_EQ(store.loads["alice"], 1);

  // Changed while the feed was down (its notification was missed).
  store.versions["bob"] = 4;
  EXPECT_EQ((*table.Get("acme", "bob"))->version, 4u);
  EXPECT_EQ(store.loads["bob"], 2);

  // The store cannot answer: no answer rather than a possibly stale one.
  versions.fail = true;
  absl::StatusOr<ProfileHandle> h = table.Get("acme", "alice");
  EXPECT_EQ(h.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(h.status().message().find("alice"), std::string::npos) << h.status();

  // Deleted while the feed was down.
  versions.fail = false;
  store.versions.erase("alice");
  EXPECT_EQ(table.Get("acme", "alice").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table.resident_count(), 1);  // bob
}

TEST(ProfileTableTest, RevalidateKeepsWhatIsCurrentDropsWhatIsNotThenServesFromMemory) {
  FakeLoader store;
  for (const char* id : {"a", "b", "c"}) store.versions[id] = 1;
  FakeVersions versions{&store};
  ProfileTable table(Budget(1000), store.Get(), versions.Get());
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(table.Get("acme", id).ok());

  table.Unconfirm();
  store.versions["b"] = 2;    // published elsewhere meanwhile
  store.versions.erase("c");  // deleted elsewhere meanwhile
  ASSERT_TRUE(table.Revalidate().ok());
  EXPECT_TRUE(table.confirmed());
  EXPECT_EQ(versions.reads, 1);  // one batched read for the tenant
  EXPECT_EQ(table.resident_count(), 1);

  EXPECT_EQ((*table.Get("acme", "a"))->version, 1u);
  EXPECT_EQ((*table.Get("acme", "b"))->version, 2u);
  EXPECT_EQ(table.Get("acme", "c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(versions.reads, 1);  // confirmed again: no reads per Get
  EXPECT_EQ(store.loads["a"], 1);
}

TEST(ProfileTableTest, AFailedRevalidationLeavesTheTableUnconfirmed) {
  FakeLoader store;
  store.versions["a"] = 1;
  FakeVersions versions{&store};
  ProfileTable table(Budget(1000), store.Get(), versions.Get());
  ASSERT_TRUE(table.Get("acme", "a").ok());
  table.Unconfirm();
  versions.fail = true;
  EXPECT_EQ(table.Revalidate().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(table.confirmed());
  EXPECT_EQ(table.Get("acme", "a").status().code(), absl::StatusCode::kUnavailable);
}

TEST(ProfileTableTest, AnInterruptionDuringRevalidationKeepsTheTableUnconfirmed) {
  FakeLoader store;
  store.versions["a"] = 1;
  FakeVersions versions{&store};
  ProfileTable* table_ptr = nullptr;
  // The feed drops again while the revalidation's read is out.
  ProfileTable table(Budget(1000), store.Get(),
                     [&](const std::string& tenant, const std::vector<std::string>& ids) {
                       table_ptr->Unconfirm();
                       return versions.Get()(tenant, ids);
                     });
  table_ptr = &table;
  ASSERT_TRUE(table.Get("acme", "a").ok());
  table.Unconfirm();
  ASSERT_TRUE(table.Revalidate().ok());
  EXPECT_FALSE(table.confirmed());
}

}  // namespace
}  // namespace maskserve
