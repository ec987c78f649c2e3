// The ProfileStore contract (storage/profile_store.h), checked against every
// durable implementation: RocksDbProfileStore and PostgresProfileStore (on a
// throwaway server, storage/testing/postgres_server.h; skipped with a message
// when the PostgreSQL binaries are absent). Test names end in the backend:
// Backends/ProfileStoreContractTest.CompareAndSetPublish/Postgres.
//
// Backend-specific behaviour (RocksDB tuning, checkpoints, the PostgreSQL
// schema) is tested in each backend's own test files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "maskserve/storage/v1/records.pb.h"
#include "storage/job_id.h"
#include "storage/page_token.h"
#include "storage/postgres_profile_store.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/store_keys.h"
#include "storage/testing/postgres_server.h"
#include "storage/testing/store_test_util.h"
#include "storage/testing/temp_dir.h"

namespace maskserve {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// What a test asks of the store it opens.
struct ContractOptions {
  std::string backbone = kTestBackbone;
  std::vector<std::string> banks = {kTestBank};
  bool migrate_fingerprints = false;
  uint64_t max_profiles_per_tenant = 0;
  std::function<absl::Status(std::string_view, uint64_t)> quota_check;
  size_t max_payload_bytes = size_t{64} << 20;
  // Bulk setup: the RocksDB store skips fsync (PostgreSQL's test server
  // runs with fsync off anyway).
  bool fast_writes = false;
};

// One implementation under test: opens stores over the same data, and
// reaches under them to plant bytes.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<std::unique_ptr<ProfileStore>> Open(const ContractOptions& options,
                                                             std::function<absl::Time()> clock) = 0;
  virtual absl::StatusOr<std::string> RawProfile(ProfileStore& store, const std::string& tenant,
                                                 const std::string& id) = 0;
  virtual absl::Status PlantProfile(ProfileStore& store, const std::string& tenant,
                                    const std::string& id, const std::string& bytes) = 0;
  virtual absl::StatusOr<std::string> RawJob(ProfileStore& store, const std::string& tenant,
                                             const std::string& id) = 0;
  virtual absl::Status PlantJob(ProfileStore& store, const std::string& tenant,
                                const std::string& id, const std::string& bytes) = 0;
  virtual const storage::v1::StoreMeta& Meta(ProfileStore& store) = 0;
};

class RocksDbBackend : public Backend {
 public:
  using Family = RocksDbProfileStore::Family;
  absl::StatusOr<std::unique_ptr<ProfileStore>> Open(const ContractOptions& options,
                                                     std::function<absl::Time()> clock) override {
    RocksDbProfileStore::Options o;
    o.data_dir = dir_.path() + "/db";
    o.backbone_fingerprint = options.backbone;
    o.bank_fingerprints = options.banks;
    o.migrate_fingerprints = options.migrate_fingerprints;
    o.max_profiles_per_tenant = options.max_profiles_per_tenant;
    o.quota_check = options.quota_check;
    o.max_payload_bytes = options.max_payload_bytes;
    o.sync_writes = !options.fast_writes;
    o.block_cache_bytes = 8 << 20;
    o.write_buffer_bytes = 4 << 20;
    o.clock = std::move(clock);
    absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store =
        RocksDbProfileStore::Open(std::move(o));
    if (!store.ok()) return store.status();
    return std::unique_ptr<ProfileStore>(std::move(*store));
  }
  absl::StatusOr<std::string> RawProfile(ProfileStore& store, const std::string& tenant,
                                         const std::string& id) override {
    return Rocks(store).GetRawForTest(Family::kProfiles, store_keys::ProfileKey(tenant, id));
  }
  absl::Status PlantProfile(ProfileStore& store, const std::string& tenant, const std::string& id,
                            const std::string& bytes) override {
    return Rocks(store).PutRawForTest(Family::kProfiles, store_keys::ProfileKey(tenant, id), bytes);
  }
  absl::StatusOr<std::string> RawJob(ProfileStore& store, const std::string& tenant,
                                     const std::string& id) override {
    return Rocks(store).GetRawForTest(Family::kJobs, store_keys::JobKey(tenant, id));
  }
  absl::Status PlantJob(ProfileStore& store, const std::string& tenant, const std::string& id,
                        const std::string& bytes) override {
    return Rocks(store).PutRawForTest(Family::kJobs, store_keys::JobKey(tenant, id), bytes);
  }
  const storage::v1::StoreMeta& Meta(ProfileStore& store) override { return Rocks(store).meta(); }

 private:
  static RocksDbProfileStore& Rocks(ProfileStore& store) {
    return dynamic_cast<RocksDbProfileStore&>(store);
  }
  TempDir dir_{"maskserve_contract_test"};
};

class PostgresBackend : public Backend {
 public:
  // A fresh database on the process's shared server.
  static absl::StatusOr<std::unique_ptr<Backend>> Make() {
    absl::StatusOr<PostgresServer*> server = PostgresServer::Shared();
    if (!server.ok()) return server.status();
    absl::StatusOr<std::string> url = (*server)->CreateDatabase("contract");
    if (!url.ok()) return url.status();
    auto backend = std::make_unique<PostgresBackend>();
    backend->url_ = *url;
    return std::unique_ptr<Backend>(std::move(backend));
  }
  absl::StatusOr<std::unique_ptr<ProfileStore>> Open(const ContractOptions& options,
                                                     std::function<absl::Time()> clock) override {
    PostgresProfileStore::Options o;
    o.url = url_;
    o.backbone_fingerprint = options.backbone;
    o.bank_fingerprints = options.banks;
    o.migrate_fingerprints = options.migrate_fingerprints;
    o.max_profiles_per_tenant = options.max_profiles_per_tenant;
    o.quota_check = options.quota_check;
    o.max_payload_bytes = options.max_payload_bytes;
    o.clock = std::move(clock);
    absl::StatusOr<std::unique_ptr<PostgresProfileStore>> store =
        PostgresProfileStore::Open(std::move(o));
    if (!store.ok()) return store.status();
    return std::unique_ptr<ProfileStore>(std::move(*store));
  }
  absl::StatusOr<std::string> RawProfile(ProfileStore& store, const std::string& tenant,
                                         const std::string& id) override {
    return Pg(store).GetRawForTest(PostgresProfileStore::Table::kProfiles, tenant, id);
  }
  absl::Status PlantProfile(ProfileStore& store, const std::string& tenant, const std::string& id,
                            const std::string& bytes) override {
    return Pg(store).PutRawForTest(PostgresProfileStore::Table::kProfiles, tenant, id, bytes);
  }
  absl::StatusOr<std::string> RawJob(ProfileStore& store, const std::string& tenant,
                                     const std::string& id) override {
    return Pg(store).GetRawForTest(PostgresProfileStore::Table::kJobs, tenant, id);
  }
  absl::Status PlantJob(ProfileStore& store, const std::string& tenant, const std::string& id,
                        const std::string& bytes) override {
    return Pg(store).PutRawForTest(PostgresProfileStore::Table::kJobs, tenant, id, bytes);
  }
  const storage::v1::StoreMeta& Meta(ProfileStore& store) override { return Pg(store).meta(); }

