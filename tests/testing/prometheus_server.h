// File: tests/testing/prometheus_server.h
//
// Test helper: a real Prometheus server started on a free loopback port with
// a 1 s scrape of one target, and polling of its HTTP query API. Bounded
// waits only; the process is stopped and reaped when the handle dies.
#ifndef MASKSERVE_TESTS_TESTING_PROMETHEUS_SERVER_H_
#define MASKSERVE_TESTS_TESTING_PROMETHEUS_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace maskserve {
namespace testing {

inline constexpr absl::Duration kScrapeDeadline = absl::Seconds(60);

struct RunningPrometheus {
  std::unique_ptr<Subprocess> process;
  int port = 0;
  std::string log_path;
};

// Starts `binary` scraping 127.0.0.1:`target_port` every second, with its
// files in `dir`; ready when /-/ready answers.
absl::StatusOr<RunningPrometheus> StartPrometheus(const std::string& binary, const TempDir& dir,
                                                  int target_port);
// The value of the single sample an instant query returns, or nullopt.
std::optional<std::string> QueryValue(int prometheus_port, const std::string& promql);
// Polls until `promql` returns `expected` (or the deadline); the last value.
std::optional<std::string> WaitForValue(int prometheus_port, const std::string& promql,
                                        const std::string& expected);
// Polls until `promql` returns any sample.
bool WaitForAnySample(int prometheus_port, const std::string& promql);

}  // namespace testing
}  // namespace maskserve

#endif  // MASKSERVE_TESTS_TESTING_PROMETHEUS_SERVER_H_
