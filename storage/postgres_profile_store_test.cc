// PostgresProfileStore: what is particular to it (the contract is checked
// in profile_store_contract_test.cc): options, the schema and its
// migrations, the meta record, connection failures, the pool, backups.
// Skipped with a message when the PostgreSQL server binaries are absent.
#include "storage/postgres_profile_store.h"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/postgres_schema.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/testing/postgres_server.h"
#include "storage/testing/store_test_util.h"
#include "storage/testing/temp_dir.h"

namespace maskserve {
namespace {

using absl::StatusCode;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PostgresServer*> server = PostgresServer::Shared();
    if (!server.ok()) {
      if (PostgresServer::Required()) FAIL() << server.status();
      GTEST_SKIP() << server.status().message();
    }
    server_ = *server;
    absl::StatusOr<std::string> url = server_->CreateDatabase("pgstore");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }
  PostgresProfileStore::Options BaseOptions() const {
    PostgresProfileStore::Options options;
    options.url = url_;
    options.backbone_fingerprint = kTestBackbone;
    options.bank_fingerprints = {kTestBank};
    return options;
  }
  std::unique_ptr<PostgresProfileStore> OpenOrDie(PostgresProfileStore::Options options) {
    absl::StatusOr<std::unique_ptr<PostgresProfileStore>> store =
        PostgresProfileStore::Open(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  PostgresServer* server_ = nullptr;
  std::string url_;
};

TEST_F(PostgresStoreTest, BadOptionsAreInvalidArgument) {
  PostgresProfileStore::Options options = BaseOptions();
  options.url = "";
  EXPECT_THAT(PostgresProfileStore::Open(options), StatusIs(StatusCode::kInvalidArgument, "url"));
  options = BaseOptions();
  options.pool_size = 0;
  EXPECT_THAT(PostgresProfileStore::Open(options),
              StatusIs(StatusCode::kInvalidArgument, "pool_size"));
}

TEST_F(PostgresStoreTest, UnreachableServerIsUnavailable) {
  PostgresProfileStore::Options options = BaseOptions();
  // A port nothing listens on (the server's, plus one, is as good as any).
  options.url =
      absl::StrCat("postgresql://postgres@127.0.0.1:", server_->port() + 1, "/x?connect_timeout=2");
  EXPECT_THAT(PostgresProfileStore::Open(options), StatusIs(StatusCode::kUnavailable));
  options.url = server_->Url("no_such_database");
  EXPECT_THAT(PostgresProfileStore::Open(options), StatusIs(StatusCode::kUnavailable));
}

TEST_F(PostgresStoreTest, FreshDatabaseGetsTheCurrentSchema) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->ExecuteSqlForTest("SELECT version FROM schema_version"),
            std::to_string(postgres_internal::kPostgresSchemaVersion));
  EXPECT_EQ(*store->ExecuteSqlForTest("SELECT count(*) FROM schema_version"), "1");
  for (const char* table : {"store_meta", "tenants", "profiles", "jobs"}) {
    EXPECT_EQ(*store->ExecuteSqlForTest(
                  absl::StrCat("SELECT count(*) FROM pg_tables WHERE tablename = '", table, "'")),
              "1")
        << table;
  }
  // Ids compare bytewise.
  EXPECT_EQ(
      *store->ExecuteSqlForTest("SELECT collation_name FROM information_schema.columns "
                                "WHERE table_name = 'profiles' AND column_name = 'profile_id'"),
      "C");
  EXPECT_EQ(store->meta().backbone_fingerprint(), kTestBackbone);
  // Reopening changes nothing.
  store.reset();
  store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->ExecuteSqlForTest("SELECT version FROM schema_version"),
            std::to_string(postgres_internal::kPostgresSchemaVersion));
}

TEST_F(PostgresStoreTest, NewerSchemaIsRefused) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PublishProfile("t", "p", TestPublish("x")));
  ASSERT_OK(store->ExecuteSqlForTest(absl::StrCat("UPDATE schema_version SET version = ",
                                                  postgres_internal::kPostgresSchemaVersion + 1)));
  store.reset();
  EXPECT_THAT(PostgresProfileStore::Open(BaseOptions()),
              StatusIs(StatusCode::kFailedPrecondition, "newer than this build knows"));
}

TEST_F(PostgresStoreTest, DamagedSchemaVersionTableIsRefused) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->ExecuteSqlForTest("INSERT INTO schema_version VALUES (1)"));
  store.reset();
  EXPECT_THAT(PostgresProfileStore::Open(BaseOptions()),
              StatusIs(StatusCode::kDataLoss, "schema_version holds 2 rows"));
}

TEST_F(PostgresStoreTest, ConcurrentOpensOfAFreshDatabaseMigrateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<PostgresProfileStore>> store =
          PostgresProfileStore::Open(BaseOptions());
      EXPECT_TRUE(store.ok()) << store.status();
      if (store.ok()) ++opened;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), 4);
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->ExecuteSqlForTest("SELECT count(*) FROM schema_version"), "1");
}

