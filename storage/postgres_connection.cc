// PostgresProfileStore: connection pool, transactions, error mapping (see
// postgres_connection.h).
#include "storage/postgres_connection.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/absl_compat.h"
#include "storage/status_detail.h"

namespace maskserve {
namespace postgres_internal {
namespace {

absl::Status Fail(absl::StatusCode code, std::string_view context, std::string_view what,
                  const std::string& detail) {
  return WithDetail(absl::Status(code, absl::StrCat(Sv(context), ": ", Sv(what))), detail);
}

absl::Status FromSqlState(const std::string& state, std::string_view context,
                          const std::string& detail) {
  auto starts = [&](std::string_view prefix) { return absl::StartsWith(state, Sv(prefix)); };
  using Code = absl::StatusCode;
  if (starts("08")) return Fail(Code::kUnavailable, context, "connection failure", detail);
  if (state == "53100") {
    return Fail(Code::kResourceExhausted, context, "database server: no space left on device",
                detail);
  }
  if (starts("53")) {
    return Fail(Code::kUnavailable, context, "database server out of resources", detail);
  }
  if (starts("57P")) {
    return Fail(Code::kUnavailable, context, "database server shutting down or starting", detail);
  }
  if (state == "57014") return Fail(Code::kUnavailable, context, "statement cancelled", detail);
  if (starts("58")) return Fail(Code::kUnavailable, context, "database server I/O error", detail);
  if (state == "25006") {
    return Fail(Code::kUnavailable, context, "database server is read-only (a standby?)", detail);
  }
  if (state == "40001" || state == "40P01") {
    return Fail(Code::kAborted, context, "conflicting concurrent transaction; retry", detail);
  }
  if (starts("XX00")) {
    return Fail(Code::kDataLoss, context, "database server reports corrupted data", detail);
  }
  if (starts("42P01") || starts("42703")) {
    return Fail(Code::kFailedPrecondition, context,
                "database schema does not match this build (table or column missing)", detail);
  }
  return Fail(Code::kInternal, context, absl::StrCat("database error ", state), detail);
}

// Whether running the body again is safe and may succeed.
bool Retryable(const std::exception& e) {
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) return true;
  // Broken before COMMIT (a commit that broke is in_doubt_error, which is
  // not a broken_connection): nothing was committed.
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return sql->sqlstate() == "40001" || sql->sqlstate() == "40P01";
  }
  return false;
}

bool IsInfrastructure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

template <typename Tx>
absl::Status RunIn(PooledConnection& conn, TxMode mode,
                   const std::function<absl::Status(Transaction&)>& body) {
  Tx tx(conn.conn);
  if (mode == TxMode::kReadWriteAsync) tx.exec("SET LOCAL synchronous_commit TO off");
  Transaction wrapped(conn, tx);
  absl::Status status = body(wrapped);
  if (!status.ok()) {
    tx.abort();
    return status;
  }
  tx.commit();
  return absl::OkStatus();
}

}  // namespace

absl::Status StatusFromException(const std::exception& e, std::string_view context) {
  const std::string detail = e.what();
  using Code = absl::StatusCode;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return Fail(Code::kUnavailable, context,
                "connection lost during commit; the change may or may not have been applied",
                detail);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return Fail(Code::kUnavailable, context, "cannot reach the database server", detail);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    if (!sql->sqlstate().empty()) return FromSqlState(sql->sqlstate(), context, detail);
    return Fail(Code::kUnavailable, context, "database error", detail);
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return Fail(Code::kUnavailable, context, "statement outcome unknown", detail);
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return Fail(Code::kAborted, context, "transaction rolled back; retry", detail);
  }
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr) {
    return Fail(Code::kUnavailable, context, "database client failure", detail);
  }
  return Fail(Code::kInternal, context, "unexpected database client error", detail);
}

ConnectionPool::ConnectionPool(std::string url, int size) : url_(std::move(url)), size_(size) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_), discard_);
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(std::string_view context) {
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < size_;
    };
    mu_.Await(absl::Condition(&available));
    if (!idle_.empty()) {
      std::unique_ptr<PooledConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserve the slot, connect without the lock
  }
  try {
    auto conn = std::make_unique<PooledConnection>(url_);
    pqxx::nontransaction setup(conn->conn);
    // Acknowledged writes must be on disk whatever the server's default.
    setup.exec("SET synchronous_commit TO on");
    setup.commit();
    return Lease(this, std::move(conn));
  } catch (const std::exception& e) {
    absl::MutexLock lock(&mu_);
    --open_;
    return StatusFromException(e, context);
  }
}

void ConnectionPool::Return(std::unique_ptr<PooledConnection> conn, bool discard) {
  if (discard || !conn->conn.is_open()) {
    conn.reset();  // close outside the pool's lock
    absl::MutexLock lock(&mu_);
    --open_;
    return;
  }
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

void Transaction::Prepare(const Statement& statement) {
  if (conn_.prepared.count(statement.name) != 0) return;
  conn_.conn.prepare(statement.name, statement.sql);
  conn_.prepared.insert(statement.name);
}

absl::Status RunTransaction(ConnectionPool& pool, std::string_view context, TxMode mode,
                            const std::function<absl::Status(Transaction&)>& body,
                            bool* infrastructure_failure) {
  if (infrastructure_failure != nullptr) *infrastructure_failure = false;
  absl::Status status;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire(context);
    if (!lease.ok()) {
      if (infrastructure_failure != nullptr) *infrastructure_failure = true;
      return lease.status();
    }
    try {
      switch (mode) {
        case TxMode::kReadWrite:
        case TxMode::kReadWriteAsync:
          return RunIn<pqxx::work>(lease->get(), mode, body);
        case TxMode::kReadOnlySnapshot:
          return RunIn<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(lease->get(),
                                                                                  mode, body);
        case TxMode::kSingleStatement:
          return RunIn<pqxx::nontransaction>(lease->get(), mode, body);
      }
      return absl::InternalError("unknown transaction mode");
    } catch (const std::exception& e) {
      status = StatusFromException(e, context);
      if (!lease->get().conn.is_open() ||
          dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
          dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
        lease->Discard();
      }
      if (attempt == 0 && Retryable(e)) continue;
      if (infrastructure_failure != nullptr) *infrastructure_failure = IsInfrastructure(status);
      return status;
    }
  }
  if (infrastructure_failure != nullptr) *infrastructure_failure = IsInfrastructure(status);
  return status;
}

}  // namespace postgres_internal
}  // namespace maskserve
