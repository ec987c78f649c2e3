#include "server/scrape_time_metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"

namespace maskserve {
namespace {

std::string Text(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

TEST(MetricsScrapeTimeTest, ValuesAreReadAtCollectTime) {
  std::atomic<int> depth{3};
  std::atomic<int> calls{0};
  ScrapeTimeMetrics metrics;
  ASSERT_TRUE(metrics
                  .AddGauge("maskserve_batch_queue_depth", "Requests waiting.",
                            {{"queue", "predict"}},
                            [&] {
                              ++calls;
                              return double(depth);
                            })
                  .ok());
  ASSERT_TRUE(metrics
                  .AddGauge("maskserve_batch_queue_depth", "Requests waiting.",
                            {{"queue", "train"}}, [] { return 1.0; })
                  .ok());
  ASSERT_TRUE(
      metrics.AddGauge("maskserve_profiles_resident", "Resident profiles.", {}, [] { return 7.5; })
          .ok());
  EXPECT_EQ(calls, 0);  // nothing is read before a scrape
  depth = 5;
  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_batch_queue_depth Requests waiting.\n"
            "# TYPE maskserve_batch_queue_depth gauge\n"
            "maskserve_batch_queue_depth{queue=\"predict\"} 5\n"
            "maskserve_batch_queue_depth{queue=\"train\"} 1\n"
            "# HELP maskserve_profiles_resident Resident profiles.\n"
            "# TYPE maskserve_profiles_resident gauge\n"
            "maskserve_profiles_resident 7.5\n");
  EXPECT_EQ(calls, 1);  // once per scrape
  depth = 11;
  const std::vector<prometheus::MetricFamily> families = metrics.Collect();
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].type, prometheus::MetricType::Gauge);
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[0].gauge.value, 11);
  ASSERT_EQ(families[0].metric[0].label.size(), 1u);
  EXPECT_EQ(families[0].metric[0].label[0].name, "queue");
  EXPECT_EQ(families[0].metric[0].label[0].value, "predict");
  EXPECT_EQ(families[0].metric[0].timestamp_ms, 0);  // no explicit timestamp
}

TEST(MetricsScrapeTimeTest, GaugeFamilyIsComputedAtEachScrape) {
  std::vector<ScrapeTimeMetrics::Sample> now = {{{{"tenant", "acme"}}, 2},
                                                {{{"tenant", "globex"}}, 1}};
  std::mutex mu;
  ScrapeTimeMetrics metrics;
  ASSERT_TRUE(metrics
                  .AddGaugeFamily("maskserve_training_jobs", "Training jobs by tenant.",
                                  [&] {
                                    std::lock_guard<std::mutex> lock(mu);
                                    return now;
                                  })
                  .ok());
  ASSERT_TRUE(metrics.AddGauge("maskserve_up", "Always one.", {}, [] { return 1.0; }).ok());
  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_training_jobs Training jobs by tenant.\n"
            "# TYPE maskserve_training_jobs gauge\n"
            "maskserve_training_jobs{tenant=\"acme\"} 2\n"
            "maskserve_training_jobs{tenant=\"globex\"} 1\n"
            "# HELP maskserve_up Always one.\n"
            "# TYPE maskserve_up gauge\n"
            "maskserve_up 1\n");

  // Series come and go between scrapes; NaN values and invalid label names
  // are dropped, the valid series stay.
  {
    std::lock_guard<std::mutex> lock(mu);
    now = {{{{"tenant", "initech"}, {"state", "running"}}, 4},
           {{{"tenant", "nan"}}, std::nan("")},
           {{{"bad-label", "x"}}, 9},
           {{{"__reserved", "x"}}, 9},
           {{{"", "x"}}, 9}};
  }
  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_training_jobs Training jobs by tenant.\n"
            "# TYPE maskserve_training_jobs gauge\n"
            "maskserve_training_jobs{state=\"running\",tenant=\"initech\"} 4\n"
            "# HELP maskserve_up Always one.\n"
            "# TYPE maskserve_up gauge\n"
            "maskserve_up 1\n");

  // An empty result leaves the family out (no HELP/TYPE without samples).
  {
    std::lock_guard<std::mutex> lock(mu);
    now.clear();
  }
  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_up Always one.\n"
            "# TYPE maskserve_up gauge\n"
            "maskserve_up 1\n");

  // So does a result whose every sample is dropped.
  {
    std::lock_guard<std::mutex> lock(mu);
    now = {{{{"bad label", "x"}}, 1}, {{}, std::nan("")}};
  }
  const std::vector<prometheus::MetricFamily> families = metrics.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "maskserve_up");
}

TEST(MetricsScrapeTimeTest, NanSkipsTheSample) {
  ScrapeTimeMetrics metrics;
  ASSERT_TRUE(metrics
                  .AddGauge("maskserve_device_memory_bytes", "Device memory.", {},
                            [] { return std::nan(""); })
                  .ok());
  EXPECT_TRUE(metrics.Collect().empty());

  std::atomic<bool> have_value{false};
  ASSERT_TRUE(metrics
                  .AddGauge("maskserve_queue_depth", "Depth.", {{"queue", "a"}},
                            [&] { return have_value ? 3.0 : std::nan(""); })
                  .ok());
  ASSERT_TRUE(
      metrics.AddGauge("maskserve_queue_depth", "Depth.", {{"queue", "b"}}, [] { return 4.0; })
          .ok());
  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_queue_depth Depth.\n"
            "# TYPE maskserve_queue_depth gauge\n"
            "maskserve_queue_depth{queue=\"b\"} 4\n");
  have_value = true;
  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_queue_depth Depth.\n"
            "# TYPE maskserve_queue_depth gauge\n"
            "maskserve_queue_depth{queue=\"a\"} 3\n"
            "maskserve_queue_depth{queue=\"b\"} 4\n");
}

