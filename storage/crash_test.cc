// The short crash test run by CTest (well under a minute): SIGKILL a writer
// process many times and verify every acknowledged write after each reopen
// (storage/testing/crash_harness.h). scripts/soak_store.sh runs the long
// version through store_crash_soak.
#include <gtest/gtest.h>

#include <cstdio>

#include "storage/testing/crash_harness.h"
#include "storage/testing/temp_dir.h"

namespace maskserve {
namespace {

TEST(StoreCrashTest, AcknowledgedWritesSurviveSigkill) {
  TempDir dir("maskserve_crash_test");
  CrashTestOptions options;
  options.writer_path = MASKSERVE_CRASH_WRITER;
  options.data_dir = dir.path() + "/store";
  options.rounds = 36;
  options.max_run = absl::Milliseconds(800);
  options.seed = 20240607;
  absl::StatusOr<CrashTestStats> stats = RunCrashTest(options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::printf("crash test: %s\n", stats->Summary().c_str());
  EXPECT_EQ(stats->rounds, 36);
  EXPECT_EQ(stats->kills, 36);
  EXPECT_GT(stats->acked_publishes, 100u);
  EXPECT_GT(stats->acked_jobs, 10u);
  EXPECT_GT(stats->records_verified, 0u);
}

}  // namespace
}  // namespace maskserve
