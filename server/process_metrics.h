// File: server/process_metrics.h
//
// ProcessMetricsCollector: a prometheus::Collectable with this process' resource use, read from /proc at
// scrape time (Linux only):
//   maskserve_process_cpu_seconds_total        counter  user + system CPU
//   maskserve_process_resident_memory_bytes    gauge    RSS
//   maskserve_process_virtual_memory_bytes     gauge    address space size
//   maskserve_process_open_fds                 gauge    open descriptors
//   maskserve_process_max_fds                  gauge    RLIMIT_NOFILE (soft)
//   maskserve_process_start_time_seconds       gauge    Unix time of start
//   maskserve_process_threads                  gauge    threads
// With Options::standard_names the same values are also exported under the
// process_* names of Prometheus' client libraries, which generic dashboards
// expect. A file that cannot be read leaves its metrics out of that scrape.
//
// Thread safety: Collect is thread-safe (no state besides const options).
//
// Example:
//   auto process = std::make_shared<ProcessMetricsCollector>();
//   exposer.RegisterCollectable(process);  // prometheus::Exposer or MetricsEndpoint
#ifndef MASKSERVE_SERVER_PROCESS_METRICS_H_
#define MASKSERVE_SERVER_PROCESS_METRICS_H_

#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace maskserve {

class ProcessMetricsCollector : public prometheus::Collectable {
 public:
  struct Options {
    // Root of the proc file system; tests point it at a fake tree holding
    // self/stat, self/limits, self/fd/ and stat.
    std::string proc_root = "/proc";
    // Also export process_* (without the maskserve_ prefix).
    bool standard_names = false;
  };

  ProcessMetricsCollector() : ProcessMetricsCollector(Options()) {}
  explicit ProcessMetricsCollector(Options options);

  // Collectable interface.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Options options_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_PROCESS_METRICS_H_