TEST(MetricsScrapeTimeTest, RejectsInvalidOrDuplicateSeries) {
  ScrapeTimeMetrics metrics;
  auto one = [] { return 1.0; };
  auto none = [] { return std::vector<ScrapeTimeMetrics::Sample>(); };
  for (const char* bad : {"", "0maskserve", "maskserve-g", "maskserve g", "maskserve_é"}) {
    EXPECT_EQ(metrics.AddGauge(bad, "G.", {}, one).code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(metrics.AddGaugeFamily(bad, "G.", none).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  const absl::Status bad_label = metrics.AddGauge("maskserve_g", "G.", {{"bad-label", "x"}}, one);
  EXPECT_EQ(bad_label.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_label.message().find("bad-label"), absl::string_view::npos) << bad_label;
  EXPECT_EQ(metrics.AddGauge("maskserve_g", "G.", {{"__name__", "x"}}, one).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGauge("maskserve_g", "G.", {{"", "x"}}, one).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGauge("maskserve_g", "G.", {}, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGaugeFamily("maskserve_f", "F.", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  // None of the rejected calls left anything behind.
  EXPECT_TRUE(metrics.Collect().empty());

  ASSERT_TRUE(metrics.AddGauge("maskserve_g", "G.", {}, one).ok());
  EXPECT_EQ(metrics.AddGauge("maskserve_g", "G.", {}, one).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(metrics.AddGauge("maskserve_g", "Other help.", {{"a", "b"}}, one).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGaugeFamily("maskserve_g", "G.", none).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(metrics.AddGauge("maskserve_g", "G.", {{"a", "b"}}, one).ok());

  ASSERT_TRUE(metrics.AddGaugeFamily("maskserve_f", "F.", none).ok());
  EXPECT_EQ(metrics.AddGaugeFamily("maskserve_f", "F.", none).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.AddGauge("maskserve_f", "F.", {}, one).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(Text(metrics.Collect()),
            "# HELP maskserve_g G.\n"
            "# TYPE maskserve_g gauge\n"
            "maskserve_g 1\n"
            "maskserve_g{a=\"b\"} 1\n");
}

// The header promises callbacks run with no lock of the class held: one may
// call back into the same object without deadlocking.
TEST(MetricsScrapeTimeTest, CallbacksRunUnlocked) {
  auto metrics = std::make_shared<ScrapeTimeMetrics>();
  std::weak_ptr<ScrapeTimeMetrics> weak = metrics;
  ASSERT_TRUE(metrics
                  ->AddGauge("maskserve_reentrant", "Adds a gauge while being read.", {},
                             [weak] {
                               if (auto self = weak.lock()) {
                                 (void)self->AddGauge("maskserve_added_later", "Later.", {},
                                                      [] { return 2.0; });
                               }
                               return 1.0;
                             })
                  .ok());
  auto done = std::make_shared<std::promise<std::string>>();
  std::future<std::string> text = done->get_future();
  // Detached so that a deadlock fails the test instead of hanging it.
  std::thread([metrics, done] { done->set_value(Text(metrics->Collect())); }).detach();
  ASSERT_EQ(text.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "Collect deadlocked when a callback called AddGauge";
  EXPECT_EQ(text.get(),
            "# HELP maskserve_reentrant Adds a gauge while being read.\n"
            "# TYPE maskserve_reentrant gauge\n"
            "maskserve_reentrant 1\n");
  EXPECT_EQ(Text(metrics->Collect()),
            "# HELP maskserve_reentrant Adds a gauge while being read.\n"
            "# TYPE maskserve_reentrant gauge\n"
            "maskserve_reentrant 1\n"
            "# HELP maskserve_added_later Later.\n"
            "# TYPE maskserve_added_later gauge\n"
            "maskserve_added_later 2\n");
}

TEST(MetricsScrapeTimeTest, ConcurrentAddAndCollect) {
  ScrapeTimeMetrics metrics;
  constexpr int kGauges = 200;
  std::atomic<bool> adding{true};
  std::thread adder([&] {
    for (int i = 0; i < kGauges; ++i) {
      EXPECT_TRUE(metrics
                      .AddGauge("maskserve_concurrent", "C.", {{"i", absl::StrCat(i)}},
                                [i] { return double(i); })
                      .ok());
    }
    adding = false;
  });
  size_t last = 0;
  while (adding) {
    const std::vector<prometheus::MetricFamily> families = metrics.Collect();
    const size_t size = families.empty() ? 0 : families[0].metric.size();
    EXPECT_GE(size, last);  // series are only ever added
    last = size;
  }
  adder.join();
  const std::vector<prometheus::MetricFamily> families = metrics.Collect();
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].metric.size(), size_t{kGauges});
  for (int i = 0; i < kGauges; ++i) {
    EXPECT_EQ(families[0].metric[size_t(i)].gauge.value, i);  // in the order added
  }
}

}  // namespace
}  // namespace maskserve
