#include "server/metrics/process_metrics_collector.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "absl/time/clock.h"
#include "server/metrics/testing/subprocess.h"

namespace maskserve {
namespace metrics {
namespace {

using testing::TempDir;
using testing::WriteFile;

std::map<std::string, const MetricFamily*> ByName(const std::vector<MetricFamily>& families) {
  std::map<std::string, const MetricFamily*> by_name;
  for (const MetricFamily& family : families) by_name[family.name] = &family;
  return by_name;
}

double ValueOf(const std::map<std::string, const MetricFamily*>& by_name, const std::string& name) {
  auto it = by_name.find(name);
  if (it == by_name.end() || it->second->metrics.size() != 1) return -12345;
  return it->second->metrics[0].value;
}

TEST(MetricsProcessCollectorTest, ReadsThisProcess) {
  std::thread sleeper([] { absl::SleepFor(absl::Milliseconds(300)); });
  ProcessMetricsCollector collector;
  const std::vector<MetricFamily> families = collector.Collect();
  sleeper.join();
  const auto by_name = ByName(families);
  ASSERT_EQ(by_name.size(), 7u);
  EXPECT_EQ(by_name.at("maskserve_process_cpu_seconds_total")->type, MetricType::kCounter);
  EXPECT_GE(ValueOf(by_name, "maskserve_process_cpu_seconds_total"), 0);
  EXPECT_GT(ValueOf(by_name, "maskserve_process_resident_memory_bytes"), 1e5);
  EXPECT_GT(ValueOf(by_name, "maskserve_process_virtual_memory_bytes"),
            ValueOf(by_name, "maskserve_process_resident_memory_bytes"));
  EXPECT_GE(ValueOf(by_name, "maskserve_process_threads"), 2);  // + sleeper
  EXPECT_GE(ValueOf(by_name, "maskserve_process_open_fds"), 3);
  EXPECT_GE(ValueOf(by_name, "maskserve_process_max_fds"),
            ValueOf(by_name, "maskserve_process_open_fds"));
  const double now = absl::ToUnixSeconds(absl::Now());
  const double start = ValueOf(by_name, "maskserve_process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 24 * 3600);  // a test binary started recently
  for (const MetricFamily& family : families) {
    EXPECT_EQ(family.name.rfind("maskserve_process_", 0), 0u) << family.name;
  }
}

TEST(MetricsProcessCollectorTest, OpenFdsCountsExactly) {
  ProcessMetricsCollector collector;
  const double before = ValueOf(ByName(collector.Collect()), "maskserve_process_open_fds");
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const double during = ValueOf(ByName(collector.Collect()), "maskserve_process_open_fds");
  close(fd);
  EXPECT_EQ(during, before + 1);
}

TEST(MetricsProcessCollectorTest, StandardNamesOnRequest) {
  ProcessMetricsCollector::Options options;
  options.standard_names = true;
  const auto by_name = ByName(ProcessMetricsCollector(options).Collect());
  EXPECT_EQ(by_name.size(), 14u);
  EXPECT_GT(ValueOf(by_name, "process_resident_memory_bytes"), 0);
}

TEST(MetricsProcessCollectorTest, ExactValuesFromFakeProc) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string root = (*dir)->path();
  std::filesystem::create_directories(root + "/self/fd");
  for (const char* fd : {"0", "1", "2", "3"}) {
    ASSERT_TRUE(WriteFile(root + "/self/fd/" + fd, "").ok());
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // Fields 1..24 of proc(5); comm contains spaces and a parenthesis.
  ASSERT_TRUE(WriteFile(root + "/self/stat",
                        "4242 (mask serve) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 "
                        "300 200 0 0 20 0 9 0 5000 1048576 256 "
                        "18446744073709551615 1 1 0 0 0\n")
                  .ok());
  ASSERT_TRUE(WriteFile(root + "/stat", "cpu  1 2 3 4\nbtime 1700000000\nprocesses 5\n").ok());
  ASSERT_TRUE(WriteFile(root + "/self/limits",
                        "Limit                     Soft Limit           Hard "
                        "Limit           Units\n"
                        "Max open files            1024                 524288 "
                        "              files\n")
                  .ok());
  ProcessMetricsCollector::Options options;
  options.proc_root = root;
  const std::vector<MetricFamily> families = ProcessMetricsCollector(options).Collect();
  const auto by_name = ByName(families);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_cpu_seconds_total"), 500 / ticks);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_threads"), 9);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_virtual_memory_bytes"), 1048576);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_resident_memory_bytes"), 256 * page);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_start_time_seconds"),
                   1700000000 + 5000 / ticks);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_open_fds"), 4);
  EXPECT_DOUBLE_EQ(ValueOf(by_name, "maskserve_process_max_fds"), 1024);
}

TEST(MetricsProcessCollectorTest, MissingFilesLeaveMetricsOut) {
  ProcessMetricsCollector::Options options;
  options.proc_root = "/nonexistent/proc";
  EXPECT_TRUE(ProcessMetricsCollector(options).Collect().empty());
}

}  // namespace
}  // namespace metrics
}  // namespace maskserve
