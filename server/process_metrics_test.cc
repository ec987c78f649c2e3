#include "server/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/check_names.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testing/subprocess.h"

namespace maskserve {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;
using testing::TempDir;
using testing::WriteFile;

constexpr double kMissing = -12345;

std::map<std::string, const MetricFamily*> ByName(const std::vector<MetricFamily>& families) {
  std::map<std::string, const MetricFamily*> by_name;
  for (const MetricFamily& family : families) {
    EXPECT_TRUE(by_name.emplace(family.name, &family).second) << "duplicate " << family.name;
  }
  return by_name;
}

// The single sample of family `name` (a counter's or a gauge's value), or
// kMissing.
double ValueOf(const std::map<std::string, const MetricFamily*>& by_name, const std::string& name) {
  auto it = by_name.find(name);
  if (it == by_name.end() || it->second->metric.size() != 1) return kMissing;
  const prometheus::ClientMetric& metric = it->second->metric[0];
  return it->second->type == MetricType::Counter ? metric.counter.value : metric.gauge.value;
}

// A fake proc tree with known values: see ExactValuesFromFakeProc.
class FakeProc {
 public:
  FakeProc() {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
    EXPECT_TRUE(dir.ok()) << dir.status();
    if (dir.ok()) dir_ = std::move(*dir);
  }
  std::string root() const { return dir_ ? dir_->path() : "/nonexistent/fake-proc"; }

  void WriteStat() {
    // Fields 1..24 of proc(5) and more; comm contains spaces and a
    // parenthesis.
    Write("/self/stat",
          "4242 (mask serve) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 "
          "300 200 0 0 20 0 9 0 5000 1048576 256 "
          "18446744073709551615 1 1 0 0 0\n");
  }
  void WriteBootTime() { Write("/stat", "cpu  1 2 3 4\nbtime 1700000000\nprocesses 5\n"); }
  void WriteLimits() {
    Write("/self/limits",
          "Limit                     Soft Limit           Hard Limit           Units\n"
          "Max cpu time              unlimited            unlimited            seconds\n"
          "Max open files            1024                 524288               files\n"
          "Max processes             63431                63431                processes\n");
  }
  // Regular files named 0..count-1 in self/fd. With many of them one has the
  // number of the descriptor the collector's opendir gets, which must still
  // count (it is not the directory itself).
  void WriteFds(int count) {
    std::filesystem::create_directories(root() + "/self/fd");
    for (int fd = 0; fd < count; ++fd) Write(absl::StrCat("/self/fd/", fd), "");
  }
  void Write(const std::string& relative, const std::string& contents) {
    std::filesystem::create_directories(std::filesystem::path(root() + relative).parent_path());
    ASSERT_TRUE(WriteFile(root() + relative, contents).ok()) << relative;
  }

  std::vector<MetricFamily> Collect(bool standard_names = false) const {
    ProcessMetricsCollector::Options options;
    options.proc_root = root();
    options.standard_names = standard_names;
    return ProcessMetricsCollector(options).Collect();
  }

 private:
  std::unique_ptr<TempDir> dir_;
};

const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
const double kPage = static_cast<double>(sysconf(_SC_PAGESIZE));

TEST(MetricsProcessCollectorTest, ReadsThisProcess) {
  std::thread sleeper([] { absl::SleepFor(absl::Milliseconds(300)); });
  ProcessMetricsCollector collector;
  const std::vector<MetricFamily> families = collector.Collect();
  sleeper.join();
  const auto by_name = ByName(families);
  ASSERT_EQ(by_name.size(), 7u);
  for (const MetricFamily& family : families) {
    EXPECT_EQ(family.name.rfind("maskserve_process_", 0), 0u) << family.name;
    EXPECT_TRUE(prometheus::CheckMetricName(family.name)) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    ASSERT_EQ(family.metric.size(), 1u) << family.name;
    EXPECT_TRUE(family.metric[0].label.empty()) << family.name;
    EXPECT_EQ(family.type, family.name == "maskserve_process_cpu_seconds_total"
                               ? MetricType::Counter
                               : MetricType::Gauge)
        << family.name;
  }
  EXPECT_GE(ValueOf(by_name, "maskserve_process_cpu_seconds_total"), 0);
  EXPECT_GT(ValueOf(by_name, "maskserve_process_resident_memory_bytes"), 1e5);
  EXPECT_GT(ValueOf(by_name, "maskserve_process_virtual_memory_bytes"),
            ValueOf(by_name, "maskserve_process_resident_memory_bytes"));
  EXPECT_GE(ValueOf(by_name, "maskserve_process_threads"), 2);  // main + sleeper
  EXPECT_GE(ValueOf(by_name, "maskserve_process_open_fds"), 3);
  EXPECT_GE(ValueOf(by_name, "maskserve_process_max_fds"),
            ValueOf(by_name, "maskserve_process_open_fds"));
  const double now = absl::ToUnixSeconds(absl::Now());
  const double start = ValueOf(by_name, "maskserve_process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 24 * 3600);  // a test binary started recently
}

TEST(MetricsProcessCollectorTest, OpenFdsCountsExactly) {
  ProcessMetricsCollector collector;
  const double before = ValueOf(ByName(collector.Collect()), "maskserve_process_open_fds");
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const double during = ValueOf(ByName(collector.Collect()), "maskserve_process_open_fds");
  close(fd);
  const double after = ValueOf(ByName(collector.Collect()), "maskserve_process_open_fds");
  EXPECT_EQ(during, before + 1);
  EXPECT_EQ(after, before);
  // And equals what /proc lists without the collector's own directory
  // descriptor (the iterator below holds one too, so it sees one more).
  size_t listed = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd");
       it != std::filesystem::directory_iterator(); ++it) {
    ++listed;
  }
  EXPECT_EQ(double(listed), before + 1);
}

TEST(MetricsProcessCollectorTest, ExactValuesFromFakeProc) {
  FakeProc proc;
  proc.WriteStat();
  proc.WriteBootTime();
  proc.WriteLimits();
  proc.WriteFds(64);
  const std::vector<MetricFamily> families = proc.Collect();
  const auto by_name = ByName(families);
  EXPECT_EQ(by_name.size(), 7u);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_cpu_seconds_total"), 500 / kTicks);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_threads"), 9);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_virtual_memory_bytes"), 1048576);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_resident_memory_bytes"), 256 * kPage);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_start_time_seconds"),
                   1700000000 + 5000 / kTicks);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_open_fds"), 64);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_max_fds"), 1024);
}

