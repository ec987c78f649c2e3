// File: storage/postgres_connection.h
//
// Internal to PostgresProfileStore (only its .cc files include this, since it
// includes libpqxx): the connection pool, the transaction runner with its
// retry rule, and the mapping of libpqxx/PostgreSQL errors to absl::Status.
//
// - ConnectionPool keeps up to `size` connections, opened lazily. Acquire()
//   lends one (waiting while all are lent); a lease returns it when
//   destroyed, or drops it when it is broken, so that the next Acquire()
//   opens a fresh one. Every connection runs with synchronous_commit on.
// - RunTransaction() runs a body in one transaction and commits it when the
//   body returns OK (rolls back otherwise). A serialization failure, a
//   deadlock, or a connection that broke before COMMIT was sent, make it run
//   the body once more on a (possibly new) connection; a commit whose outcome
//   is unknown is never retried (UNAVAILABLE).
// - Errors: connection failures, server shutdown, I/O errors and a read-only
//   server are UNAVAILABLE; a full disk RESOURCE_EXHAUSTED; conflicts left
//   after the retry ABORTED; server-detected corruption DATA_LOSS; anything
//   else INTERNAL. The message names the operation; the server's own message
//   is the status detail (storage/status_detail.h).
// - Statements are prepared on each connection at first use, by name.
//
//   ConnectionPool pool(url, 4);
//   absl::Status s = RunTransaction(pool, "publish profile", TxMode::kReadWrite,
//                                   [&](Transaction& tx) {
//                                     pqxx::result r = tx.Exec(kSelectProfile, tenant, id);
//                                     ...
//                                     return absl::OkStatus();
//                                   });
//
// Thread safety: ConnectionPool is thread-safe; a Transaction belongs to the
// thread running its body.
#ifndef MASKSERVE_STORAGE_POSTGRES_CONNECTION_H_
#define MASKSERVE_STORAGE_POSTGRES_CONNECTION_H_

#include <exception>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/postgres_schema.h"

namespace maskserve {
namespace postgres_internal {

// One pooled connection and the statements prepared on it.
struct PooledConnection {
  explicit PooledConnection(const std::string& url) : conn(url) {}
  pqxx::connection conn;
  std::set<std::string> prepared;
};

class ConnectionPool {
 public:
  ConnectionPool(std::string url, int size);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A lent connection; returns it to the pool (or drops it, when broken).
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<PooledConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PooledConnection& get() { return *conn_; }
    // Drop the connection instead of returning it.
    void Discard() { discard_ = true; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<PooledConnection> conn_;
    bool discard_ = false;
  };

  // UNAVAILABLE when a new connection cannot be opened.
  absl::StatusOr<Lease> Acquire(std::string_view context);

 private:
  void Return(std::unique_ptr<PooledConnection> conn, bool discard);

  const std::string url_;
  const int size_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PooledConnection>> idle_ ABSL_GUARDED_BY(mu_);
  // Connections open or being opened, lent ones included.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// The transaction a body runs in.
class Transaction {
 public:
  Transaction(PooledConnection& conn, pqxx::transaction_base& tx) : conn_(conn), tx_(tx) {}

  // Runs a named statement (prepared on this connection at first use).
  template <typename... Args>
  pqxx::result Exec(const Statement& statement, Args&&... args) {
    Prepare(statement);
    return tx_.exec_prepared(statement.name, std::forward<Args>(args)...);
  }
  // Runs literal SQL (schema changes, tests).
  pqxx::result ExecSql(const std::string& sql) { return tx_.exec(sql); }
  pqxx::transaction_base& tx() { return tx_; }

 private:
  void Prepare(const Statement& statement);

  PooledConnection& conn_;
  pqxx::transaction_base& tx_;
};

enum class TxMode {
  // READ COMMITTED, committed durably (synchronous_commit on).
  kReadWrite,
  // READ COMMITTED, committed without waiting for the WAL flush (progress
  // that may be lost in a crash; still atomic).
  kReadWriteAsync,
  // REPEATABLE READ, READ ONLY: one snapshot for the whole body.
  kReadOnlySnapshot,
  // No BEGIN/COMMIT (pqxx::nontransaction): for a body of one read
  // statement, saving two round trips.
  kSingleStatement,
};

// See the file comment. `*infrastructure_failure` (if given) is set to
// whether the result is a failure of the server or the connection (not of
// the body's own checks).
absl::Status RunTransaction(ConnectionPool& pool, std::string_view context, TxMode mode,
                            const std::function<absl::Status(Transaction&)>& body,
                            bool* infrastructure_failure = nullptr);

// The status for an exception thrown by libpqxx (or anything else).
absl::Status StatusFromException(const std::exception& e, std::string_view context);

// bytea parameters and values.
inline pqxx::binarystring Bytes(std::string_view bytes) {
  return pqxx::binarystring(bytes.data(), bytes.size());
}
inline std::string BytesOf(const pqxx::field& field) { return pqxx::binarystring(field).str(); }

}  // namespace postgres_internal
}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_POSTGRES_CONNECTION_H_
