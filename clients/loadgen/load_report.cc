#include "clients/loadgen/load_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/json.h"

namespace maskserve {
namespace loadgen {
namespace {

std::string Number(double value) {
  if (!std::isfinite(value)) return "0";
  return absl::StrFormat("%.3f", value);
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  q = std::min(1.0, std::max(0.0, q));
  const size_t rank = static_cast<size_t>(std::ceil(q * double(sorted.size())));
  return sorted[rank == 0 ? 0 : rank - 1];
}

LatencySummary SummarizeLatencies(std::vector<double> latencies_ms) {
  LatencySummary summary;
  if (latencies_ms.empty()) return summary;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  summary.count = latencies_ms.size();
  summary.mean_ms =
      std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / double(latencies_ms.size());
  summary.p50_ms = Percentile(latencies_ms, 0.50);
  summary.p90_ms = Percentile(latencies_ms, 0.90);
  summary.p99_ms = Percentile(latencies_ms, 0.99);
  summary.max_ms = latencies_ms.back();
  return summary;
}

void ComputeThroughput(LoadReport* report) {
  if (report->duration_seconds <= 0) {
    report->requests_per_second = report->sequences_per_second = 0;
    return;
  }
  report->requests_per_second = double(report->ok) / report->duration_seconds;
  report->sequences_per_second = report->requests_per_second * report->inputs_per_request;
}

std::string ReportJson(const LoadReport& r) {
  std::string errors;
  for (const auto& [code, count] : r.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ",", JsonQuote(code), ":", count);
  }
  return absl::StrCat(
      "{\"address\":", JsonQuote(r.address), ",\"concurrency\":", r.concurrency,
      ",\"channels\":", r.channels, ",\"profiles\":", r.profiles,
      ",\"popularity\":", JsonQuote(r.popularity), ",\"zipf_s\":", Number(r.zipf_s),
      ",\"inputs_per_request\":", r.inputs_per_request, ",\"text_words\":", r.text_words,
      ",\"duration_seconds\":", Number(r.duration_seconds), ",\"requests\":", r.requests,
      ",\"ok\":", r.ok, ",\"requests_per_second\":", Number(r.requests_per_second),
      ",\"sequences_per_second\":", Number(r.sequences_per_second),
      ",\"latency_ms\":{\"mean\":", Number(r.latency.mean_ms),
      ",\"p50\":", Number(r.latency.p50_ms), ",\"p90\":", Number(r.latency.p90_ms),
      ",\"p99\":", Number(r.latency.p99_ms), ",\"max\":", Number(r.latency.max_ms),
      "},\"distinct_profiles\":", r.distinct_profiles, ",\"errors\":{", errors, "}}");
}

std::string ReportTable(const LoadReport& r) {
  std::string errors = r.errors.empty() ? "none" : "";
  for (const auto& [code, count] : r.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ", ", code, " ", count);
  }
  return absl::StrFormat(
      "load       %d threads, %d channels, %d profiles (%s), %d inputs x %d words per request\n"
      "requests   %d completed, %d ok in %.2f s\n"
      "throughput %.1f req/s, %.1f seq/s\n"
      "latency    p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (mean %.2f ms)\n"
      "errors     %s\n",
      r.concurrency, r.channels, r.profiles,
      r.popularity == "zipf" ? absl::StrFormat("zipf s=%.2f", r.zipf_s) : r.popularity,
      r.inputs_per_request, r.text_words, r.requests, r.ok, r.duration_seconds,
      r.requests_per_second, r.sequences_per_second, r.latency.p50_ms, r.latency.p90_ms,
      r.latency.p99_ms, r.latency.max_ms, r.latency.mean_ms, errors);
}

}  // namespace loadgen
}  // namespace maskserve