TEST(MetricsProcessCollectorTest, StandardNamesOnRequest) {
  FakeProc proc;
  proc.WriteStat();
  proc.WriteBootTime();
  proc.WriteLimits();
  proc.WriteFds(4);
  EXPECT_EQ(ByName(proc.Collect(/*standard_names=*/false)).size(), 7u);
  const std::vector<MetricFamily> families = proc.Collect(/*standard_names=*/true);
  const auto by_name = ByName(families);
  ASSERT_EQ(by_name.size(), 14u);
  for (const MetricFamily& family : families) {
    if (family.name.rfind("maskserve_", 0) == 0) continue;
    ASSERT_EQ(family.name.rfind("process_", 0), 0u) << family.name;
    // process_x mirrors maskserve_process_x: same type, help and value.
    const auto twin = by_name.find("maskserve_" + family.name);
    ASSERT_NE(twin, by_name.end()) << family.name;
    EXPECT_EQ(family.type, twin->second->type) << family.name;
    EXPECT_EQ(family.help, twin->second->help) << family.name;
    EXPECT_DOUBLE_EQ(ValueOf(by_name, family.name), ValueOf(by_name, twin->first)) << family.name;
  }
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "process_resident_memory_bytes"), 256 * kPage);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "process_open_fds"), 4);
  EXPECT_EQ(by_name.at("process_cpu_seconds_total")->type, MetricType::Counter);

  // And on the real /proc.
  ProcessMetricsCollector::Options options;
  options.standard_names = true;
  const auto real = ByName(ProcessMetricsCollector(options).Collect());
  EXPECT_EQ(real.size(), 14u);
  EXPECT_GT(ValueOf(real, "process_resident_memory_bytes"), 0);
}

TEST(MetricsProcessCollectorTest, MissingFilesLeaveMetricsOut) {
  ProcessMetricsCollector::Options options;
  options.proc_root = "/nonexistent/proc";
  EXPECT_TRUE(ProcessMetricsCollector(options).Collect().empty());

  // Only self/stat: what needs /stat, self/fd or self/limits is left out.
  FakeProc stat_only;
  stat_only.WriteStat();
  auto by_name = ByName(stat_only.Collect());
  EXPECT_EQ(by_name.size(), 4u);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_cpu_seconds_total"), 500 / kTicks);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_threads"), 9);
  EXPECT_EQ(by_name.count("maskserve_process_start_time_seconds"), 0u);
  EXPECT_EQ(by_name.count("maskserve_process_open_fds"), 0u);
  EXPECT_EQ(by_name.count("maskserve_process_max_fds"), 0u);

  // Everything but self/stat: the stat-based metrics are left out.
  FakeProc no_stat;
  no_stat.WriteBootTime();
  no_stat.WriteLimits();
  no_stat.WriteFds(2);
  by_name = ByName(no_stat.Collect());
  EXPECT_EQ(by_name.size(), 2u);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_open_fds"), 2);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_max_fds"), 1024);
}

TEST(MetricsProcessCollectorTest, MalformedFilesLeaveMetricsOut) {
  FakeProc proc;
  proc.Write("/self/stat", "4242 no closing parenthesis S 1 2 3\n");
  proc.Write("/stat", "cpu  1 2 3 4\nbtime soon\n");
  proc.Write("/self/limits", "Max open files            unlimited            unlimited   files\n");
  proc.WriteFds(0);  // an empty directory: zero, not missing
  const auto by_name = ByName(proc.Collect());
  EXPECT_EQ(by_name.size(), 1u);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_open_fds"), 0);

  // A stat line cut short keeps the fields it has.
  FakeProc short_stat;
  short_stat.Write("/self/stat", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 300 200 0 0 20 0 9\n");
  short_stat.WriteBootTime();
  const auto cut = ByName(short_stat.Collect());
  EXPECT_EQ(cut.size(), 2u);  // fields 14, 15 and 20; no 22 to go with btime
  EXPECT_DOUBLE_EQ(ValueOf(cut, "maskserve_process_cpu_seconds_total"), 500 / kTicks);
  EXPECT_DOUBLE_EQ(ValueOf(cut, "maskserve_process_threads"), 9);
}

}  // namespace
}  // namespace maskserve
