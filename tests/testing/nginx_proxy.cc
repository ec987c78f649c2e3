// NginxProxy: a real nginx as a gRPC proxy for tests (see the header).
#include "tests/testing/nginx_proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/http_get.h"
#include "tests/testing/subprocess.h"

namespace maskserve {
namespace testing {
namespace {

constexpr char kDefaultBinary[] = "/usr/sbin/nginx";
constexpr int kPortAttempts = 5;
constexpr absl::Duration kStartTimeout = absl::Seconds(10);
// worker_shutdown_timeout (5 s) plus slack.
constexpr absl::Duration kReloadTimeout = absl::Seconds(10);

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string Tail(std::string text, size_t max = 4000) {
  if (text.size() > max) text = "..." + text.substr(text.size() - max);
  return text;
}

// Forks and executes argv with stdout/stderr into `output` (appended); the
// child gets SIGTERM (nginx's fast shutdown, which also stops its workers)
// when the starting thread dies.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& output) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork: " + ErrnoText(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    // Signals blocked or ignored by the test runner would be inherited.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGHUP, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Reaps `pid` if it exited; true while it runs.
bool Alive(pid_t pid, int* status) {
  const pid_t done = ::waitpid(pid, status, WNOHANG);
  return done == 0;
}

bool WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (Alive(pid, &status)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// Runs argv to completion (bounded); its exit code and output.
absl::StatusOr<std::pair<int, std::string>> RunToEnd(const std::vector<std::string>& argv,
                                                     const std::string& output) {
  (void)::unlink(output.c_str());
  absl::StatusOr<pid_t> pid = Spawn(argv, output);
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  int status = 0;
  while (Alive(*pid, &status)) {
    if (absl::Now() >= deadline) {
      ::kill(*pid, SIGKILL);
      WaitExit(*pid, absl::Seconds(5));
      return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish in 20 s"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return std::make_pair(code, ReadFileOrEmpty(output));
}

bool Connects(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

// The live (not zombie) children of `parent`, from /proc.
std::set<pid_t> Children(pid_t parent) {
  std::set<pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::string stat = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
    // pid (comm) state ppid ...; comm may hold spaces and parentheses.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 > stat.size()) continue;
    const char state = stat[close + 2];
    const long ppid = std::strtol(stat.c_str() + close + 4, nullptr, 10);
    if (ppid == parent && state != 'Z' && state != 'X') children.insert(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return children;
}

absl::Status ValidateUpstreams(const std::vector<std::string>& upstreams) {
  if (upstreams.empty())
    return absl::InvalidArgumentError("NginxProxy needs at least one upstream");
  for (const std::string& upstream : upstreams) {
    const size_t colon = upstream.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < upstream.size();
    for (char c : upstream) {
      const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':' ||
                           c == '[' || c == ']';
      ok = ok && allowed;
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("upstream \"", upstream, "\" is not host:port"));
    }
  }
  return absl::OkStatus();
}

// `user ...;` when the master runs as root (workers then drop to nobody).
absl::StatusOr<std::string> UserDirective() {
  if (::geteuid() != 0) return std::string();
  std::vector<char> buffer(16384);
  struct passwd entry;
  struct passwd* user = nullptr;
  if (::getpwnam_r("nobody", &entry, buffer.data(), buffer.size(), &user) != 0 || user == nullptr) {
    return absl::FailedPreconditionError(
        "running as root, and there is no user 'nobody' for nginx's worker");
  }
  std::vector<char> group_buffer(16384);
  struct group group_entry;
  struct group* group = nullptr;
  std::string group_name;
  if (::getgrnam_r("nogroup", &group_entry, group_buffer.data(), group_buffer.size(), &group) ==
          0 &&
      group != nullptr) {
    group_name = group->gr_name;
  } else if (::getgrgid_r(user->pw_gid, &group_entry, group_buffer.data(), group_buffer.size(),
                          &group) == 0 &&
             group != nullptr) {
    group_name = group->gr_name;
  } else {
    return absl::FailedPreconditionError("no group 'nogroup' nor nobody's group for nginx");
  }
  return absl::StrCat("user nobody ", group_name, ";\n");
}

absl::Status CheckAvailable() {
  const std::string binary = NginxProxy::Binary();
  if (::access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("nginx not found at ", binary,
                                            ": install Debian's nginx (scripts/setup.sh does) "
                                            "or set MASKSERVE_NGINX"));
  }
  const char* tmp = std::getenv("TMPDIR");
  const std::string output =
      absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/maskserve_nginx_v_", ::getpid());
  absl::StatusOr<std::pair<int, std::string>> version = RunToEnd({binary, "-V"}, output);
  (void)::unlink(output.c_str());
  if (!version.ok()) return version.status();
  const std::string& text = version->second;
  if (version->first != 0 || !absl::StrContains(text, "nginx version: nginx/")) {
    return absl::FailedPreconditionError(
        absl::StrCat(binary, " -V failed (", version->first, "): ", Tail(text)));
  }
  if (!absl::StrContains(text, "--with-http_v2_module") ||
      absl::StrContains(text, "--without-http_grpc_module")) {
    return absl::FailedPreconditionError(
        absl::StrCat(binary, " lacks HTTP/2 or gRPC proxying: ", Tail(text)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string NginxProxy::Binary() {
  const char* env = std::getenv("MASKSERVE_NGINX");
  if (env != nullptr && *env != '\0') return env;
  return kDefaultBinary;
}

absl::Status NginxProxy::Available() {
  static const absl::Status* const available = new absl::Status(CheckAvailable());
  return *available;
}

bool NginxProxy::Required() {
  const char* env = std::getenv("MASKSERVE_REQUIRE_NGINX");
  return env != nullptr && std::string(env) == "1";
}

std::string NginxProxy::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string NginxProxy::ErrorLog() const { return ReadFileOrEmpty(error_log_); }
std::string NginxProxy::AccessLog() const { return ReadFileOrEmpty(access_log_); }

// @USER@ is `user ...;` as root; nginx's comments (#) explain the choices.
constexpr char kConfigTemplate[] =
    R"conf(# Generated by maskserve's NginxProxy (tests/testing/nginx_proxy.cc).
daemon off;
master_process on;
worker_processes 1;
@USER@pid @DIR@/nginx.pid;
lock_file @DIR@/nginx.lock;
error_log @DIR@/error.log notice;
# A reload cuts calls still streaming on an old worker after this.
worker_shutdown_timeout 5s;
events { worker_connections 1024; }
http {
  log_format maskserve '$time_iso8601 $status $request_time $request_uri '
                       'upstream=$upstream_addr upstream_status=$upstream_status '
                       'profile="$http_x_maskserve_profile" '
                       'grpc_status=$upstream_trailer_grpc_status';
  access_log @DIR@/access.log maskserve;
  client_body_temp_path @DIR@/client_body;
  proxy_temp_path @DIR@/proxy;
  fastcgi_temp_path @DIR@/fastcgi;
  uwsgi_temp_path @DIR@/uwsgi;
  scgi_temp_path @DIR@/scgi;
  # ImportProfile carries a whole exported profile.
  client_max_body_size 64m;
  # One client connection carries many calls: the default (1000 requests,
  # then GOAWAY) would make load tests reconnect.
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  http2_max_concurrent_streams 1024;
  upstream maskserve_replicas {
    hash $http_x_maskserve_profile consistent;
@SERVERS@    # Reuse upstream connections (without it, one per call); after the
    # balancing method, as nginx requires.
    keepalive 32;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:@PORT@ http2;
    location / {
      grpc_pass grpc://maskserve_replicas;
      # nginx has no 'unavailable' condition; POSTs (every gRPC call) move
      # to the next server only when they could not be sent.
      grpc_next_upstream error timeout;
      grpc_connect_timeout 1s;
      # Server-streaming WatchTrainingJob waits between updates.
      grpc_read_timeout 300s;
      grpc_send_timeout 300s;
      grpc_socket_keepalive on;
    }
  }
}
)conf";

std::string NginxProxy::Config(const std::vector<std::string>& upstreams) const {
  absl::StatusOr<std::string> user = UserDirective();
  std::string servers;
  for (const std::string& upstream : upstreams) {
    absl::StrAppend(&servers, "    server ", upstream, " max_fails=1 fail_timeout=2s;\n");
  }
  return absl::StrReplaceAll(kConfigTemplate, {{"@USER@", user.ok() ? *user : ""},
                                               {"@DIR@", dir_},
                                               {"@SERVERS@", servers},
                                               {"@PORT@", std::to_string(port_)}});
}

std::set<pid_t> NginxProxy::Workers() const { return Children(pid_); }

absl::StatusOr<std::unique_ptr<NginxProxy>> NginxProxy::Start(std::vector<std::string> upstreams) {
  absl::Status available = Available();
  if (!available.ok()) return available;
  absl::Status valid = ValidateUpstreams(upstreams);
  if (!valid.ok()) return valid;
  absl::StatusOr<std::string> user = UserDirective();
  if (!user.ok()) return user.status();

  auto proxy = std::unique_ptr<NginxProxy>(new NginxProxy());
  proxy->upstreams_ = std::move(upstreams);
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/maskserve_nginx_XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", ErrnoText(errno)));
  }
  proxy->dir_ = pattern;
  // The worker (nobody, when we are root) must reach the temp paths.
  (void)::chmod(proxy->dir_.c_str(), 0755);
  proxy->config_path_ = proxy->dir_ + "/nginx.conf";
  proxy->error_log_ = proxy->dir_ + "/error.log";
  proxy->access_log_ = proxy->dir_ + "/access.log";
  const std::string output = proxy->dir_ + "/nginx.out";

  absl::Status last = absl::UnavailableError("nginx not started");
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    proxy->port_ = *port;
    absl::Status written = WriteFile(proxy->config_path_, proxy->Config(proxy->upstreams_));
    if (!written.ok()) return written;
    (void)::truncate(proxy->error_log_.c_str(), 0);
    absl::StatusOr<pid_t> pid = Spawn(
        {Binary(), "-p", proxy->dir_ + "/", "-c", proxy->config_path_, "-e", proxy->error_log_},
        output);
    if (!pid.ok()) return pid.status();
    proxy->pid_ = *pid;

    // Ready once its worker runs (the master forks it only after binding
    // every listener) and the port accepts. nginx retries a taken port for
    // 2.5 s before exiting; the error log says so at once.
    const absl::Time deadline = absl::Now() + kStartTimeout;
    bool port_taken = false;
    bool exited = false;
    int status = 0;
    while (absl::Now() < deadline) {
      if (!Alive(proxy->pid_, &status)) {
        exited = true;
        proxy->pid_ = -1;
        break;
      }
      if (absl::StrContains(proxy->ErrorLog(), "Address already in use")) {
        port_taken = true;
        break;
      }
      if (!proxy->Workers().empty() && Connects(proxy->port_)) return proxy;
      absl::SleepFor(absl::Milliseconds(20));
    }
    const std::string log = proxy->ErrorLog() + ReadFileOrEmpty(output);
    proxy->Stop();
    if (port_taken || absl::StrContains(log, "Address already in use")) {
      last = absl::UnavailableError(absl::StrCat("port ", proxy->port_, " taken: ", Tail(log)));
      continue;
    }
    if (exited) {
      return absl::InternalError(
          absl::StrCat("nginx exited at start (status ", status, "); error log:\n", Tail(log)));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("nginx did not accept connections on port ", proxy->port_, " within ",
                     absl::FormatDuration(kStartTimeout), "; error log:\n", Tail(log)));
  }
  return last;
}

absl::Status NginxProxy::SetUpstreams(std::vector<std::string> upstreams) {
  absl::Status valid = ValidateUpstreams(upstreams);
  if (!valid.ok()) return valid;
  if (pid_ <= 0) return absl::FailedPreconditionError("nginx is not running");
  // Test the new configuration first: a bad one must not reach the master
  // (which would log it and go on with the old one).
  const std::string candidate = dir_ + "/nginx.next.conf";
  absl::Status written = WriteFile(candidate, Config(upstreams));
  if (!written.ok()) return written;
  absl::StatusOr<std::pair<int, std::string>> test =
      RunToEnd({Binary(), "-t", "-q", "-p", dir_ + "/", "-c", candidate, "-e", dir_ + "/test.log"},
               dir_ + "/test.out");
  if (!test.ok()) return test.status();
  if (test->first != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("nginx rejects the new configuration: ", Tail(test->second),
                     Tail(ReadFileOrEmpty(dir_ + "/test.log"))));
  }
  if (::rename(candidate.c_str(), config_path_.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename to ", config_path_, ": ", ErrnoText(errno)));
  }

  const std::set<pid_t> old_workers = Workers();
  if (::kill(pid_, SIGHUP) != 0) return absl::InternalError("SIGHUP nginx: " + ErrnoText(errno));
  const absl::Time deadline = absl::Now() + kReloadTimeout;
  for (;;) {
    int status = 0;
    if (!Alive(pid_, &status)) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("nginx exited during reload; error log:\n", Tail(ErrorLog())));
    }
    const std::set<pid_t> workers = Workers();
    bool fresh = false;
    bool old_left = false;
    for (pid_t worker : workers) {
      if (old_workers.count(worker) != 0) {
        old_left = true;
      } else {
        fresh = true;
      }
    }
    if (fresh && !old_left) break;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("nginx reload not applied within ", absl::FormatDuration(kReloadTimeout),
                       " (new worker: ", fresh, ", old workers left: ", old_left, "); error log:\n",
                       Tail(ErrorLog())));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  upstreams_ = std::move(upstreams);
  return absl::OkStatus();
}

void NginxProxy::Stop() {
  if (pid_ <= 0) return;
  // A fast shutdown: the master stops its workers, then exits.
  ::kill(pid_, SIGTERM);
  if (!WaitExit(pid_, absl::Seconds(5))) {
    // Workers outlive a killed master: kill them first (still its
    // children, so these pids are not reused yet).
    for (pid_t worker : Workers()) ::kill(worker, SIGKILL);
    ::kill(pid_, SIGKILL);
    WaitExit(pid_, absl::Seconds(10));
  }
  pid_ = -1;
}

NginxProxy::~NginxProxy() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

}  // namespace testing
}  // namespace maskserve
