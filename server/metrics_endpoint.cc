#include "server/metrics_endpoint.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include <CivetServer.h>
#include <prometheus/exposer.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace maskserve {
namespace {

constexpr unsigned kCivetwebIpv6Feature = 8;

bool IsIpv4(absl::string_view host) {
  int parts = 0;
  for (absl::string_view part : absl::StrSplit(host, '.')) {
    int value;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &value) || value < 0 ||
        value > 255 || !std::all_of(part.begin(), part.end(), absl::ascii_isdigit)) {
      return false;
    }
    ++parts;
  }
  return parts == 4;
}

// Opens and closes a TCP connection to host:port, ignoring failure.
void Poke(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) == 1) {
    (void)connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  }
  close(fd);
}

// civetweb's messages while the endpoint starts on this thread (bind errors
// are logged synchronously inside mg_start), for Start()'s error.
thread_local std::string* startup_log = nullptr;

int CaptureStartupLog(const mg_connection* /*connection*/, const char* message) {
  if (startup_log != nullptr && message != nullptr) {
    if (!startup_log->empty()) startup_log->append("; ");
    const absl::string_view trimmed = absl::StripAsciiWhitespace(message);
    startup_log->append(trimmed.data(), trimmed.size());
  }
  return 1;  // handled: civetweb prints nothing itself
}

}  // namespace

absl::StatusOr<std::string> MetricsEndpoint::ToCivetwebPorts(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' is not <host>:<port>"));
  }
  absl::string_view host = absl::string_view(address).substr(0, colon);
  const absl::string_view port_text = absl::string_view(address).substr(colon + 1);
  int port;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' has an invalid port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    if (mg_check_feature(kCivetwebIpv6Feature) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics address '", address, "': this civetweb build has no IPv6 support"));
    }
    return absl::StrCat(host, ":", port);
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  if (!IsIpv4(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address '", address, "': host must be an IPv4 address, 'localhost' or empty"));
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const Options& options) {
  absl::StatusOr<std::string> ports = ToCivetwebPorts(options.address);
  if (!ports.ok()) return ports.status();
  if (options.num_threads < 1 || options.request_timeout_ms < 1) {
    return absl::InvalidArgumentError(
        "metrics endpoint needs num_threads >= 1 and request_timeout_ms >= 1");
  }
  std::vector<std::string> civetweb_options = {
      "listening_ports",    *ports,
      "num_threads",        absl::StrCat(options.num_threads),
      "request_timeout_ms", absl::StrCat(options.request_timeout_ms),
      "enable_keep_alive",  "no"};
  CivetCallbacks callbacks;
  callbacks.log_message = &CaptureStartupLog;
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  std::string log;
  startup_log = &log;
  try {
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(civetweb_options, &callbacks);
  } catch (const std::exception& e) {
    startup_log = nullptr;
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on '", options.address,
                                               "': ", log.empty() ? e.what() : log));
  }
  startup_log = nullptr;
  const std::vector<int> bound = endpoint->exposer_->GetListeningPorts();
  if (bound.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", options.address, "': no listening port"));
  }
  endpoint->port_ = bound.front();
  const std::string host = ports->substr(0, ports->rfind(':'));
  endpoint->wake_host_ = host == "0.0.0.0" ? "127.0.0.1" : host;
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  if (exposer_ == nullptr) return;
  // civetweb's listener notices a stop request only when its poll() times
  // out, which takes up to 2 s when idle. The Exposer is destroyed on a
  // helper thread while this one connects to the port to wake the listener.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    exposer_.reset();
    stopped.store(true);
  });
  for (int i = 0; i < 200 && !stopped.load(); ++i) {
    Poke(wake_host_, port_);
    absl::SleepFor(absl::Milliseconds(10));
  }
  stopper.join();
}

void MetricsEndpoint::RegisterCollectable(
    const std::weak_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

}  // namespace maskserve
