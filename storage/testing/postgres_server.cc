// PostgresServer: a throwaway PostgreSQL cluster for tests (see the header).
#include "storage/testing/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "storage/absl_compat.h"

namespace maskserve {
namespace {

namespace fs = std::filesystem;

constexpr char kDefaultBinDir[] = "/usr/lib/postgresql/15/bin";
constexpr int kPortAttempts = 5;

// Who initdb and postgres run as.
struct RunAs {
  bool drop = false;  // change user (we are root)
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

absl::StatusOr<RunAs> Unprivileged() {
  RunAs as;
  if (::geteuid() != 0) return as;
  for (const char* name : {"postgres", "nobody"}) {
    struct passwd entry;
    struct passwd* found = nullptr;
    std::vector<char> buffer(16384);
    if (::getpwnam_r(name, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
      as.drop = true;
      as.uid = found->pw_uid;
      as.gid = found->pw_gid;
      as.name = name;
      return as;
    }
  }
  return absl::FailedPreconditionError(
      "PostgreSQL refuses to run as root, and there is no user 'postgres' or 'nobody' to run "
      "it as");
}

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  if (text.size() > 3000) text = text.substr(text.size() - 3000);
  return text;
}

// Forks and executes argv[0] with stdout/stderr appended to `log`, as `as`.
// With `die_with_parent`, the child gets SIGQUIT when this process dies.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log,
                            const RunAs& as, bool die_with_parent) {
  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> env_strings = {"LC_ALL=C", "LANG=C", "TZ=UTC",
                                                "PATH=/usr/bin:/bin"};
  std::vector<char*> env;
  for (const std::string& var : env_strings) env.push_back(const_cast<char*>(var.c_str()));
  env.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", ErrnoText(errno)));
  if (pid == 0) {
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      ::close(out);
    }
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) {
      ::dup2(in, STDIN_FILENO);
      ::close(in);
    }
    if (as.drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) {
        ::_exit(126);
      }
    }
    // After changing credentials, which clears the death signal.
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (::getppid() != parent) ::_exit(1);
    }
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout`; true if it exited (status in *status).
bool WaitFor(pid_t pid, absl::Duration timeout, int* status) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    pid_t done = ::waitpid(pid, status, WNOHANG);
    if (done == pid) return true;
    if (done < 0 && errno != EINTR) return true;  // not our child any more
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::StatusOr<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("bind a free port: ", ErrnoText(err)));
  }
  ::close(fd);
  return static_cast<int>(ntohs(address.sin_port));
}

bool Accepts(const std::string& url) {
  try {
    pqxx::connection conn(url + "?connect_timeout=2");
    return conn.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string PostgresServer::BinDir(const Options& options) {
  if (!options.bin_dir.empty()) return options.bin_dir;
  const char* env = std::getenv("MASKSERVE_PG_BIN");
  if (env != nullptr && *env != '\0') return env;
  return kDefaultBinDir;
}

bool PostgresServer::Required() {
  const char* env = std::getenv("MASKSERVE_REQUIRE_POSTGRES");
  return env != nullptr && std::string(env) == "1";
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(Options options) {
  const std::string bin = BinDir(options);
  std::error_code ec;
  if (!fs::exists(fs::path(bin) / "initdb", ec) || !fs::exists(fs::path(bin) / "postgres", ec)) {
    return absl::NotFoundError(absl::StrCat(
        "PostgreSQL server binaries (initdb, postgres) not found in ", bin,
        ": install Debian's postgresql-15 (scripts/setup.sh does) or set MASKSERVE_PG_BIN"));
  }
  absl::StatusOr<RunAs> as = Unprivileged();
  if (!as.ok()) return as.status();

  auto server = std::unique_ptr<PostgresServer>(new PostgresServer());
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat((tmp != nullptr && *tmp != '\0') ? tmp : "/tmp", "/maskserve_pg.XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", ErrnoText(errno)));
  }
  server->dir_ = buffer.data();
  server->log_path_ = server->dir_ + "/server.log";
  if (as->drop && ::chown(server->dir_.c_str(), as->uid, as->gid) != 0) {
    return absl::InternalError(
        absl::StrCat("chown ", server->dir_, " to ", as->name, ": ", ErrnoText(errno)));
  }
  const std::string data = server->dir_ + "/data";

  std::vector<std::string> initdb = {
      bin + "/initdb", "-D", data,   "-U",          "postgres",         "-A",
      "trust",         "-E", "UTF8", "--no-locale", "--no-instructions"};
  if (!options.fsync) initdb.push_back("--no-sync");
  const std::string initdb_log = server->dir_ + "/initdb.log";
  absl::StatusOr<pid_t> init = Spawn(initdb, initdb_log, *as, /*die_with_parent=*/true);
  if (!init.ok()) return init.status();
  int status = 0;
  if (!WaitFor(*init, absl::Minutes(2), &status)) {
    ::kill(*init, SIGKILL);
    WaitFor(*init, absl::Seconds(5), &status);
    return absl::DeadlineExceededError("initdb did not finish within 2 minutes");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("initdb failed (status ", status, "): ", LogTail(initdb_log)));
  }

  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    std::vector<std::string> postgres = {bin + "/postgres", "-D", data, "-p",
                                         std::to_string(*port)};
    for (const std::string& setting : {
             std::string("listen_addresses=127.0.0.1"),
             "unix_socket_directories=" + server->dir_,
             std::string("fsync=") + (options.fsync ? "on" : "off"),
             std::string("full_page_writes=") + (options.fsync ? "on" : "off"),
             std::string("synchronous_commit=on"),
             std::string("max_connections=200"),
             std::string("shared_buffers=64MB"),
             std::string("logging_collector=off"),
         }) {
      postgres.push_back("-c");
      postgres.push_back(setting);
    }
    absl::StatusOr<pid_t> pid = Spawn(postgres, server->log_path_, *as, /*die_with_parent=*/true);
    if (!pid.ok()) return pid.status();
    server->pid_ = *pid;
    const absl::Time deadline = absl::Now() + options.start_timeout;
    bool exited = false;
    while (absl::Now() < deadline) {
      if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
        exited = true;
        server->pid_ = -1;
        break;
      }
      if (Accepts(server->Url("postgres"))) return server;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string log = LogTail(server->log_path_);
    if (!exited) {
      server->Stop();
      return absl::DeadlineExceededError(
          absl::StrCat("PostgreSQL did not accept connections within ",
                       absl::FormatDuration(options.start_timeout), ": ", log));
    }
    // Lost the port to another process between picking and binding: again.
    if (log.find("already in use") == std::string::npos &&
        log.find("could not bind") == std::string::npos &&
        log.find("could not create any TCP/IP sockets") == std::string::npos) {
      return absl::InternalError(absl::StrCat("PostgreSQL exited at start: ", log));
    }
  }
  return absl::UnavailableError(
      absl::StrCat("PostgreSQL could not bind a free port in ", kPortAttempts, " attempts"));
}

absl::StatusOr<PostgresServer*> PostgresServer::Shared() {
  static absl::StatusOr<std::unique_ptr<PostgresServer>> shared = Start();
  if (!shared.ok()) return shared.status();
  return shared->get();
}

PostgresServer::~PostgresServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  int status = 0;
  // SIGQUIT is PostgreSQL's immediate shutdown (pg_ctl stop -m immediate).
  ::kill(pid_, SIGQUIT);
  if (!WaitFor(pid_, absl::Seconds(10), &status)) {
    ::kill(pid_, SIGKILL);
    WaitFor(pid_, absl::Seconds(10), &status);
  }
  pid_ = -1;
}

std::string PostgresServer::Url(std::string_view database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", Sv(database));
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(std::string_view prefix) {
  for (char c : prefix) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError(
          absl::StrCat("prefix: only [a-z0-9_] allowed, not \"", Sv(prefix), "\""));
    }
  }
  const std::string name = absl::StrCat(Sv(prefix), "_", next_database_.fetch_add(1));
  try {
    pqxx::connection conn(Url("postgres"));
    pqxx::nontransaction tx(conn);
    tx.exec("CREATE DATABASE " + name);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("create database ", name, ": ", e.what()));
  }
  return Url(name);
}

}  // namespace maskserve
