// PostgresProfileStore internals: the mapping of libpqxx errors to status
// codes, and RunTransaction's commit, rollback and retry rules, on a
// throwaway server (skipped without the PostgreSQL binaries).
#include "storage/postgres_connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "storage/status_detail.h"
#include "storage/testing/postgres_server.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace postgres_internal {
namespace {

using absl::StatusCode;

TEST(PostgresErrorsTest, ExceptionsMapToTheContractsCodes) {
  EXPECT_THAT(StatusFromException(pqxx::broken_connection("gone"), "publish profile"),
              StatusIs(StatusCode::kUnavailable, "publish profile: "));
  EXPECT_THAT(StatusFromException(pqxx::in_doubt_error("?"), "x"),
              StatusIs(StatusCode::kUnavailable, "may or may not"));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("full", "INSERT", "53100"), "x"),
              StatusIs(StatusCode::kResourceExhausted, "no space left"));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("io", "SELECT", "58030"), "x"),
              StatusIs(StatusCode::kUnavailable, "I/O error"));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("bye", "SELECT", "57P01"), "x"),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("ro", "INSERT", "25006"), "x"),
              StatusIs(StatusCode::kUnavailable, "read-only"));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("conn", "SELECT", "08006"), "x"),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(StatusFromException(pqxx::serialization_failure("could not serialize"), "x"),
              StatusIs(StatusCode::kAborted));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("bad", "SELECT", "XX001"), "x"),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(StatusFromException(pqxx::sql_error("syntax", "SELEC", "42601"), "x"),
              StatusIs(StatusCode::kInternal, "42601"));
  // The server's message is the detail, not the message.
  absl::Status status = StatusFromException(pqxx::sql_error("secret path", "q", "58030"), "x");
  EXPECT_EQ(std::string(status.message()).find("secret path"), std::string::npos);
  ASSERT_TRUE(DetailOf(status).has_value());
  EXPECT_NE(DetailOf(status)->find("secret path"), std::string::npos);
}

class RunTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PostgresServer*> server = PostgresServer::Shared();
    if (!server.ok()) {
      if (PostgresServer::Required()) FAIL() << server.status();
      GTEST_SKIP() << server.status().message();
    }
    absl::StatusOr<std::string> url = (*server)->CreateDatabase("tx");
    ASSERT_TRUE(url.ok()) << url.status();
    pool_ = std::make_unique<ConnectionPool>(*url, 2);
    ASSERT_OK(RunTransaction(*pool_, "setup", TxMode::kReadWrite, [](Transaction& tx) {
      tx.ExecSql("CREATE TABLE t (v integer)");
      return absl::OkStatus();
    }));
  }
  int Rows() {
    int rows = -1;
    EXPECT_OK(RunTransaction(*pool_, "count", TxMode::kSingleStatement, [&](Transaction& tx) {
      rows = tx.ExecSql("SELECT count(*) FROM t")[0][0].as<int>();
      return absl::OkStatus();
    }));
    return rows;
  }
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(RunTransactionTest, CommitsOnOkAndRollsBackOnError) {
  ASSERT_OK(RunTransaction(*pool_, "insert", TxMode::kReadWrite, [](Transaction& tx) {
    tx.ExecSql("INSERT INTO t VALUES (1)");
    return absl::OkStatus();
  }));
  bool infrastructure = true;
  EXPECT_THAT(RunTransaction(
                  *pool_, "refused", TxMode::kReadWrite,
                  [](Transaction& tx) {
                    tx.ExecSql("INSERT INTO t VALUES (2)");
                    return absl::FailedPreconditionError("no");
                  },
                  &infrastructure),
              StatusIs(StatusCode::kFailedPrecondition, "no"));
  EXPECT_FALSE(infrastructure);
  EXPECT_EQ(Rows(), 1);
  EXPECT_THAT(RunTransaction(*pool_, "read only", TxMode::kReadOnlySnapshot,
                             [](Transaction& tx) {
                               tx.ExecSql("INSERT INTO t VALUES (3)");
                               return absl::OkStatus();
                             }),
              StatusIs(StatusCode::kUnavailable, "read-only"));
  EXPECT_EQ(Rows(), 1);
}

