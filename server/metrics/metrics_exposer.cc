#include "server/metrics/metrics_exposer.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/metrics/metric_family.h"
#include "server/metrics/text_serializer.h"

namespace maskserve {
namespace metrics {
namespace {

constexpr unsigned kCivetwebIpv6Feature = 8;

void InitCivetwebOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

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

// Writes a complete response; the body is left out for HEAD.
void Reply(mg_connection* connection, int status, absl::string_view content_type,
           absl::string_view body, bool head, const char* allow = nullptr) {
  const std::string length = absl::StrCat(body.size());
  const std::string type(content_type);
  mg_response_header_start(connection, status);
  mg_response_header_add(connection, "Content-Type", type.c_str(), -1);
  mg_response_header_add(connection, "Content-Length", length.c_str(), -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  if (allow != nullptr) {
    mg_response_header_add(connection, "Allow", allow, -1);
  }
  mg_response_header_send(connection);
  if (!head && !body.empty()) {
    mg_write(connection, body.data(), body.size());
  }
}

}  // namespace

absl::StatusOr<std::string> MetricsExposer::ToCivetwebPorts(const std::string& address) {
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

absl::StatusOr<std::unique_ptr<MetricsExposer>> MetricsExposer::Create(const Options& options) {
  absl::StatusOr<std::string> ports = ToCivetwebPorts(options.address);
  if (!ports.ok()) return ports.status();
  if (options.metrics_path.empty() || options.metrics_path[0] != '/') {
    return absl::InvalidArgumentError("metrics path must start with '/'");
  }
  if (options.num_threads < 1 || options.request_timeout_ms < 1) {
    return absl::InvalidArgumentError(
        "metrics exposer needs num_threads >= 1 and request_timeout_ms >= 1");
  }
  InitCivetwebOnce();

  std::unique_ptr<MetricsExposer> exposer(new MetricsExposer(options));
  const std::string threads = absl::StrCat(options.num_threads);
  const std::string timeout = absl::StrCat(options.request_timeout_ms);
  const char* civetweb_options[] = {
      "listening_ports", ports->c_str(),      "num_threads", threads.c_str(), "request_timeout_ms",
      timeout.c_str(),   "enable_keep_alive", "no",          nullptr};
  mg_callbacks callbacks = {};
  callbacks.log_message = &MetricsExposer::LogMessage;
  mg_init_data init = {};
  init.callbacks = &callbacks;
  init.user_data = exposer.get();
  init.configuration_options = civetweb_options;
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error = {};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);

  exposer->context_ = mg_start2(&init, &error);
  if (exposer->context_ == nullptr) {
    absl::MutexLock lock(&exposer->mu_);
    return absl::UnavailableError(
        absl::StrCat("metrics exposer cannot listen on ", options.address, ": ",
                     exposer->startup_log_.empty() ? error_text : exposer->startup_log_));
  }
  mg_server_port bound[4] = {};
  const int count = mg_get_server_ports(exposer->context_, 4, bound);
  if (count < 1 || bound[0].port <= 0) {
    return absl::InternalError("civetweb reports no listening port");
  }
  exposer->port_ = bound[0].port;
  if (bound[0].protocol == 1) {  // IPv4: the bound address, or loopback
    const std::string host = ports->substr(0, ports->rfind(':'));
    exposer->wake_host_ = host == "0.0.0.0" ? "127.0.0.1" : host;
  }
  // A catch-all handler: dispatch (and 404) happens in HandleRequest.
  mg_set_request_handler(exposer->context_, "/", &MetricsExposer::HandleRequest, exposer.get());
  {
    absl::MutexLock lock(&exposer->mu_);
    exposer->started_ = true;
  }
  return exposer;
}

MetricsExposer::MetricsExposer(const Options& options) : options_(options) {}

MetricsExposer::~MetricsExposer() {
  if (context_ == nullptr) return;
  // civetweb's listener notices the stop flag only when its poll() returns,
  // which takes up to 2 s when idle. mg_stop runs on a helper thread while
  // this one connects to the port to wake the listener; it then closes the
  // socket, later connections are refused, and mg_stop returns.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(context_);
    stopped.store(true);
  });
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (!stopped.load() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
    if (!stopped.load() && !wake_host_.empty()) Poke(wake_host_, port_);
  }
  stopper.join();
}

void MetricsExposer::RegisterCollectable(const std::weak_ptr<Collectable>& collectable) {
  absl::MutexLock lock(&mu_);
  for (const std::weak_ptr<Collectable>& existing : collectables_) {
    if (!existing.owner_before(collectable) && !collectable.owner_before(existing)) {
      return;
    }
  }
  collectables_.push_back(collectable);
}

bool MetricsExposer::RemoveCollectable(const std::weak_ptr<Collectable>& collectable) {
  absl::MutexLock lock(&mu_);
  for (auto it = collectables_.begin(); it != collectables_.end(); ++it) {
    if (!it->owner_before(collectable) && !collectable.owner_before(*it)) {
      collectables_.erase(it);
      return true;
    }
  }
  return false;
}

std::string MetricsExposer::Scrape() const {
  std::vector<std::weak_ptr<Collectable>> collectables;
  {
    absl::MutexLock lock(&mu_);
    collectables_.erase(
        std::remove_if(collectables_.begin(), collectables_.end(),
                       [](const std::weak_ptr<Collectable>& c) { return c.expired(); }),
        collectables_.end());
    collectables = collectables_;
  }
  std::vector<MetricFamily> families;
  for (const std::weak_ptr<Collectable>& weak : collectables) {
    if (std::shared_ptr<Collectable> collectable = weak.lock()) {
      for (MetricFamily& family : collectable->Collect()) {
        families.push_back(std::move(family));
      }
    }
  }
  return SerializeText(MergeFamilies(std::move(families)));
}

int MetricsExposer::HandleRequest(mg_connection* connection, void* self_ptr) {
  const MetricsExposer* self = static_cast<const MetricsExposer*>(self_ptr);
  const mg_request_info* request = mg_get_request_info(connection);
  const absl::string_view path = request->local_uri != nullptr ? request->local_uri : "";
  const absl::string_view method =
      request->request_method != nullptr ? request->request_method : "";
  const bool head = method == "HEAD";
  const bool get_or_head = method == "GET" || head;

  if (path == self->options_.metrics_path || (self->options_.serve_healthz && path == "/healthz")) {
    if (!get_or_head) {
      Reply(connection, 405, "text/plain; charset=utf-8", "Method not allowed\n", false,
            "GET, HEAD");
      return 405;
    }
    if (path == "/healthz") {
      Reply(connection, 200, "text/plain; charset=utf-8", "ok\n", head);
    } else {
      Reply(connection, 200, kTextContentType, self->Scrape(), head);
    }
    return 200;
  }
  Reply(connection, 404, "text/plain; charset=utf-8", "Not found\n", head);
  return 404;
}

int MetricsExposer::LogMessage(const mg_connection* connection, const char* message) {
  const mg_context* context = connection != nullptr ? mg_get_context(connection) : nullptr;
  auto* self =
      context != nullptr ? static_cast<MetricsExposer*>(mg_get_user_data(context)) : nullptr;
  if (self != nullptr) {
    absl::MutexLock lock(&self->mu_);
    if (!self->started_) {
      if (!self->startup_log_.empty()) self->startup_log_.append("; ");
      self->startup_log_.append(message);
      return 1;
    }
  }
  std::fprintf(stderr, "maskserve metrics exposer: %s\n", message);
  return 1;  // handled: civetweb prints nothing itself
}

}  // namespace metrics
}  // namespace maskserve
