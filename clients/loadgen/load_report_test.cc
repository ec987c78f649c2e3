#include "clients/loadgen/load_report.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "core/base/json.h"

namespace maskserve {
namespace loadgen {
namespace {

TEST(PercentileTest, NearestRank) {
  std::vector<double> sorted;
  for (int i = 1; i <= 100; ++i) sorted.push_back(i);
  EXPECT_EQ(Percentile(sorted, 0.5), 50);
  EXPECT_EQ(Percentile(sorted, 0.9), 90);
  EXPECT_EQ(Percentile(sorted, 0.99), 99);
  EXPECT_EQ(Percentile(sorted, 1.0), 100);
  EXPECT_EQ(Percentile(sorted, 0.0), 1);
  EXPECT_EQ(Percentile({}, 0.5), 0);
  EXPECT_EQ(Percentile({7}, 0.99), 7);
}

TEST(SummarizeLatenciesTest, SortsAndSummarises) {
  LatencySummary s = SummarizeLatencies({5, 1, 3, 2, 4});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.mean_ms, 3);
  EXPECT_EQ(s.p50_ms, 3);
  EXPECT_EQ(s.max_ms, 5);
  EXPECT_EQ(SummarizeLatencies({}).count, 0u);
}

TEST(ReportJsonTest, IsOneLineOfValidJson) {
  LoadReport r;
  r.address = "127.0.0.1:1";
  r.concurrency = 4;
  r.profiles = 10;
  r.popularity = "zipf";
  r.zipf_s = 1.1;
  r.inputs_per_request = 2;
  r.duration_seconds = 2;
  r.requests = 110;
  r.ok = 100;
  r.errors["UNAVAILABLE"] = 10;
  r.latency = SummarizeLatencies({1, 2, 3});
  ComputeThroughput(&r);
  EXPECT_DOUBLE_EQ(r.requests_per_second, 50);
  EXPECT_DOUBLE_EQ(r.sequences_per_second, 100);
  const std::string json = ReportJson(r);
  EXPECT_FALSE(absl::StrContains(json, "\n"));
  JsonValue value = JsonValue::Parse(json, "report");
  EXPECT_EQ(value.GetInt64("ok"), 100);
  EXPECT_DOUBLE_EQ(value.GetDouble("requests_per_second"), 50);
  EXPECT_DOUBLE_EQ(value.At("latency_ms").GetDouble("p99"), 3);
  EXPECT_EQ(value.At("errors").GetInt64("UNAVAILABLE"), 10);
  const std::string table = ReportTable(r);
  EXPECT_TRUE(absl::StrContains(table, "50.0 req/s, 100.0 seq/s")) << table;
  EXPECT_TRUE(absl::StrContains(table, "UNAVAILABLE 10")) << table;
}

}  // namespace
}  // namespace loadgen
}  // namespace maskserve
