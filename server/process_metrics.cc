#include "server/process_metrics.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace maskserve {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

// The fields of /proc/self/stat after "(comm)", which may itself contain
// spaces and parentheses: fields[0] is field 3 (state) of proc(5).
std::vector<absl::string_view> StatFieldsAfterComm(absl::string_view stat) {
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) return {};
  return absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
}

// Field `number` (1-based, as in proc(5)) of /proc/self/stat.
std::optional<double> StatField(const std::vector<absl::string_view>& fields, size_t number) {
  const size_t index = number - 3;
  double value;
  if (number < 3 || index >= fields.size() ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(fields[index]), &value)) {
    return std::nullopt;
  }
  return value;
}

// "btime <seconds>" from /proc/stat: the boot time.
std::optional<double> BootTime(const std::string& proc_root) {
  std::optional<std::string> stat = ReadFile(proc_root + "/stat");
  if (!stat) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double value;
      if (absl::SimpleAtod(absl::StripAsciiWhitespace(line), &value)) {
        return value;
      }
    }
  }
  return std::nullopt;
}

// Entries of <proc_root>/self/fd, not counting the descriptor opendir holds
// (in the real /proc it is an entry that resolves to the directory itself).
std::optional<double> OpenFds(const std::string& proc_root) {
  const std::string path = proc_root + "/self/fd";
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return std::nullopt;
  struct stat dir_stat = {};
  const bool have_dir_stat = fstat(dirfd(dir), &dir_stat) == 0;
  const std::string own = std::to_string(dirfd(dir));
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (name == own && have_dir_stat) {
      struct stat entry_stat = {};
      if (stat((path + "/" + own).c_str(), &entry_stat) == 0 &&
          entry_stat.st_dev == dir_stat.st_dev && entry_stat.st_ino == dir_stat.st_ino) {
        continue;
      }
    }
    ++count;
  }
  closedir(dir);
  return count;
}

// The soft "Max open files" limit from <proc_root>/self/limits.
std::optional<double> MaxFds(const std::string& proc_root) {
  std::optional<std::string> limits = ReadFile(proc_root + "/self/limits");
  if (!limits) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*limits, '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    double value;
    if (!words.empty() && absl::SimpleAtod(words[0], &value)) return value;
  }
  return std::nullopt;
}

}  // namespace

ProcessMetricsCollector::ProcessMetricsCollector(Options options) : options_(std::move(options)) {}

std::vector<prometheus::MetricFamily> ProcessMetricsCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  auto add = [&](const char* name, const char* help, prometheus::MetricType type,
                 std::optional<double> value) {
    if (!value) return;
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = *value;
    } else {
      metric.gauge.value = *value;
    }
    families.push_back({std::string("maskserve_") + name, help, type, {metric}});
    if (options_.standard_names) families.push_back({name, help, type, {metric}});
  };

  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::optional<std::string> stat = ReadFile(options_.proc_root + "/self/stat");
  const std::vector<absl::string_view> fields =
      stat ? StatFieldsAfterComm(*stat) : std::vector<absl::string_view>();

  std::optional<double> utime = StatField(fields, 14);
  std::optional<double> stime = StatField(fields, 15);
  if (utime && stime) {
    add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
        prometheus::MetricType::Counter, (*utime + *stime) / ticks_per_second);
  }
  if (std::optional<double> rss = StatField(fields, 24)) {
    add("process_resident_memory_bytes", "Resident memory size in bytes.", prometheus::MetricType::Gauge,
        *rss * page_size);
  }
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", prometheus::MetricType::Gauge,
      StatField(fields, 23));
  add("process_threads", "Number of OS threads in the process.", prometheus::MetricType::Gauge,
      StatField(fields, 20));
  std::optional<double> start_ticks = StatField(fields, 22);
  std::optional<double> boot_time = BootTime(options_.proc_root);
  if (start_ticks && boot_time) {
    add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        prometheus::MetricType::Gauge, *boot_time + *start_ticks / ticks_per_second);
  }
  add("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge,
      OpenFds(options_.proc_root));
  add("process_max_fds", "Maximum number of open file descriptors.", prometheus::MetricType::Gauge,
      MaxFds(options_.proc_root));
  return families;
}

}  // namespace maskserve