TEST_F(RunTransactionTest, RetriesOnceOnConflicts) {
  int calls = 0;
  ASSERT_OK(RunTransaction(*pool_, "retried", TxMode::kReadWrite, [&](Transaction& tx) {
    ++calls;
    tx.ExecSql("INSERT INTO t VALUES (1)");
    if (calls == 1) throw pqxx::deadlock_detected("deadlock detected");
    return absl::OkStatus();
  }));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Rows(), 1) << "the first attempt was rolled back";
  calls = 0;
  EXPECT_THAT(RunTransaction(*pool_, "conflicts", TxMode::kReadWrite,
                             [&](Transaction& tx) -> absl::Status {
                               ++calls;
                               throw pqxx::serialization_failure("could not serialize");
                               return absl::OkStatus();
                             }),
              StatusIs(StatusCode::kAborted, "conflicts: "));
  EXPECT_EQ(calls, 2);
  calls = 0;
  EXPECT_THAT(RunTransaction(*pool_, "in doubt", TxMode::kReadWrite,
                             [&](Transaction& tx) -> absl::Status {
                               ++calls;
                               throw pqxx::in_doubt_error("?");
                               return absl::OkStatus();
                             }),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(calls, 1) << "an unknown commit outcome is never retried";
  calls = 0;
  EXPECT_THAT(RunTransaction(*pool_, "syntax", TxMode::kReadWrite,
                             [&](Transaction& tx) {
                               ++calls;
                               tx.ExecSql("SELEC 1");
                               return absl::OkStatus();
                             }),
              StatusIs(StatusCode::kInternal));
  EXPECT_EQ(calls, 1);
}

TEST_F(RunTransactionTest, ARealDeadlockIsRetried) {
  ASSERT_OK(RunTransaction(*pool_, "rows", TxMode::kReadWrite, [](Transaction& tx) {
    tx.ExecSql("INSERT INTO t VALUES (1), (2)");
    return absl::OkStatus();
  }));
  // Two transactions lock the two rows in opposite orders; PostgreSQL
  // aborts one of them, which runs again (after the other has finished, so
  // that it cannot deadlock a second time) and succeeds.
  std::atomic<int> calls{0};
  std::atomic<int> arrived{0};
  std::atomic<bool> done[2] = {false, false};
  auto run = [&](int me, int first, int second) {
    int attempts = 0;
    absl::Status status = RunTransaction(*pool_, "swap", TxMode::kReadWrite, [&](Transaction& tx) {
      ++calls;
      if (++attempts > 1) {
        while (!done[1 - me].load()) std::this_thread::yield();
      }
      tx.ExecSql("UPDATE t SET v = v WHERE v = " + std::to_string(first));
      if (arrived.fetch_add(1) < 2) {
        while (arrived.load() < 2) std::this_thread::yield();
      }
      tx.ExecSql("UPDATE t SET v = v WHERE v = " + std::to_string(second));
      return absl::OkStatus();
    });
    done[me] = true;
    return status;
  };
  absl::Status a, b;
  std::thread ta([&] { a = run(0, 1, 2); });
  std::thread tb([&] { b = run(1, 2, 1); });
  ta.join();
  tb.join();
  EXPECT_OK(a);
  EXPECT_OK(b);
  EXPECT_EQ(calls.load(), 3);
}

TEST_F(RunTransactionTest, BrokenConnectionsAreReplaced) {
  // Kill this pool's backends: the next transaction finds its connection
  // broken, drops it and runs again on a new one.
  ASSERT_OK(RunTransaction(*pool_, "warm", TxMode::kReadWrite, [](Transaction& tx) {
    tx.ExecSql("SELECT 1");
    return absl::OkStatus();
  }));
  absl::StatusOr<PostgresServer*> server = PostgresServer::Shared();
  ASSERT_TRUE(server.ok());
  ConnectionPool admin((*server)->Url("postgres"), 1);
  ASSERT_OK(RunTransaction(admin, "terminate", TxMode::kSingleStatement, [](Transaction& tx) {
    tx.ExecSql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname LIKE 'tx\\_%' AND pid <> pg_backend_pid()");
    return absl::OkStatus();
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int calls = 0;
  ASSERT_OK(RunTransaction(*pool_, "after", TxMode::kReadWrite, [&](Transaction& tx) {
    ++calls;
    tx.ExecSql("INSERT INTO t VALUES (9)");
    return absl::OkStatus();
  }));
  // Broken at BEGIN (before the body) or in it: either way once more.
  EXPECT_GE(calls, 1);
  EXPECT_LE(calls, 2);
  EXPECT_EQ(Rows(), 1);
}

}  // namespace
}  // namespace postgres_internal
}  // namespace maskserve
