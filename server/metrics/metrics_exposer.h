// File: server/metrics/metrics_exposer.h
//
// MetricsExposer: serves the Prometheus text exposition over HTTP with
// civetweb. GET (or HEAD) on Options::metrics_path collects every registered
// Collectable, merges their families (MergeFamilies) and replies with
// Content-Type "text/plain; version=0.0.4; charset=utf-8". GET /healthz
// answers "ok" when enabled; every other path is 404, other methods on the
// metrics path 405.
//
// Address: "<IPv4>:<port>", "localhost:<port>" (127.0.0.1) or ":<port>" (all
// interfaces). Port 0 binds a free port; port() tells which. IPv6 is refused
// when the civetweb build lacks it (Debian's does).
//
// Lifetime and thread safety: Create starts the server threads; the
// destructor stops them and waits for requests in flight, so no scrape runs
// after it returns. Collectables are held by weak_ptr and skipped once
// expired. All methods are thread-safe.
//
// Example:
//   MetricsExposer::Options options;
//   options.address = "127.0.0.1:9464";
//   absl::StatusOr<std::unique_ptr<MetricsExposer>> exposer =
//       MetricsExposer::Create(options);
//   if (!exposer.ok()) return exposer.status();
//   (*exposer)->RegisterCollectable(registry);  // std::shared_ptr<Registry>
#ifndef MASKSERVE_SERVER_METRICS_METRICS_EXPOSER_H_
#define MASKSERVE_SERVER_METRICS_METRICS_EXPOSER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/collectable.h"

struct mg_connection;
struct mg_context;

namespace maskserve {
namespace metrics {

class MetricsExposer {
 public:
  struct Options {
    // Where to listen (see above). The default is loopback only: expose the
    // port on other interfaces deliberately (":9464").
    std::string address = "127.0.0.1:9464";
    // Path of the exposition.
    std::string metrics_path = "/metrics";
    // Serve GET /healthz -> 200 "ok".
    bool serve_healthz = true;
    // civetweb worker threads, each serving one connection at a time.
    int num_threads = 4;
    // A connection idle this long mid-request is closed.
    int request_timeout_ms = 10000;
  };

  // Starts serving. InvalidArgument for a malformed address or options;
  // Unavailable when the address cannot be bound (the message has civetweb's
  // reason, e.g. "Address already in use").
  static absl::StatusOr<std::unique_ptr<MetricsExposer>> Create(const Options& options);

  ~MetricsExposer();
  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  // The bound port (the real one when the address asked for port 0).
  int port() const { return port_; }

  // Adds a Collectable (typically the Registry) scraped for as long as it is
  // alive. Registering the same one twice has no effect.
  void RegisterCollectable(const std::weak_ptr<Collectable>& collectable);

  // Returns false when `collectable` was not registered.
  bool RemoveCollectable(const std::weak_ptr<Collectable>& collectable);

  // The body a GET on the metrics path returns now.
  std::string Scrape() const;

  // Maps an address as accepted above onto civetweb's "listening_ports"
  // syntax, or InvalidArgument. Exposed for tests.
  static absl::StatusOr<std::string> ToCivetwebPorts(const std::string& address);

 private:
  explicit MetricsExposer(const Options& options);

  static int HandleRequest(mg_connection* connection, void* self);
  static int LogMessage(const mg_connection* connection, const char* message);

  const Options options_;
  mg_context* context_ = nullptr;
  int port_ = 0;
  std::string wake_host_;  // where the destructor connects to hurry mg_stop

  mutable absl::Mutex mu_;
  mutable std::vector<std::weak_ptr<Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  // civetweb's messages while starting, for Create's error.
  std::string startup_log_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_METRICS_EXPOSER_H_
