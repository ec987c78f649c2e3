// File: tests/testing/http_get.h
//
// Test-only: a minimal blocking HTTP/1.0 client for loopback servers (the
// metrics exposer, a Prometheus started by a test), and a free-port picker.
// Every call is bounded by its timeout.
#ifndef MASKSERVE_TESTS_TESTING_HTTP_GET_H_
#define MASKSERVE_TESTS_TESTING_HTTP_GET_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace maskserve {
namespace testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `method target` (target = path and query) to 127.0.0.1:port and
// reads the response until the server closes the connection.
absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& target,
                                         absl::Duration timeout = absl::Seconds(10));

inline absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                            absl::Duration timeout = absl::Seconds(10)) {
  return HttpRequest(port, "GET", target, timeout);
}

// A port that was free on 127.0.0.1 a moment ago (bind to 0, read, close).
absl::StatusOr<int> PickFreePort();

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string UrlEncode(const std::string& text);

}  // namespace testing
}  // namespace maskserve

#endif  // MASKSERVE_TESTS_TESTING_HTTP_GET_H_
