#include "storage/job_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

TEST(JobIdTest, ValidSortedAndUniqueWhenTheClockStandsStill) {
  absl::Time fixed = absl::FromUnixMillis(1700000000000);
  JobIdGenerator ids(42, [&] { return fixed; });
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    std::string id = ids.Next();
    ASSERT_EQ(id.size(), kJobIdLength);
    ASSERT_OK(ValidateJobId(id));
    ASSERT_LT(previous, id);
    previous = id;
  }
  absl::StatusOr<absl::Time> t = JobIdTime(previous);
  ASSERT_OK(t);
  EXPECT_EQ(*t, fixed);
}

TEST(JobIdTest, SortsByCreationTimeEvenWhenTheClockStepsBack) {
  int64_t ms = 1700000000000;
  JobIdGenerator ids(1, [&] { return absl::FromUnixMillis(ms); });
  std::string a = ids.Next();
  ms += 5;
  std::string b = ids.Next();
  ms -= 100;  // NTP step back
  std::string c = ids.Next();
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  // A later generator (another process) starting later sorts after.
  JobIdGenerator other(2, [&] { return absl::FromUnixMillis(ms + 1000); });
  EXPECT_LT(c, other.Next());
}

TEST(JobIdTest, UniqueAcrossThreadsAndGenerators) {
  JobIdGenerator a, b;
  std::vector<std::vector<std::string>> out(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) out[t].push_back((t % 2 ? a : b).Next());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& ids : out) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), 20000u);
}

TEST(JobIdTest, RejectsMalformedIds) {
  EXPECT_THAT(ValidateJobId(""), StatusIs(absl::StatusCode::kInvalidArgument, "job_id: "));
  EXPECT_THAT(ValidateJobId(std::string(26, 'U')),  // U is not Crockford
              StatusIs(absl::StatusCode::kInvalidArgument, "offset 0"));
  EXPECT_THAT(ValidateJobId("8" + std::string(25, '0')),
              StatusIs(absl::StatusCode::kInvalidArgument, "out of range"));
  EXPECT_THAT(ValidateJobId("../../etc/passwd"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace maskserve