 private:
  static PostgresProfileStore& Pg(ProfileStore& store) {
    return dynamic_cast<PostgresProfileStore&>(store);
  }
  std::string url_;
};

struct BackendParam {
  const char* name;
  std::function<absl::StatusOr<std::unique_ptr<Backend>>()> make;
};

void PrintTo(const BackendParam& param, std::ostream* os) { *os << param.name; }

class ProfileStoreContractTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Backend>> backend = GetParam().make();
    if (!backend.ok()) {
      if (PostgresServer::Required()) FAIL() << GetParam().name << ": " << backend.status();
      GTEST_SKIP() << GetParam().name << ": " << backend.status().message();
    }
    backend_ = *std::move(backend);
    Reopen();
  }
  void TearDown() override { store_.reset(); }

  absl::StatusOr<std::unique_ptr<ProfileStore>> OpenStore(const ContractOptions& options) {
    return backend_->Open(options, [this] { return now_; });
  }
  void Reopen() { Reopen(ContractOptions()); }
  void Reopen(const ContractOptions& options) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<ProfileStore>> store = OpenStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Close() { store_.reset(); }

  ProfileStore& store() { return *store_; }
  Backend& backend() { return *backend_; }
  void Advance(absl::Duration d) { now_ += d; }
  absl::Time now() const { return now_; }

  std::string CreateJob(const std::string& tenant, const std::string& profile_id,
                        int examples = 3) {
    Advance(absl::Milliseconds(1));
    absl::StatusOr<v1::TrainingJob> job =
        store().CreateJob(tenant, TestTrainRequest(profile_id, examples), {});
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? job->job_id() : "";
  }
  static v1::TrainingJob Status(const std::string& job_id, v1::JobState state) {
    v1::TrainingJob job;
    job.set_job_id(job_id);
    job.set_state(state);
    return job;
  }
  static std::vector<std::string> Ids(const ListProfilesResult& result) {
    std::vector<std::string> ids;
    for (const v1::Profile& p : result.profiles) ids.push_back(p.profile_id());
    return ids;
  }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ProfileStore> store_;
};

TEST_P(ProfileStoreContractTest, PublishAssignsVersionsAndTimes) {
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
  EXPECT_EQ(got->profile.description(), "test profile");
  // Binary payloads survive byte for byte.
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>(i * 7));
  ASSERT_OK(store().PublishProfile("t", "bin", TestPublish(binary)));
  Reopen();
  got = store().GetProfile("t", "p");
  ASSERT_OK(got);
  EXPECT_EQ(got->profile.version(), 2u);
  EXPECT_EQ(got->payload, "two");
  EXPECT_EQ(store().GetProfile("t", "bin")->payload, binary);
}

TEST_P(ProfileStoreContractTest, AbsentProfilesAreNotFound) {
  EXPECT_THAT(store().GetProfile("t", "nope"), StatusIs(StatusCode::kNotFound, "\"nope\""));
  EXPECT_THAT(store().DeleteProfile("t", "nope", std::nullopt), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ExportProfile("t", "nope"), StatusIs(StatusCode::kNotFound));
}

TEST_P(ProfileStoreContractTest, CompareAndSetPublish) {
  PublishProfileRequest create = TestPublish("a");
  create.expected_version = 0;  // only if it does not exist
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
  EXPECT_THAT(store().GetProfile("t", "other"), StatusIs(StatusCode::kNotFound));
}

TEST_P(ProfileStoreContractTest, DeleteLeavesATombstoneAndVersionsContinue) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("a")));
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("b")));
  EXPECT_THAT(store().DeleteProfile("t", "p", 1),
              StatusIs(StatusCode::kFailedPrecondition, "expected_version"));
  absl::StatusOr<uint64_t> deleted = store().DeleteProfile("t", "p", 2);
  ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 2u);
  EXPECT_THAT(store().GetProfile("t", "p"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeleteProfile("t", "p", std::nullopt), StatusIs(StatusCode::kNotFound));
  PublishProfileRequest cas = TestPublish("x");
  cas.expected_version = 2;  // deleted: it is at "0"
  EXPECT_THAT(store().PublishProfile("t", "p", cas),
              StatusIs(StatusCode::kFailedPrecondition, "(it does not exist)"));
  Reopen();
  EXPECT_THAT(store().GetProfile("t", "p"), StatusIs(StatusCode::kNotFound));
  Advance(absl::Minutes(1));
  PublishProfileRequest recreate = TestPublish("c");
  recreate.expected_version = 0;  // a deleted profile does not exist
  absl::StatusOr<v1::Profile> v3 = store().PublishProfile("t", "p", recreate);
  ASSERT_OK(v3);
  EXPECT_EQ(v3->version(), 3u) << "versions never go back";
  EXPECT_EQ(v3->create_time().seconds(), absl::ToUnixSeconds(now())) << "a new profile";
  EXPECT_EQ(*store().DeleteProfile("t", "p", std::nullopt), 3u);
}

