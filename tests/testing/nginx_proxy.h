// File: tests/testing/nginx_proxy.h
//
// Test-only: a real nginx (Debian's nginx 1.22, /usr/sbin/nginx, or the
// binary in $MASKSERVE_NGINX) started on a free loopback port as a gRPC
// (HTTP/2 cleartext) proxy in front of maskserve replicas, routing by
// profile the way a production deployment does:
//
//   upstream maskserve_replicas {
//     hash $http_x_maskserve_profile consistent;   # same profile, same replica
//     server HOST:PORT max_fails=1 fail_timeout=2s;  # one per upstream
//     keepalive 32;
//   }
//   server { listen 127.0.0.1:PORT http2;
//     location / { grpc_pass grpc://maskserve_replicas;
//                  grpc_next_upstream error timeout; grpc_connect_timeout 1s;
//                  grpc_read_timeout 300s; grpc_send_timeout 300s; } }
//
// with client_max_body_size 64m (ImportProfile), one worker, and every file
// (config, pid, error log, access log, *_temp_path) in a fresh temporary
// directory removed with the proxy. As root, the worker runs as nobody
// (`user nobody nogroup;`); otherwise as the caller.
//
// Routing facts worth knowing (nginx 1.22, measured by nginx_proxy_test):
// - Calls without `x-maskserve-profile` all hash the empty string: one
//   replica gets them all.
// - A call moves to the next replica on the ring only when nginx could not
//   send it (connect refused, or no connection within 1 s): gRPC calls are
//   POSTs, which nginx never retries once sent (no `non_idempotent`), and
//   nginx has no "unavailable" next-upstream condition (a grpc-status in
//   trailers never triggers a retry). A replica that dies with a call in
//   flight fails that call: before the response headers the client gets
//   UNAVAILABLE ("Received http2 header with status: 502"), mid-stream
//   INTERNAL ("Received RST_STREAM with error code 2"; the access log still
//   says 200). With no live replica at all: UNAVAILABLE (502).
// - A replica that failed is skipped for 2 s (max_fails=1 fail_timeout=2s),
//   so its keys live on its ring successor meanwhile; other keys stay put.
// - A replica behind a blackholed TcpRelay accepts connections, so calls to
//   it hang until their deadline (grpc_read_timeout is 300 s).
// - SetUpstreams() reloads (SIGHUP): new calls reach the new worker at once
//   (the old one sends GOAWAY; no call failed in a reload under load), but a
//   stream still open on the old worker is cut after 5 s
//   (worker_shutdown_timeout) with UNAVAILABLE ("Socket closed"), and
//   SetUpstreams() waits for that.
//
//   absl::Status available = NginxProxy::Available();
//   if (!available.ok()) {
//     if (NginxProxy::Required()) FAIL() << available;
//     GTEST_SKIP() << available.message();
//   }
//   absl::StatusOr<std::unique_ptr<NginxProxy>> proxy =
//       NginxProxy::Start({"127.0.0.1:50051", "127.0.0.1:50052"});
//   ASSERT_TRUE(proxy.ok()) << proxy.status();
//   auto channel = grpc::CreateChannel((*proxy)->address(),
//                                      grpc::InsecureChannelCredentials());
//   // each call: context.AddMetadata("x-maskserve-profile", profile_id);
//
// Thread safety: one owner. Start it from a thread that outlives it (the
// main test thread): nginx gets SIGTERM when the starting thread dies.
#ifndef MASKSERVE_TESTS_TESTING_NGINX_PROXY_H_
#define MASKSERVE_TESTS_TESTING_NGINX_PROXY_H_

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace maskserve {
namespace testing {

class NginxProxy {
 public:
  // The nginx binary Start() runs: $MASKSERVE_NGINX when set, else
  // /usr/sbin/nginx.
  static std::string Binary();

  // OK when Binary() is an executable nginx built with HTTP/2 and gRPC
  // proxying; else NOT_FOUND / FAILED_PRECONDITION saying what to install.
  // Tests GTEST_SKIP with it, unless Required(). Checked once per process.
  static absl::Status Available();

  // True when MASKSERVE_REQUIRE_NGINX=1: a test that cannot start nginx must
  // then fail, not skip (as PostgresServer::Required()).
  static bool Required();

  // Starts nginx proxying to `upstreams` ("host:port" each, at least one),
  // and waits (up to 10 s) until it accepts connections. Errors carry the
  // tail of nginx's error log.
  static absl::StatusOr<std::unique_ptr<NginxProxy>> Start(std::vector<std::string> upstreams);

  // Stops nginx (Stop()) and removes its directory.
  ~NginxProxy();
  NginxProxy(const NginxProxy&) = delete;
  NginxProxy& operator=(const NginxProxy&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>", for grpc::CreateChannel.
  std::string address() const;
  const std::vector<std::string>& upstreams() const { return upstreams_; }

  // Rewrites the upstream list and reloads nginx (config test, SIGHUP),
  // returning once the new worker runs and the old ones have exited: tens
  // of ms, or 5 s while a call streams (see above; bounded at 10 s). On an
  // error the old configuration keeps serving.
  absl::Status SetUpstreams(std::vector<std::string> upstreams);

  // SIGTERM (nginx's fast shutdown), then SIGKILL to master and workers if
  // they linger. Idempotent.
  void Stop();

  // nginx's error log and access log (one line per call: status, upstream
  // address, x-maskserve-profile, grpc-status), for test failure messages.
  std::string ErrorLog() const;
  std::string AccessLog() const;
  const std::string& dir() const { return dir_; }

 private:
  NginxProxy() = default;
  std::string Config(const std::vector<std::string>& upstreams) const;
  std::set<pid_t> Workers() const;

  std::string dir_;
  std::string config_path_;
  std::string error_log_;
  std::string access_log_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::vector<std::string> upstreams_;
};

}  // namespace testing
}  // namespace maskserve

#endif  // MASKSERVE_TESTS_TESTING_NGINX_PROXY_H_
