// File: storage/testing/postgres_server.h
//
// PostgresServer: a throwaway PostgreSQL cluster for tests. Start() runs
// initdb into a fresh temporary directory and starts `postgres` on a free
// loopback TCP port (picked by binding port 0; a start that loses the port
// to another process is retried on a new one) with its unix socket in the
// same directory, and waits (bounded) until it accepts connections.
// CreateDatabase() makes an empty database and returns its libpq URL.
// Destroying the server stops it (SIGQUIT, PostgreSQL's immediate shutdown,
// then SIGKILL if it lingers) and removes the directory. The postmaster also
// gets SIGQUIT if the test process dies first (PR_SET_PDEATHSIG).
//
// PostgreSQL refuses to run as root: when the process is root, initdb and
// postgres run as the unprivileged user `postgres` if it exists, else
// `nobody`, and the directory is handed to that user.
//
// The binaries come from $MASKSERVE_PG_BIN, else /usr/lib/postgresql/15/bin
// (Debian's postgresql-15). Without them Start() is NOT_FOUND with a message
// saying what to install; tests GTEST_SKIP with it.
//
//   absl::StatusOr<PostgresServer*> server = PostgresServer::Shared();
//   if (!server.ok()) GTEST_SKIP() << server.status().message();
//   absl::StatusOr<std::string> url = (*server)->CreateDatabase();
//   options.url = *url;   // postgresql://postgres@127.0.0.1:PORT/test_3
//
// Thread safety: CreateDatabase() and Shared() are thread-safe; Start() and
// the destructor belong to one owner. Start the server (or call Shared()
// first) from a thread that outlives it, normally the main thread: the
// death signal is tied to the starting thread.
#ifndef MASKSERVE_STORAGE_TESTING_POSTGRES_SERVER_H_
#define MASKSERVE_STORAGE_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace maskserve {

class PostgresServer {
 public:
  struct Options {
    // Directory of initdb and postgres; empty: $MASKSERVE_PG_BIN, else
    // /usr/lib/postgresql/15/bin.
    std::string bin_dir;
    // fsync off makes tests fast; commits still go through the WAL, so what
    // the store does is the same (only power-loss safety is gone) [false].
    bool fsync = false;
    // Bound on waiting for the server to accept connections [60 s].
    absl::Duration start_timeout = absl::Seconds(60);
  };

  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start() { return Start(Options()); }

  // One server for the whole test process, started on first use (with
  // default options) and stopped at exit. A failed start is remembered: every
  // call returns the same status.
  static absl::StatusOr<PostgresServer*> Shared();

  // The binary directory Start() uses for `options.bin_dir`.
  static std::string BinDir(const Options& options);

  // True when MASKSERVE_REQUIRE_POSTGRES=1 (scripts/test.sh sets it): a test
  // that cannot start PostgreSQL must then fail, not skip, so that the suite
  // cannot pass without having run the PostgreSQL store's tests.
  static bool Required();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  // Creates a new, empty database ("<prefix>_<n>") and returns its URL.
  absl::StatusOr<std::string> CreateDatabase(std::string_view prefix = "test");
  // The URL of database `database` (which need not exist).
  std::string Url(std::string_view database) const;

  // Stops the server now (as the destructor does, keeping the directory).
  void Stop();

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  PostgresServer() = default;

  std::string dir_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::atomic<int> next_database_{0};
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_POSTGRES_SERVER_H_