TEST_P(ProfileStoreContractTest, GetProfileVersionsReadsCurrentVersionsInOrder) {
  ASSERT_OK(store().PublishProfile("t", "a", TestPublish("a1")));
  ASSERT_OK(store().PublishProfile("t", "a", TestPublish("a2")));
  ASSERT_OK(store().PublishProfile("t", "b", TestPublish("b1")));
  ASSERT_OK(store().PublishProfile("t", "gone", TestPublish("g1")));
  ASSERT_OK(store().DeleteProfile("t", "gone", std::nullopt));
  ASSERT_OK(store().PublishProfile("other", "c", TestPublish("c1")));
  absl::StatusOr<std::vector<uint64_t>> versions =
      store().GetProfileVersions("t", {"b", "never", "a", "gone", "c", "a"});
  ASSERT_OK(versions);
  EXPECT_EQ(*versions, (std::vector<uint64_t>{1, 0, 2, 0, 0, 2}));
  versions = store().GetProfileVersions("t", {});
  ASSERT_OK(versions);
  EXPECT_THAT(*versions, IsEmpty());
  // More ids than one query takes.
  std::vector<std::string> many;
  for (int i = 0; i < 2500; ++i) many.push_back(i == 1700 ? "a" : absl::StrCat("x", i));
  versions = store().GetProfileVersions("t", many);
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), many.size());
  EXPECT_EQ((*versions)[1700], 2u);
  EXPECT_EQ((*versions)[0], 0u);
  EXPECT_THAT(store().GetProfileVersions("t/x", {"a"}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(ProfileStoreContractTest, ClaimsAndRenewalsOfUnfinishedJobs) {
  const JobLease lease{"trainer-a", absl::Seconds(30)};
  const std::string job = CreateJob("t", "p");
  absl::StatusOr<StoredJob> claimed = store().ClaimJob("t", job, lease);
  ASSERT_OK(claimed);
  EXPECT_EQ(claimed->job.job_id(), job);
  EXPECT_EQ(claimed->request.examples_size(), 3);
  // A cancel requested elsewhere reaches the holder with its renewal.
  v1::TrainingJob cancel = Status(job, v1::RUNNING);
  cancel.set_cancel_requested(true);
  ASSERT_OK(store().UpdateJob("t", cancel));
  absl::StatusOr<v1::TrainingJob> renewed = store().RenewJobLease("t", job, lease);
  ASSERT_OK(renewed);
  EXPECT_TRUE(renewed->cancel_requested());
  ASSERT_OK(store().UpdateJob("t", Status(job, v1::CANCELLED)));
  EXPECT_THAT(store().ClaimJob("t", job, lease),
              StatusIs(StatusCode::kFailedPrecondition, "CANCELLED"));
  EXPECT_THAT(store().RenewJobLease("t", job, lease),
              StatusIs(StatusCode::kFailedPrecondition, "CANCELLED"));
  EXPECT_THAT(store().ClaimJob("other", job, lease), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ClaimJob("t", "bad id", lease), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(ProfileStoreContractTest, TenantsAreIsolated) {
  ASSERT_OK(store().PublishProfile("a", "p", TestPublish("a's")));
  ASSERT_OK(store().PublishProfile("a.b", "p", TestPublish("a.b's")));
  ASSERT_OK(store().PublishProfile("a-", "q", TestPublish("x")));
  EXPECT_EQ(store().GetProfile("a", "p")->payload, "a's");
  EXPECT_EQ(store().GetProfile("a.b", "p")->payload, "a.b's");
  EXPECT_THAT(store().GetProfile("b", "p"), StatusIs(StatusCode::kNotFound));
  absl::StatusOr<ListProfilesResult> list = store().ListProfiles("a", {});
  ASSERT_OK(list);
  EXPECT_THAT(Ids(*list), ElementsAre("p"));
  EXPECT_EQ(list->total_count, 1u);
  EXPECT_EQ(*store().CountProfiles("a.b"), 1u);
  EXPECT_EQ(*store().CountProfiles("nobody"), 0u);
  ASSERT_OK(store().DeleteProfile("a", "p", std::nullopt));
  EXPECT_EQ(store().GetProfile("a.b", "p")->payload, "a.b's");
  // Jobs too.
  const std::string job = CreateJob("a", "p");
  EXPECT_THAT(store().GetJob("a.b", job), StatusIs(StatusCode::kNotFound, "job_id"));
  EXPECT_THAT(store().UpdateJob("a.b", Status(job, v1::RUNNING)), StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(store().ListJobs("a.b", {}, {})->jobs.empty());
  PublishProfileRequest publish = TestPublish("x");
  publish.finished_job = Status(job, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("a.b", "p", publish), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(store().GetJob("a", job)->job.state(), v1::QUEUED);
}

TEST_P(ProfileStoreContractTest, InvalidIdsNameTheField) {
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
  EXPECT_THAT(store().ImportProfile("t", "", "x", {}),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_THAT(store().ExportProfile("t'", "p"), StatusIs(StatusCode::kInvalidArgument, "tenant"));
  EXPECT_THAT(store().GetJob("t", "not-a-job-id"),
              StatusIs(StatusCode::kInvalidArgument, "job_id"));
  EXPECT_THAT(store().CreateJob("t", TestTrainRequest("bad/id"), {}),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_THAT(store().UpdateJob("t", Status("x", v1::RUNNING)),
              StatusIs(StatusCode::kInvalidArgument, "job_id"));
  PublishProfileRequest publish = TestPublish("x");
  publish.finished_job = Status("nope", v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p", publish),
              StatusIs(StatusCode::kInvalidArgument, "job_id"));
  JobFilter filter;
  filter.profile_id = "bad/id";
  EXPECT_THAT(store().ListJobs("t", filter, {}),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
  EXPECT_EQ(*store().CountProfiles("t"), 0u);
}

TEST_P(ProfileStoreContractTest, ListsPagesInIdOrderSkippingTombstones) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back("p" + std::to_string(i));
  // Bytewise order, not a locale's: upper case before lower, punctuation
  // counts ('-' < '.' < ':' < '@').
  for (const char* id : {"Z", "a-b", "a.b", "a:b", "@x", "z9"}) ids.push_back(id);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(3));
  for (const std::string& id : ids) ASSERT_OK(store().PublishProfile("t", id, TestPublish(id)));
  ASSERT_OK(store().PublishProfile("u", "p0", TestPublish("other tenant")));
  ASSERT_OK(store().DeleteProfile("t", "p13", std::nullopt));
  ASSERT_OK(store().DeleteProfile("t", "z9", std::nullopt));  // the last id
  std::sort(ids.begin(), ids.end());
  ids.erase(std::remove(ids.begin(), ids.end(), "p13"), ids.end());
  ids.erase(std::remove(ids.begin(), ids.end(), "z9"), ids.end());
  ASSERT_EQ(ids.size(), 29u);
  ASSERT_EQ(ids[0], "@x");

  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  PageRequest page;
  page.page_size = 10;
  int pages = 0;
  do {
    absl::StatusOr<ListProfilesResult> result = store().ListProfiles("t", page);
    ASSERT_OK(result);
    EXPECT_EQ(result->total_count, 29u);
    EXPECT_THAT(result->unreadable, IsEmpty());
    for (const std::string& id : Ids(*result)) seen.push_back(id);
    sizes.push_back(result->profiles.size());
    page.page_token = result->next_page_token;
    ++pages;
  } while (!page.page_token.empty() && pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_THAT(sizes, ElementsAre(10, 10, 9));

  page = {};
  absl::StatusOr<ListProfilesResult> all = store().ListProfiles("t", page);  // default 100
  ASSERT_OK(all);
  EXPECT_EQ(Ids(*all), ids);
  EXPECT_TRUE(all->next_page_token.empty());
  // Exactly page_size left: no dangling empty page.
  page.page_size = 29;
  EXPECT_TRUE(store().ListProfiles("t", page)->next_page_token.empty());
  page.page_size = 28;
  EXPECT_FALSE(store().ListProfiles("t", page)->next_page_token.empty());

  // Tokens of another tenant or listing, or altered, are refused.
  page.page_size = 10;
  page.page_token = store().ListProfiles("t", page)->next_page_token;
  EXPECT_THAT(store().ListProfiles("u", page),
              StatusIs(StatusCode::kInvalidArgument, "page_token"));
  EXPECT_THAT(store().ListJobs("t", {}, page),
              StatusIs(StatusCode::kInvalidArgument, "page_token"));
  page.page_token = "garbage";
  EXPECT_THAT(store().ListProfiles("t", page),
              StatusIs(StatusCode::kInvalidArgument, "page_token"));
  absl::StatusOr<ListProfilesResult> empty = store().ListProfiles("empty", {});
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->profiles.empty());
  EXPECT_EQ(empty->total_count, 0u);
  EXPECT_TRUE(empty->next_page_token.empty());
}

TEST_P(ProfileStoreContractTest, PageSizeDefaultsAndClamps) {
  ContractOptions fast;
  fast.fast_writes = true;
  Reopen(fast);
  for (uint32_t i = 0; i < kMaxPageSize + 5; ++i) {
    ASSERT_OK(store().PublishProfile("t", absl::StrCat("p", 10000 + i), TestPublish("x")));
  }
  absl::StatusOr<ListProfilesResult> first = store().ListProfiles("t", {});
  ASSERT_OK(first);
  EXPECT_EQ(first->profiles.size(), kDefaultPageSize);
  EXPECT_FALSE(first->next_page_token.empty());
  PageRequest big;
  big.page_size = 5000;
  absl::StatusOr<ListProfilesResult> clamped = store().ListProfiles("t", big);
  ASSERT_OK(clamped);
  EXPECT_EQ(clamped->profiles.size(), kMaxPageSize);
  EXPECT_EQ(clamped->total_count, kMaxPageSize + 5);
  big.page_token = clamped->next_page_token;
  absl::StatusOr<ListProfilesResult> rest = store().ListProfiles("t", big);
  ASSERT_OK(rest);
  EXPECT_EQ(rest->profiles.size(), 5u);
  EXPECT_TRUE(rest->next_page_token.empty());
}

TEST_P(ProfileStoreContractTest, CountsAreMaintained) {
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
  absl::StatusOr<ExportedProfile> exported = store().ExportProfile("t", "p0");
  ASSERT_OK(exported);
  ASSERT_OK(store().ImportProfile("t", "imported", exported->data, {}));
  ImportProfileOptions overwrite;
  overwrite.overwrite = true;
  ASSERT_OK(store().ImportProfile("t", "imported", exported->data, overwrite));
  EXPECT_EQ(*store().CountProfiles("t"), 5u);
  Reopen();
  EXPECT_EQ(*store().CountProfiles("t"), 5u);
  EXPECT_EQ(*store().CountProfiles("u"), 1u);
  EXPECT_EQ(store().ListProfiles("t", {})->total_count, 5u);
}

TEST_P(ProfileStoreContractTest, QuotaLimitsCreationNotNewVersions) {
  ContractOptions options;
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
  EXPECT_EQ(*store().CountProfiles("t"), 2u);
}

TEST_P(ProfileStoreContractTest, QuotaHoldsUnderConcurrentCreation) {
  ContractOptions options;
  options.max_profiles_per_tenant = 20;
  options.fast_writes = true;
  Reopen(options);
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<v1::Profile> result = store().PublishProfile(
            "t", "p" + std::to_string(t) + "-" + std::to_string(i), TestPublish("x"));
        if (result.ok()) {
          ++created;
        } else {
          EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted) << result.status();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(created.load(), 20);
  EXPECT_EQ(*store().CountProfiles("t"), 20u);
  EXPECT_EQ(store().ListProfiles("t", {})->profiles.size(), 20u);
}

TEST_P(ProfileStoreContractTest, ProfilesForAnotherBankOrTooLargeAreRefused) {
  EXPECT_THAT(store().PublishProfile("t", "p", TestPublish("x", "foreign")),
              StatusIs(StatusCode::kFailedPrecondition, "is not a bank this store serves"));
  EXPECT_THAT(store().PublishProfile("t", "p", TestPublish("x", "")),
              StatusIs(StatusCode::kInvalidArgument, "profile.bank_fingerprint: required"));
  ContractOptions options;
  options.max_payload_bytes = 10;
  Reopen(options);
  EXPECT_THAT(store().PublishProfile("t", "p", TestPublish(std::string(11, 'x'))),
              StatusIs(StatusCode::kInvalidArgument, "payload: 11 bytes"));
  EXPECT_EQ(*store().CountProfiles("t"), 0u);
}

TEST_P(ProfileStoreContractTest, OtherFingerprintsAreRefusedUnlessMigrating) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("x")));
  Close();
  ContractOptions options;
  options.banks = {"new-bank"};
  EXPECT_THAT(OpenStore(options), StatusIs(StatusCode::kFailedPrecondition, "bank fingerprints"));
  options = ContractOptions();
  options.backbone = "new-backbone";
  EXPECT_THAT(OpenStore(options),
              StatusIs(StatusCode::kFailedPrecondition, "backbone fingerprint"));
  // Unspecified fingerprints (tools) accept what is recorded.
  options = ContractOptions();
  options.backbone.clear();
  options.banks.clear();
  Reopen(options);
  EXPECT_EQ(backend().Meta(store()).backbone_fingerprint(), kTestBackbone);

  options = ContractOptions();
  options.banks = {"new-bank"};
  options.migrate_fingerprints = true;
  Reopen(options);
  EXPECT_EQ(backend().Meta(store()).bank_fingerprints(0), "new-bank");
  EXPECT_EQ(backend().Meta(store()).migrations_size(), 1);
  // Old profiles stay readable; new ones must be for the new bank.
  EXPECT_EQ(store().GetProfile("t", "p")->profile.bank_fingerprint(), kTestBank);
  EXPECT_THAT(store().PublishProfile("t", "q", TestPublish("x")),
              StatusIs(StatusCode::kFailedPrecondition, "profile.bank_fingerprint"));
  EXPECT_OK(store().PublishProfile("t", "q", TestPublish("x", "new-bank")));
  options.migrate_fingerprints = false;
  Reopen(options);  // the new fingerprints are now the recorded ones
  EXPECT_EQ(backend().Meta(store()).migrations_size(), 1);
}

TEST_P(ProfileStoreContractTest, ExportAndImport) {
  PublishProfileRequest publish = TestPublish("payload bytes");
  publish.profile.set_description("exported");
  ASSERT_OK(store().PublishProfile("t", "p", publish));
  ASSERT_OK(store().PublishProfile("t", "p", publish));
  absl::StatusOr<ExportedProfile> exported = store().ExportProfile("t", "p");
  ASSERT_OK(exported);
  EXPECT_EQ(exported->version, 2u);
  // Into another tenant: a new profile at version 1.
  absl::StatusOr<v1::Profile> imported = store().ImportProfile("u", "copy", exported->data, {});
  ASSERT_OK(imported);
  EXPECT_EQ(imported->version(), 1u);
  EXPECT_EQ(imported->profile_id(), "copy");
  EXPECT_EQ(imported->description(), "exported");
  EXPECT_EQ(store().GetProfile("u", "copy")->payload, "payload bytes");
  // Onto a live profile: ALREADY_EXISTS unless overwrite (a new version).
  EXPECT_THAT(store().ImportProfile("t", "p", exported->data, {}),
              StatusIs(StatusCode::kAlreadyExists, "overwrite"));
  ImportProfileOptions overwrite;
  overwrite.overwrite = true;
  imported = store().ImportProfile("t", "p", exported->data, overwrite);
  ASSERT_OK(imported);
  EXPECT_EQ(imported->version(), 3u);
  // Onto a deleted one: versions continue.
  ASSERT_OK(store().DeleteProfile("t", "p", std::nullopt));
  imported = store().ImportProfile("t", "p", exported->data, {});
  ASSERT_OK(imported);
  EXPECT_EQ(imported->version(), 4u);
  EXPECT_THAT(store().ImportProfile("t", "bad", "not an export", {}),
              StatusIs(StatusCode::kInvalidArgument, "data"));
  std::string flipped = exported->data;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_THAT(store().ImportProfile("t", "bad", flipped, {}),
              StatusIs(StatusCode::kInvalidArgument, "data"));
  EXPECT_THAT(store().GetProfile("t", "bad"), StatusIs(StatusCode::kNotFound));
}

TEST_P(ProfileStoreContractTest, CreateKeepsTheRequestUntilTheJobEnds) {
  v1::TrainingJob initial;
  initial.set_total_epochs(20);
  absl::StatusOr<v1::TrainingJob> job = store().CreateJob("t", TestTrainRequest("p", 7), initial);
  ASSERT_OK(job);
  EXPECT_OK(ValidateJobId(job->job_id()));
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_EQ(job->num_examples(), 7u);
  EXPECT_EQ(job->total_epochs(), 20u);
  Reopen();
  absl::StatusOr<StoredJob> stored = store().GetJob("t", job->job_id());
  ASSERT_OK(stored);
  EXPECT_EQ(stored->tenant, "t");
  EXPECT_EQ(stored->request.examples_size(), 7);
  EXPECT_EQ(stored->job.SerializeAsString(), job->SerializeAsString());
  EXPECT_THAT(store().GetJob("t", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
              StatusIs(StatusCode::kNotFound, "job_id"));
  EXPECT_THAT(store().GetJob("other", job->job_id()), StatusIs(StatusCode::kNotFound, "job_id"));
  EXPECT_THAT(store().GetJob("t", "not-a-job-id"),
              StatusIs(StatusCode::kInvalidArgument, "job_id"));
  EXPECT_THAT(store().CreateJob("t", TestTrainRequest("bad/id"), {}),
              StatusIs(StatusCode::kInvalidArgument, "profile_id"));
}

TEST_P(ProfileStoreContractTest, UpdatesRecordProgressAndFinalStatesDropExamples) {
  const std::string id = CreateJob("t", "p");
  v1::TrainingJob running = Status(id, v1::RUNNING);
  running.set_epoch(2);
  running.set_step(40);
  running.set_profile_id("hijack");
  absl::StatusOr<v1::TrainingJob> updated = store().UpdateJob("t", running);
  ASSERT_OK(updated);
  EXPECT_EQ(updated->profile_id(), "p");
  EXPECT_EQ(updated->step(), 40u);
  EXPECT_TRUE(updated->has_start_time());
  EXPECT_EQ(store().GetJob("t", id)->job.step(), 40u);
  EXPECT_THAT(store().UpdateJob("t", Status(id, v1::SUCCEEDED)),
              StatusIs(StatusCode::kFailedPrecondition, "finished_job"));
  v1::TrainingJob failed = Status(id, v1::FAILED);
  failed.set_error("out of memory");
  ASSERT_OK(store().UpdateJob("t", failed));
  Reopen();
  absl::StatusOr<StoredJob> stored = store().GetJob("t", id);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->job.state(), v1::FAILED);
  EXPECT_EQ(stored->job.error(), "out of memory");
  EXPECT_EQ(stored->job.num_examples(), 3u);
  EXPECT_TRUE(stored->job.has_end_time());
  EXPECT_EQ(stored->request.examples_size(), 0);
  EXPECT_THAT(store().UpdateJob("t", Status(id, v1::RUNNING)),
              StatusIs(StatusCode::kFailedPrecondition, "already FAILED"));
  EXPECT_THAT(store().UpdateJob("t", Status("01ARZ3NDEKTSV4RRFFQ69G5FAV", v1::RUNNING)),
              StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(store().ListUnfinishedJobs()->jobs.empty());
}

TEST_P(ProfileStoreContractTest, PublishingFinishesTheJobAtomically) {
  const std::string id = CreateJob("t", "p", 5);
  ASSERT_OK(store().UpdateJob("t", Status(id, v1::RUNNING)));
  v1::TrainingJob done = Status(id, v1::RUNNING);
  done.mutable_best_validation()->set_accuracy(0.9f);
  PublishProfileRequest publish = TestPublish("trained");
  publish.finished_job = done;
  absl::StatusOr<v1::Profile> profile = store().PublishProfile("t", "p", publish);
  ASSERT_OK(profile);
  EXPECT_EQ(profile->training_job_id(), id);
  Reopen();
  absl::StatusOr<StoredJob> job = store().GetJob("t", id);
  ASSERT_OK(job);
  EXPECT_EQ(job->job.state(), v1::SUCCEEDED);
  EXPECT_EQ(job->job.published_version(), 1u);
  EXPECT_FLOAT_EQ(job->job.best_validation().accuracy(), 0.9f);
  EXPECT_TRUE(job->job.has_end_time());
  EXPECT_EQ(job->request.examples_size(), 0);
  EXPECT_TRUE(store().ListUnfinishedJobs()->jobs.empty());

  // A finished job cannot publish again, and nothing is published then.
  publish.payload = "again";
  EXPECT_THAT(store().PublishProfile("t", "p", publish),
              StatusIs(StatusCode::kFailedPrecondition, "already SUCCEEDED"));
  EXPECT_EQ(store().GetProfile("t", "p")->payload, "trained");
  const std::string failed = CreateJob("t", "p");
  ASSERT_OK(store().UpdateJob("t", Status(failed, v1::FAILED)));
  publish.finished_job = Status(failed, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p", publish),
              StatusIs(StatusCode::kFailedPrecondition, "already FAILED"));
  // A job for another profile, or an unknown job, publishes nothing.
  const std::string other = CreateJob("t", "q");
  publish.finished_job = Status(other, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p", publish),
              StatusIs(StatusCode::kFailedPrecondition, "trains profile \"q\""));
  publish.finished_job = Status("01ARZ3NDEKTSV4RRFFQ69G5FAV", v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p", publish), StatusIs(StatusCode::kNotFound));
  publish.finished_job = Status(other, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("u", "q", publish), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(store().GetProfile("t", "p")->profile.version(), 1u);
  EXPECT_THAT(store().GetProfile("t", "q"), StatusIs(StatusCode::kNotFound));
  // A failed CAS publishes nothing and leaves the job as it was.
  publish.finished_job = Status(other, v1::RUNNING);
  publish.expected_version = 3;
  EXPECT_THAT(store().PublishProfile("t", "q", publish), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(store().GetJob("t", other)->job.state(), v1::QUEUED);
  EXPECT_EQ(store().GetJob("t", other)->request.examples_size(), 3);
  EXPECT_EQ(*store().CountProfiles("t"), 1u);
  // The quota refuses the publication and the job stays unfinished.
  ContractOptions quota;
  quota.max_profiles_per_tenant = 1;
  Reopen(quota);
  publish.expected_version.reset();
  EXPECT_THAT(store().PublishProfile("t", "q", publish), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(store().GetJob("t", other)->job.state(), v1::QUEUED);
}

TEST_P(ProfileStoreContractTest, ListsJobsNewestFirstWithFiltersAndPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(CreateJob("t", i % 3 == 0 ? "a" : "b"));
  CreateJob("u", "a");
  ASSERT_OK(store().UpdateJob("t", Status(ids[4], v1::CANCELLED)));
  ASSERT_OK(store().UpdateJob("t", Status(ids[5], v1::RUNNING)));

  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  PageRequest page;
  page.page_size = 5;
  int pages = 0;
  do {
    absl::StatusOr<ListJobsResult> result = store().ListJobs("t", {}, page);
    ASSERT_OK(result);
    EXPECT_THAT(result->unreadable, IsEmpty());
    for (const v1::TrainingJob& job : result->jobs) seen.push_back(job.job_id());
    sizes.push_back(result->jobs.size());
    page.page_token = result->next_page_token;
    ++pages;
  } while (!page.page_token.empty() && pages < 10);
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));
  EXPECT_THAT(sizes, ElementsAre(5, 5, 2));
  page = {};
  page.page_size = 12;
  EXPECT_TRUE(store().ListJobs("t", {}, page)->next_page_token.empty());

  JobFilter by_profile;
  by_profile.profile_id = "a";
  absl::StatusOr<ListJobsResult> a = store().ListJobs("t", by_profile, {});
  ASSERT_OK(a);
  ASSERT_EQ(a->jobs.size(), 4u);
  for (const v1::TrainingJob& job : a->jobs) EXPECT_EQ(job.profile_id(), "a");
  EXPECT_EQ(a->jobs[0].job_id(), ids[9]);
  // Filtered pages.
  page = {};
  page.page_size = 3;
  absl::StatusOr<ListJobsResult> first = store().ListJobs("t", by_profile, page);
  ASSERT_OK(first);
  ASSERT_EQ(first->jobs.size(), 3u);
  page.page_token = first->next_page_token;
  absl::StatusOr<ListJobsResult> second = store().ListJobs("t", by_profile, page);
  ASSERT_OK(second);
  ASSERT_EQ(second->jobs.size(), 1u);
  EXPECT_EQ(second->jobs[0].job_id(), ids[0]);
  EXPECT_TRUE(second->next_page_token.empty());

  JobFilter by_state;
  by_state.states = {v1::CANCELLED, v1::RUNNING};
  absl::StatusOr<ListJobsResult> s = store().ListJobs("t", by_state, {});
  ASSERT_OK(s);
  ASSERT_EQ(s->jobs.size(), 2u);
  EXPECT_EQ(s->jobs[0].job_id(), ids[5]);
  EXPECT_EQ(s->jobs[1].job_id(), ids[4]);
  EXPECT_EQ(store().ListJobs("u", {}, {})->jobs.size(), 1u);
  EXPECT_TRUE(store().ListJobs("nobody", {}, {})->jobs.empty());
}

TEST_P(ProfileStoreContractTest, UnfinishedJobsOfEveryTenantAreFoundAfterReopen) {
  const std::string a = CreateJob("t1", "p", 4);
  const std::string b = CreateJob("t2", "p", 2);
  const std::string c = CreateJob("t1", "q");
  const std::string d = CreateJob("t3", "r");
  ASSERT_OK(store().UpdateJob("t1", Status(a, v1::RUNNING)));
  ASSERT_OK(store().UpdateJob("t1", Status(c, v1::CANCELLED)));
  PublishProfileRequest publish = TestPublish("x");
  publish.finished_job = Status(d, v1::RUNNING);
  ASSERT_OK(store().PublishProfile("t3", "r", publish));
  Reopen();
  absl::StatusOr<UnfinishedJobs> unfinished = store().ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  EXPECT_TRUE(unfinished->unreadable.empty());
  ASSERT_EQ(unfinished->jobs.size(), 2u);
  EXPECT_EQ(unfinished->jobs[0].job.job_id(), a);  // oldest first
  EXPECT_EQ(unfinished->jobs[0].tenant, "t1");
  EXPECT_EQ(unfinished->jobs[0].job.state(), v1::RUNNING);
  EXPECT_EQ(unfinished->jobs[0].request.examples_size(), 4);
  EXPECT_EQ(unfinished->jobs[1].job.job_id(), b);
  EXPECT_EQ(unfinished->jobs[1].tenant, "t2");
  // Re-queue a running job after a restart.
  ASSERT_OK(store().UpdateJob("t1", Status(a, v1::QUEUED)));
  EXPECT_EQ(store().ListUnfinishedJobs()->jobs.size(), 2u);
}

TEST_P(ProfileStoreContractTest, ManyUnfinishedJobsAreListedInOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(CreateJob(i % 2 ? "odd" : "even", "p", 0));
  absl::StatusOr<UnfinishedJobs> unfinished = store().ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  std::vector<std::string> seen;
  for (const StoredJob& job : unfinished->jobs) seen.push_back(job.job.job_id());
  EXPECT_EQ(seen, ids);
}

TEST_P(ProfileStoreContractTest, CorruptedProfileIsDataLossForItOnly) {
  for (const char* id : {"p1", "p2", "p3"}) {
    for (int v = 0; v < 3; ++v) {
      ASSERT_OK(store().PublishProfile("t", id, TestPublish(std::string(500, 'a' + v))));
    }
  }
  absl::StatusOr<std::string> raw = backend().RawProfile(store(), "t", "p2");
  ASSERT_OK(raw);
  std::string value = *raw;
  value[value.size() / 2] ^= 0x10;
  ASSERT_OK(backend().PlantProfile(store(), "t", "p2", value));
  EXPECT_THAT(store().GetProfile("t", "p2"),
              StatusIs(StatusCode::kDataLoss, "profile \"p2\": stored record is unreadable"));
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "checksum mismatch"));
  EXPECT_THAT(store().ExportProfile("t", "p2"), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(store().PublishProfile("t", "p2", TestPublish("x")),
              StatusIs(StatusCode::kDataLoss, "Delete it"));
  absl::StatusOr<ListProfilesResult> list = store().ListProfiles("t", {});
  ASSERT_OK(list);
  EXPECT_THAT(Ids(*list), ElementsAre("p1", "p3"));
  ASSERT_EQ(list->unreadable.size(), 1u);
  EXPECT_EQ(list->unreadable[0].id, "p2");
  EXPECT_EQ(list->unreadable[0].status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(list->total_count, 3u);
  // The neighbours work in every way.
  for (const char* id : {"p1", "p3"}) {
    absl::StatusOr<StoredProfile> p = store().GetProfile("t", id);
    ASSERT_OK(p);
    EXPECT_EQ(p->profile.version(), 3u);
    EXPECT_EQ(p->payload, std::string(500, 'c'));
  }
  EXPECT_OK(store().PublishProfile("t", "p1", TestPublish("fine")));
  EXPECT_OK(store().ExportProfile("t", "p3"));
  // Other kinds of damage.
  ASSERT_OK(backend().PlantProfile(store(), "t", "p2", ""));
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "truncated"));
  ASSERT_OK(backend().PlantProfile(store(), "t", "p2", *backend().RawProfile(store(), "t", "p3")));
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "names profile"));
  storage::v1::ProfileRecord future;
  future.set_format_version(kProfileRecordVersion + 1);
  future.mutable_profile()->set_profile_id("p2");
  future.mutable_profile()->set_version(3);
  ASSERT_OK(backend().PlantProfile(store(), "t", "p2", EncodeRecord(kProfileTag, future)));
  EXPECT_THAT(store().GetProfile("t", "p2"),
              StatusIs(StatusCode::kDataLoss, "unknown format_version 2"));
  ASSERT_OK(backend().PlantProfile(store(), "t", "p2", value));

  // The operator clears it; its version survives and moves on.
  EXPECT_THAT(store().DeleteProfile("t", "p2", 3), StatusIs(StatusCode::kDataLoss));
  absl::StatusOr<uint64_t> deleted = store().DeleteProfile("t", "p2", std::nullopt);
  ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(*store().CountProfiles("t"), 2u);
  absl::StatusOr<v1::Profile> again = store().PublishProfile("t", "p2", TestPublish("new"));
  ASSERT_OK(again);
  EXPECT_EQ(again->version(), 4u);
}

TEST_P(ProfileStoreContractTest, RandomHostileBytesNeverCrash) {
  for (const char* id : {"p1", "p2"}) ASSERT_OK(store().PublishProfile("t", id, TestPublish(id)));
  std::mt19937 rng(11);
  const std::string good = *backend().RawProfile(store(), "t", "p2");
  for (int i = 0; i < 60; ++i) {
    std::string value;
    switch (i % 3) {
      case 0:
        value.resize(rng() % 2000);
        for (char& c : value) c = static_cast<char>(rng());
        break;
      case 1:
        value.resize(rng() % 200);
        for (char& c : value) c = static_cast<char>(rng());
        value = FrameBytes(kProfileTag, value);
        break;
      default:
        value = good;
        for (int k = 0; k < 3; ++k) {
          value[rng() % value.size()] ^= static_cast<char>(1 + rng() % 255);
        }
        break;
    }
    ASSERT_OK(backend().PlantProfile(store(), "t", "p2", value));
    absl::StatusOr<StoredProfile> got = store().GetProfile("t", "p2");
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
    }
    ASSERT_OK(store().ListProfiles("t", {}));
  }
  EXPECT_EQ(store().GetProfile("t", "p1")->payload, "p1");
}

TEST_P(ProfileStoreContractTest, CorruptJobsAreReportedNotFatal) {
  const std::string good = CreateJob("t", "p1");
  const std::string bad = CreateJob("t", "p2");
  absl::StatusOr<std::string> raw = backend().RawJob(store(), "t", bad);
  ASSERT_OK(raw);
  std::string value = *raw;
  value[10] ^= 0x40;
  ASSERT_OK(backend().PlantJob(store(), "t", bad, value));
  EXPECT_THAT(store().GetJob("t", bad), StatusIs(StatusCode::kDataLoss, "job \""));
  EXPECT_THAT(store().UpdateJob("t", Status(bad, v1::RUNNING)), StatusIs(StatusCode::kDataLoss));
  PublishProfileRequest publish = TestPublish("x");
  publish.finished_job = Status(bad, v1::RUNNING);
  EXPECT_THAT(store().PublishProfile("t", "p2", publish), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kNotFound));
  absl::StatusOr<ListJobsResult> list = store().ListJobs("t", {}, {});
  ASSERT_OK(list);
  ASSERT_EQ(list->jobs.size(), 1u);
  EXPECT_EQ(list->jobs[0].job_id(), good);
  ASSERT_EQ(list->unreadable.size(), 1u);
  EXPECT_EQ(list->unreadable[0].id, bad);
  EXPECT_EQ(list->unreadable[0].status.code(), StatusCode::kDataLoss);
  Reopen();
  absl::StatusOr<UnfinishedJobs> unfinished = store().ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  ASSERT_EQ(unfinished->jobs.size(), 1u);
  EXPECT_EQ(unfinished->jobs[0].job.job_id(), good);
  ASSERT_EQ(unfinished->unreadable.size(), 1u);
  EXPECT_EQ(unfinished->unreadable[0].id, bad);
  // A valid record of another job under this one's id.
  ASSERT_OK(backend().PlantJob(store(), "t", bad, *backend().RawJob(store(), "t", good)));
  EXPECT_THAT(store().GetJob("t", bad), StatusIs(StatusCode::kDataLoss));
}

TEST_P(ProfileStoreContractTest, ConcurrentPublishesGetDistinctConsecutiveVersions) {
  constexpr int kThreads = 8, kEach = 15;
  std::vector<std::vector<uint64_t>> versions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<v1::Profile> published =
            store().PublishProfile("t", "hot", TestPublish(std::to_string(t)));
        EXPECT_TRUE(published.ok()) << published.status();
        if (published.ok()) versions[t].push_back(published->version());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<uint64_t> all;
  for (const auto& v : versions) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> expected(kThreads * kEach);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  EXPECT_EQ(all, expected);
  EXPECT_EQ(store().GetProfile("t", "hot")->profile.version(), uint64_t{kThreads * kEach});
  EXPECT_EQ(*store().CountProfiles("t"), 1u);
}

TEST_P(ProfileStoreContractTest, CompareAndSetAdmitsExactlyOneWriterPerVersion) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("start")));
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      PublishProfileRequest request = TestPublish("cas");
      request.expected_version = 1;
      absl::StatusOr<v1::Profile> result = store().PublishProfile("t", "p", request);
      if (result.ok()) {
        ++wins;
      } else {
        EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition) << result.status();
      }
      PublishProfileRequest create = TestPublish("new");
      create.expected_version = 0;
      absl::StatusOr<v1::Profile> fresh = store().PublishProfile("t", "fresh", create);
      if (fresh.ok()) {
        ++created;
      } else {
        EXPECT_EQ(fresh.status().code(), StatusCode::kFailedPrecondition) << fresh.status();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(store().GetProfile("t", "p")->profile.version(), 2u);
  EXPECT_EQ(store().GetProfile("t", "fresh")->profile.version(), 1u);
  EXPECT_EQ(*store().CountProfiles("t"), 2u);
}

