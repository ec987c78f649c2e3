// File: clients/loadgen/load_report.h
//
// The load generator's result: what was run, throughput, latency percentiles
// and errors by gRPC code, printed as one JSON line (for scripts and
// benchmark logs) and as a short table (for people).
//
// Thread safety: plain values and pure functions.
#ifndef MASKSERVE_CLIENTS_LOADGEN_LOAD_REPORT_H_
#define MASKSERVE_CLIENTS_LOADGEN_LOAD_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace maskserve {
namespace loadgen {

// Latency percentiles in milliseconds (nearest-rank); all 0 with no samples.
struct LatencySummary {
  uint64_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// The nearest-rank `q`-quantile (q in [0, 1]) of ascending `sorted`; 0 when
// empty.
double Percentile(const std::vector<double>& sorted, double q);

// Sorts `latencies_ms` and summarises it.
LatencySummary SummarizeLatencies(std::vector<double> latencies_ms);

struct LoadReport {
  // What ran.
  std::string address;
  int concurrency = 0;
  int channels = 0;
  int profiles = 0;
  std::string popularity;
  double zipf_s = 0;
  int inputs_per_request = 0;
  int text_words = 0;
  // What happened, over the measured window (after warm-up).
  double duration_seconds = 0;
  uint64_t requests = 0;  // completed, successful or not
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;  // by gRPC code name
  double requests_per_second = 0;          // successful requests
  double sequences_per_second = 0;         // successful inputs
  LatencySummary latency;                  // of successful requests
  int distinct_profiles = 0;               // profiles that got a request
};

// Fills the throughput fields from ok, inputs_per_request and duration.
void ComputeThroughput(LoadReport* report);

// One line of JSON, e.g.
// {"address":"...","concurrency":8,...,"requests_per_second":1234.5,
//  "sequences_per_second":1234.5,"latency_ms":{"p50":1.2,...},"errors":{}}
std::string ReportJson(const LoadReport& report);

// A few aligned lines for people.
std::string ReportTable(const LoadReport& report);

}  // namespace loadgen
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_LOADGEN_LOAD_REPORT_H_
