// File: server/metrics_endpoint.h
//
// MetricsEndpoint: the HTTP endpoint Prometheus scrapes, prometheus-cpp's
// civetweb Exposer (GET /metrics, text format 0.0.4, gzip when asked) with
// what the server adds around it: a checked address syntax, errors as
// absl::Status instead of exceptions, the bound port when port 0 was asked
// for, and a prompt shutdown.
//
// Address: "<IPv4>:<port>", "localhost:<port>" (127.0.0.1) or ":<port>" (all
// interfaces). Port 0 binds a free port; port() tells which. IPv6 is refused
// (Debian's civetweb has none).
//
// Lifetime and thread safety: Start() starts the HTTP threads; the destructor
// stops them and waits for scrapes in flight, so no collectable is read after
// it returns. Collectables are held by weak_ptr and skipped once expired.
// All methods are thread-safe.
//
// Example:
//   MetricsEndpoint::Options options;
//   options.address = "127.0.0.1:9464";
//   MASKSERVE_ASSIGN_OR_RETURN(std::unique_ptr<MetricsEndpoint> endpoint,
//                              MetricsEndpoint::Start(options));
//   endpoint->RegisterCollectable(registry);  // std::shared_ptr<prometheus::Registry>
#ifndef MASKSERVE_SERVER_METRICS_ENDPOINT_H_
#define MASKSERVE_SERVER_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include <prometheus/collectable.h>

#include "absl/status/statusor.h"

namespace prometheus {
class Exposer;
}

namespace maskserve {

class MetricsEndpoint {
 public:
  struct Options {
    // Where to listen (see above). The default is loopback only: expose the
    // port on other interfaces deliberately (":9464").
    std::string address = "127.0.0.1:9464";
    // HTTP threads, each serving one connection at a time.
    int num_threads = 4;
    // A connection idle this long mid-request is closed.
    int request_timeout_ms = 10000;
  };

  // Starts serving. InvalidArgument for a malformed address or options;
  // Unavailable when the address cannot be bound (with civetweb's reason,
  // e.g. "Address already in use").
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const Options& options);

  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The bound port (the real one when the address asked for port 0).
  int port() const { return port_; }

  // Scrapes `collectable` on /metrics for as long as it is alive.
  void RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable);

  // Maps an address as accepted above onto civetweb's "listening_ports"
  // syntax ("127.0.0.1:9464"), or InvalidArgument. Exposed for tests.
  static absl::StatusOr<std::string> ToCivetwebPorts(const std::string& address);

 private:
  MetricsEndpoint() = default;

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  std::string wake_host_;  // where the destructor connects to hurry civetweb's stop
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_ENDPOINT_H_
