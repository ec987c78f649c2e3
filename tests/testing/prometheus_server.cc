#include "tests/testing/prometheus_server.h"

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testing/http_get.h"

namespace maskserve {
namespace testing {

absl::StatusOr<RunningPrometheus> StartPrometheus(const std::string& binary, const TempDir& dir,
                                                  int target_port) {
  const std::string config = dir.path() + "/prometheus.yml";
  absl::Status written = testing::WriteFile(config, absl::StrCat("global:\n"
                                                                 "  scrape_interval: 1s\n"
                                                                 "  scrape_timeout: 1s\n"
                                                                 "  evaluation_interval: 1s\n"
                                                                 "scrape_configs:\n"
                                                                 "  - job_name: maskserve\n"
                                                                 "    static_configs:\n"
                                                                 "      - targets: ['127.0.0.1:",
                                                                 target_port, "']\n"));
  if (!written.ok()) return written;
  // The port is picked free but may be taken before Prometheus binds it:
  // then Prometheus exits, and we try another.
  absl::Status last = absl::UnavailableError("not started");
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<int> port = testing::PickFreePort();
    if (!port.ok()) return port.status();
    RunningPrometheus prometheus;
    prometheus.port = *port;
    prometheus.log_path = absl::StrCat(dir.path(), "/prometheus", attempt, ".log");
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
        {binary, "--config.file=" + config,
         "--storage.tsdb.path=" + absl::StrCat(dir.path(), "/data", attempt),
         absl::StrCat("--web.listen-address=127.0.0.1:", *port), "--log.level=warn"},
        "", prometheus.log_path);
    if (!process.ok()) return process.status();
    prometheus.process = std::move(*process);
    // Ready when /-/ready answers 200.
    const absl::Time deadline = absl::Now() + kScrapeDeadline;
    while (absl::Now() < deadline && prometheus.process->Running()) {
      absl::StatusOr<HttpResponse> ready = HttpGet(prometheus.port, "/-/ready", absl::Seconds(2));
      if (ready.ok() && ready->status == 200) return prometheus;
      absl::SleepFor(absl::Milliseconds(200));
    }
    last = absl::UnavailableError(absl::StrCat("prometheus did not become ready; log:\n",
                                               testing::ReadFileOrEmpty(prometheus.log_path)));
    prometheus.process->Stop();
  }
  return last;
}

// The value of the single sample an instant query returns, or nullopt
// while Prometheus has none.
std::optional<std::string> QueryValue(int prometheus_port, const std::string& promql) {
  absl::StatusOr<HttpResponse> response = HttpGet(
      prometheus_port, "/api/v1/query?query=" + testing::UrlEncode(promql), absl::Seconds(5));
  if (!response.ok() || response->status != 200) return std::nullopt;
  // {"status":"success","data":{"resultType":"vector","result":[{"metric":
  // {...},"value":[1700000000.123,"7"]}]}}
  static const std::regex kValue(R"re("value":\[[0-9.e+]+,"([^"]*)"\])re");
  std::smatch match;
  if (!absl::StrContains(response->body, "\"status\":\"success\"") ||
      !std::regex_search(response->body, match, kValue)) {
    return std::nullopt;
  }
  return match[1].str();
}

// Polls `promql` until it returns `expected` or the deadline passes; returns
// the last value seen.
std::optional<std::string> WaitForValue(int prometheus_port, const std::string& promql,
                                        const std::string& expected) {
  std::optional<std::string> value;
  const absl::Time deadline = absl::Now() + kScrapeDeadline;
  while (absl::Now() < deadline) {
    value = QueryValue(prometheus_port, promql);
    if (value == expected) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return value;
}

// Polls `promql` until it returns any sample (e.g. a filter like "x > 0"
// holds) or the deadline passes.
bool WaitForAnySample(int prometheus_port, const std::string& promql) {
  const absl::Time deadline = absl::Now() + kScrapeDeadline;
  while (absl::Now() < deadline) {
    if (QueryValue(prometheus_port, promql).has_value()) return true;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return false;
}

}  // namespace testing
}  // namespace maskserve