TEST_F(PostgresStoreTest, DamagedMetaRefusesToOpen) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->ExecuteSqlForTest(
      "UPDATE store_meta SET record = set_byte(record, 3, get_byte(record, 3) # 1)"));
  store.reset();
  EXPECT_THAT(PostgresProfileStore::Open(BaseOptions()),
              StatusIs(StatusCode::kDataLoss, "record unreadable"));
}

TEST_F(PostgresStoreTest, CheckpointIsUnimplementedPointingToPgDump) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->CreateCheckpoint("/tmp/x"), StatusIs(StatusCode::kUnimplemented, "pg_dump"));
}

TEST_F(PostgresStoreTest, ASmallPoolServesManyThreads) {
  PostgresProfileStore::Options options = BaseOptions();
  options.pool_size = 2;
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const std::string tenant = "t" + std::to_string(t % 4);
        EXPECT_OK(store->PublishProfile(tenant, "p" + std::to_string(t), TestPublish("x")));
        EXPECT_OK(store->GetProfile(tenant, "p" + std::to_string(t)));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(*store->CountProfiles("t0"), 3u);
}

TEST_F(PostgresStoreTest, TotalProfileCountSumsEveryTenant) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->TotalProfileCount(), 0u);
  ASSERT_OK(store->PublishProfile("a", "p1", TestPublish("x")));
  ASSERT_OK(store->PublishProfile("a", "p1", TestPublish("y")));  // a new version, not a profile
  ASSERT_OK(store->PublishProfile("a", "p2", TestPublish("x")));
  ASSERT_OK(store->PublishProfile("b", "p1", TestPublish("x")));
  EXPECT_EQ(*store->TotalProfileCount(), 3u);
  ASSERT_OK(store->DeleteProfile("a", "p2", std::nullopt));
  EXPECT_EQ(*store->TotalProfileCount(), 2u);
}

TEST_F(PostgresStoreTest, ProfilesAreStoredAsFramedRecords) {
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(BaseOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PublishProfile("t", "p", TestPublish("payload")));
  absl::StatusOr<std::string> raw =
      store->GetRawForTest(PostgresProfileStore::Table::kProfiles, "t", "p");
  ASSERT_OK(raw);
  storage::v1::ProfileRecord record;
  ASSERT_OK(DecodeRecord(kProfileTag, *raw, kProfileRecordVersion, &record));
  EXPECT_EQ(record.payload(), "payload");
  EXPECT_EQ(record.profile().version(), 1u);
  EXPECT_THAT(store->GetRawForTest(PostgresProfileStore::Table::kProfiles, "t", "q"),
              StatusIs(StatusCode::kNotFound));
}

// A server that goes away: calls fail UNAVAILABLE (the broken pooled
// connections are dropped, the retry cannot connect) and health reports it.
TEST_F(PostgresStoreTest, LostServerIsUnavailable) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> own = PostgresServer::Start();
  ASSERT_TRUE(own.ok()) << own.status();
  absl::StatusOr<std::string> url = (*own)->CreateDatabase("lost");
  ASSERT_TRUE(url.ok()) << url.status();
  PostgresProfileStore::Options options = BaseOptions();
  options.url = *url + "?connect_timeout=2";
  std::unique_ptr<PostgresProfileStore> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PublishProfile("t", "p", TestPublish("x")));
  (*own)->Stop();
  absl::StatusOr<v1::Profile> failed = store->PublishProfile("t", "q", TestPublish("x"));
  EXPECT_THAT(failed.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->GetProfile("t", "p"), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->CheckWritable(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->ListProfiles("t", {}), StatusIs(StatusCode::kUnavailable));
  store.reset();
}

