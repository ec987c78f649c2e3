// store_crash_soak: the long crash soak (scripts/soak_store.sh). Runs the
// crash harness (storage/testing/crash_harness.h) for --rounds rounds or
// until --duration is spent, printing one line per round and a summary.
//
//   store_crash_soak --rounds=2000 --duration=30m --data_dir=/tmp/soak
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "storage/testing/crash_harness.h"
#include "storage/testing/temp_dir.h"

ABSL_FLAG(int, rounds, 1000, "Kill/reopen/verify rounds");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(10), "Start no round after this");
ABSL_FLAG(absl::Duration, max_run, absl::Milliseconds(800), "Longest a writer runs before SIGKILL");
ABSL_FLAG(int, threads, 4, "Writer threads");
ABSL_FLAG(int, tenants, 4, "Tenants");
ABSL_FLAG(int, profiles, 60, "Profile ids per tenant");
ABSL_FLAG(uint64_t, seed, 1, "Seed");
ABSL_FLAG(std::string, writer, "", "store_crash_writer binary [next to this one]");
ABSL_FLAG(std::string, data_dir, "", "Store directory [a fresh temporary one]");
ABSL_FLAG(bool, verbose, false, "Print every round");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string writer = absl::GetFlag(FLAGS_writer);
  if (writer.empty()) {
    writer = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "store_crash_writer")
                 .string();
  }
  maskserve::TempDir temp("maskserve_crash_soak");
  maskserve::CrashTestOptions options;
  options.writer_path = writer;
  options.data_dir = absl::GetFlag(FLAGS_data_dir).empty() ? temp.path() + "/store"
                                                           : absl::GetFlag(FLAGS_data_dir);
  options.rounds = absl::GetFlag(FLAGS_rounds);
  options.max_run = absl::GetFlag(FLAGS_max_run);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.tenants = absl::GetFlag(FLAGS_tenants);
  options.profiles = absl::GetFlag(FLAGS_profiles);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.deadline = absl::Now() + absl::GetFlag(FLAGS_duration);
  int printed = 0;
  options.log = [&](const std::string& line) {
    if (absl::GetFlag(FLAGS_verbose) || ++printed % 50 == 0) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  };
  absl::StatusOr<maskserve::CrashTestStats> stats = maskserve::RunCrashTest(options);
  if (!stats.ok()) {
    std::fprintf(stderr, "CRASH SOAK FAILED: %s\n", stats.status().ToString().c_str());
    return 1;
  }
  std::printf("CRASH SOAK PASSED: %s\n", stats->Summary().c_str());
  return 0;
}