TEST_P(ProfileStoreContractTest, ConcurrentJobsAndReadsAcrossTenants) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string tenant = "t" + std::to_string(t % 3);
      for (int i = 0; i < 5; ++i) {
        absl::StatusOr<v1::TrainingJob> job =
            store().CreateJob(tenant, TestTrainRequest("p" + std::to_string(t)), {});
        ASSERT_TRUE(job.ok()) << job.status();
        v1::TrainingJob running = Status(job->job_id(), v1::RUNNING);
        ASSERT_OK(store().UpdateJob(tenant, running));
        PublishProfileRequest publish = TestPublish("x");
        publish.finished_job = running;
        ASSERT_OK(store().PublishProfile(tenant, "p" + std::to_string(t), publish));
        ASSERT_OK(store().ListProfiles(tenant, {}));
        ASSERT_OK(store().ListJobs(tenant, {}, {}));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(store().ListUnfinishedJobs()->jobs.empty());
  uint64_t total = 0;
  for (int t = 0; t < 3; ++t) total += *store().CountProfiles("t" + std::to_string(t));
  EXPECT_EQ(total, 8u);
}

TEST_P(ProfileStoreContractTest, CheckWritableIsOkWhileWritesWork) {
  EXPECT_OK(store().CheckWritable());
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("x")));
  EXPECT_OK(store().CheckWritable());
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ProfileStoreContractTest,
    ::testing::Values(BackendParam{"RocksDb",
                                   []() -> absl::StatusOr<std::unique_ptr<Backend>> {
                                     return std::unique_ptr<Backend>(
                                         std::make_unique<RocksDbBackend>());
                                   }},
                      BackendParam{"Postgres", &PostgresBackend::Make}),
    [](const ::testing::TestParamInfo<BackendParam>& info) { return info.param.name; });

}  // namespace
}  // namespace maskserve