// Store latencies against the local cluster, RocksDB alongside (both with
// durable commits: RocksDB fsyncs its WAL; this PostgreSQL server runs with
// fsync on). Informational; set MASKSERVE_STORE_LATENCY=1 to run.
TEST_F(PostgresStoreTest, LatencyOfPublishesAndGets) {
  if (std::getenv("MASKSERVE_STORE_LATENCY") == nullptr) {
    GTEST_SKIP() << "set MASKSERVE_STORE_LATENCY=1 to measure";
  }
  constexpr int kOps = 1000;
  const std::string payload(4096, 'x');
  auto measure = [&](ProfileStore& store, const char* name) {
    absl::Time start = absl::Now();
    for (int i = 0; i < kOps; ++i) {
      ASSERT_OK(store.PublishProfile("t", "p" + std::to_string(i % 100), TestPublish(payload)));
    }
    absl::Duration publish = absl::Now() - start;
    start = absl::Now();
    for (int i = 0; i < kOps; ++i) ASSERT_OK(store.GetProfile("t", "p" + std::to_string(i % 100)));
    absl::Duration get = absl::Now() - start;
    start = absl::Now();
    for (int i = 0; i < kOps / 10; ++i) ASSERT_OK(store.ListProfiles("t", {}));
    absl::Duration list = absl::Now() - start;
    std::printf("%s: %d publishes %s (%s each), %d gets %s (%s each), %d lists of 100 %s\n", name,
                kOps, absl::FormatDuration(publish).c_str(),
                absl::FormatDuration(publish / kOps).c_str(), kOps,
                absl::FormatDuration(get).c_str(), absl::FormatDuration(get / kOps).c_str(),
                kOps / 10, absl::FormatDuration(list).c_str());
  };
  PostgresServer::Options durable;
  durable.fsync = true;
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start(durable);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> url = (*server)->CreateDatabase("latency");
  ASSERT_TRUE(url.ok()) << url.status();
  PostgresProfileStore::Options options = BaseOptions();
  options.url = *url;
  std::unique_ptr<PostgresProfileStore> pg = OpenOrDie(options);
  ASSERT_NE(pg, nullptr);
  measure(*pg, "Postgres (fsync on)");
  PostgresProfileStore::Options fast = BaseOptions();
  std::unique_ptr<PostgresProfileStore> pg_fast = OpenOrDie(fast);
  ASSERT_NE(pg_fast, nullptr);
  measure(*pg_fast, "Postgres (test server, fsync off)");
  TempDir dir("maskserve_latency");
  RocksDbProfileStore::Options rocks_options;
  rocks_options.data_dir = dir.path() + "/db";
  rocks_options.bank_fingerprints = {kTestBank};
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> rocks =
      RocksDbProfileStore::Open(rocks_options);
  ASSERT_TRUE(rocks.ok()) << rocks.status();
  measure(**rocks, "RocksDb (sync writes)");
}

// Two trainers on one database (two stores: two processes as far as
// PostgreSQL can tell): a job is held by one lease at a time.
TEST_F(PostgresStoreTest, AJobIsHeldByOneTrainerUntilItsLeaseExpires) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  PostgresProfileStore::Options options = BaseOptions();
  options.clock = [&now] { return now; };
  std::unique_ptr<PostgresProfileStore> a = OpenOrDie(options);
  std::unique_ptr<PostgresProfileStore> b = OpenOrDie(options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::StatusOr<v1::TrainingJob> job = a->CreateJob("t", TestTrainRequest("p", 2), {});
  ASSERT_OK(job);
  const JobLease lease_a{"trainer-a", absl::Seconds(30)};
  const JobLease lease_b{"trainer-b", absl::Seconds(30)};

  ASSERT_OK(a->ClaimJob("t", job->job_id(), lease_a));
  EXPECT_THAT(b->ClaimJob("t", job->job_id(), lease_b),
              StatusIs(StatusCode::kFailedPrecondition, "held by trainer trainer-a"));
  EXPECT_THAT(b->RenewJobLease("t", job->job_id(), lease_b),
              StatusIs(StatusCode::kFailedPrecondition, "held by trainer trainer-a"));
  // Renewed, the lease outlives its first term.
  now += absl::Seconds(20);
  ASSERT_OK(a->RenewJobLease("t", job->job_id(), lease_a));
  now += absl::Seconds(20);
  EXPECT_THAT(b->ClaimJob("t", job->job_id(), lease_b), StatusIs(StatusCode::kFailedPrecondition));
  // Not renewed (trainer a died): b claims it, and a has lost it.
  now += absl::Seconds(31);
  ASSERT_OK(b->ClaimJob("t", job->job_id(), lease_b));
  EXPECT_THAT(a->RenewJobLease("t", job->job_id(), lease_a),
              StatusIs(StatusCode::kFailedPrecondition, "held by trainer trainer-b"));
  // Put back in the queue (b stops gracefully): anyone may claim it at once.
  v1::TrainingJob queued;
  queued.set_job_id(job->job_id());
  queued.set_state(v1::QUEUED);
  ASSERT_OK(b->UpdateJob("t", queued));
  ASSERT_OK(a->ClaimJob("t", job->job_id(), lease_a));
}

// A claim does not wait for a row another transaction holds locked.
TEST_F(PostgresStoreTest, AClaimSkipsAJobLockedByAnotherClaim) {
  std::unique_ptr<PostgresProfileStore> a = OpenOrDie(BaseOptions());
  ASSERT_NE(a, nullptr);
  absl::StatusOr<v1::TrainingJob> job = a->CreateJob("t", TestTrainRequest("p", 2), {});
  ASSERT_OK(job);
  pqxx::connection conn(url_);
  pqxx::work locker(conn);
  locker.exec("SELECT 1 FROM jobs WHERE job_id = " + locker.quote(job->job_id()) + " FOR UPDATE");
  const absl::Time start = absl::Now();
  EXPECT_THAT(a->ClaimJob("t", job->job_id(), {"trainer-a", absl::Seconds(30)}),
              StatusIs(StatusCode::kFailedPrecondition, "being claimed by another trainer"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  locker.abort();
  ASSERT_OK(a->ClaimJob("t", job->job_id(), {"trainer-a", absl::Seconds(30)}));
}

}  // namespace
}  // namespace maskserve
