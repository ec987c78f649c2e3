#include "clients/maskctl/progress.h"

#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace maskserve {
namespace maskctl {
namespace {

v1::TrainingJob Running(uint32_t epoch, uint32_t total_epochs, uint64_t step, uint64_t total_steps,
                        float loss) {
  v1::TrainingJob job;
  job.set_state(v1::RUNNING);
  job.set_epoch(epoch);
  job.set_total_epochs(total_epochs);
  job.set_step(step);
  job.set_total_steps(total_steps);
  job.set_train_loss(loss);
  return job;
}

TEST(ParseProgressModeTest, ParsesNames) {
  EXPECT_EQ(*ParseProgressMode("auto"), ProgressMode::kAuto);
  EXPECT_EQ(*ParseProgressMode("BAR"), ProgressMode::kBar);
  EXPECT_EQ(*ParseProgressMode("plain"), ProgressMode::kPlain);
  EXPECT_EQ(*ParseProgressMode("none"), ProgressMode::kNone);
  absl::StatusOr<ProgressMode> bad = ParseProgressMode("fancy");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "progress: expected auto, bar, plain"));
}

TEST(JobFractionTest, StepsThenEpochs) {
  EXPECT_DOUBLE_EQ(*JobFraction(Running(2, 5, 130, 325, 0)), 0.4);
  v1::TrainingJob epochs_only = Running(3, 4, 0, 0, 0);
  EXPECT_DOUBLE_EQ(*JobFraction(epochs_only), 0.5);  // two of four epochs done
  v1::TrainingJob queued;
  queued.set_state(v1::QUEUED);
  EXPECT_FALSE(JobFraction(queued).has_value());
  queued.set_state(v1::SUCCEEDED);  // early stopping: done even below total_steps
  EXPECT_DOUBLE_EQ(*JobFraction(queued), 1.0);
}

TEST(FormatClockTest, MinutesAndHours) {
  EXPECT_EQ(FormatClock(absl::Seconds(42.9)), "0:42");
  EXPECT_EQ(FormatClock(absl::Seconds(725)), "12:05");
  EXPECT_EQ(FormatClock(absl::Seconds(3723)), "1:02:03");
  EXPECT_EQ(FormatClock(absl::Seconds(-5)), "0:00");
}

TEST(RenderProgressBarTest, FillsTheWidth) {
  const v1::TrainingJob job = Running(2, 5, 130, 325, 0.412f);
  // 80 columns: the bar takes what the other fields leave of 79.
  const std::string line = RenderProgressBar(job, absl::Seconds(42), 80);
  EXPECT_EQ(line,
            "RUNNING  epoch 2/5  step 130/325  [#####.........]   40%  loss 0.4120  eta 0:42");
  EXPECT_EQ(line.size(), 79u);
  // Wide: at most 30 characters of bar.
  EXPECT_EQ(RenderProgressBar(job, absl::Seconds(42), 200),
            "RUNNING  epoch 2/5  step 130/325  [############..................]   40%  "
            "loss 0.4120  eta 0:42");
  // No room for a bar of 10: none.
  EXPECT_EQ(RenderProgressBar(job, absl::Seconds(42), 72),
            "RUNNING  epoch 2/5  step 130/325   40%  loss 0.4120  eta 0:42");
}

TEST(RenderProgressBarTest, DropsValidationThenTheBarWhenNarrow) {
  v1::TrainingJob job = Running(2, 5, 130, 325, 0.412f);
  job.mutable_validation()->set_num_examples(10);
  job.mutable_validation()->set_accuracy(0.75f);
  const std::string wide = RenderProgressBar(job, std::nullopt, 120);
  EXPECT_TRUE(absl::StrContains(wide, "  loss 0.4120  val_acc 0.7500")) << wide;
  EXPECT_TRUE(absl::StrContains(wide, "[#")) << wide;
  const std::string medium = RenderProgressBar(job, std::nullopt, 70);
  EXPECT_FALSE(absl::StrContains(medium, "val_acc")) << medium;
  EXPECT_TRUE(absl::StrContains(medium, "[#")) << medium;
  const std::string narrow = RenderProgressBar(job, std::nullopt, 60);
  EXPECT_FALSE(absl::StrContains(narrow, "[")) << narrow;
  EXPECT_EQ(narrow, "RUNNING  epoch 2/5  step 130/325   40%  loss 0.4120");
  const std::string tiny = RenderProgressBar(job, std::nullopt, 20);
  EXPECT_EQ(tiny, "RUNNING  epoch 2/5 ");
}

TEST(RenderProgressBarTest, NotRunningShowsThePlainLine) {
  v1::TrainingJob job;
  job.set_state(v1::QUEUED);
  EXPECT_EQ(RenderProgressBar(job, absl::Seconds(3), 80), "QUEUED");
  // Running before the first step: no loss yet, 0%; the counters are padded
  // to the width of their totals, so that the line does not shift.
  EXPECT_EQ(RenderProgressBar(Running(0, 2, 0, 10, 0), std::nullopt, 60),
            "RUNNING  epoch 0/2  step  0/10  [...................]    0%");
}

TEST(PlainProgressLineTest, AddsEtaWhileRunningAndDurationAtTheEnd) {
  v1::TrainingJob job = Running(1, 2, 1, 2, 0.5f);
  EXPECT_EQ(PlainProgressLine(job, absl::Seconds(75)),
            "RUNNING  epoch 1/2  step 1/2  loss 0.5000  eta 1:15");
  EXPECT_EQ(PlainProgressLine(job, std::nullopt), "RUNNING  epoch 1/2  step 1/2  loss 0.5000");
  job.set_state(v1::SUCCEEDED);
  job.set_published_version(3);
  job.mutable_start_time()->set_seconds(1000);
  job.mutable_end_time()->set_seconds(1065);
  EXPECT_EQ(PlainProgressLine(job, absl::Seconds(75)),
            "SUCCEEDED  epoch 1/2  step 1/2  loss 0.5000  version 3  took 1:05");
}

TEST(EtaEstimatorTest, RateFromObservations) {
  EtaEstimator eta;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  eta.Observe(0.1, t0);
  EXPECT_FALSE(eta.Remaining().has_value());
  eta.Observe(0.3, t0 + absl::Seconds(10));  // 0.2 in 10 s: 0.7 left takes 35 s
  ASSERT_TRUE(eta.Remaining().has_value());
  EXPECT_EQ(*eta.Remaining(), absl::Seconds(35));
  eta.Observe(1.0, t0 + absl::Seconds(40));
  EXPECT_EQ(*eta.Remaining(), absl::ZeroDuration());
}

TEST(EtaEstimatorTest, ServerElapsedUntilThereIsARate) {
  EtaEstimator eta;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  eta.Observe(0.25, t0, absl::Seconds(30));  // a quarter in 30 s: 90 s left
  EXPECT_EQ(*eta.Remaining(), absl::Seconds(90));
  EtaEstimator skewed;
  skewed.Observe(0.25, t0, absl::Seconds(-30));  // a clock behind: no guess
  EXPECT_FALSE(skewed.Remaining().has_value());
}

TEST(ProgressPrinterTest, BarRedrawsInPlaceAndKeepsTheFinalLine) {
  std::ostringstream out;
  ProgressPrinter printer(&out, ProgressMode::kBar, 100);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  printer.Update(Running(1, 2, 0, 4, 0), t0);
  printer.Update(Running(1, 2, 1, 4, 0.7f), t0 + absl::Seconds(1));
  v1::TrainingJob done = Running(2, 2, 4, 4, 0.2f);
  done.set_state(v1::SUCCEEDED);
  done.set_published_version(1);
  printer.Update(done, t0 + absl::Seconds(4));
  const std::string text = out.str();
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;  // one line in all
  EXPECT_TRUE(absl::StartsWith(text, "\rRUNNING  epoch 1/2  step 0/4  [")) << text;
  // 1 of 4 steps in 1 s after 0: 3 s left.
  EXPECT_TRUE(absl::StrContains(text, "\rRUNNING  epoch 1/2  step 1/4  [")) << text;
  EXPECT_TRUE(absl::StrContains(text, "loss 0.7000  eta 0:03\033[K")) << text;
  EXPECT_TRUE(absl::EndsWith(text,
                             "\r\033[KSUCCEEDED  epoch 2/2  step 4/4  loss 0.2000  "
                             "version 1\n"))
      << text;
}

TEST(ProgressPrinterTest, PlainPrintsChangesAtAModestRate) {
  std::ostringstream out;
  ProgressPrinter printer(&out, ProgressMode::kPlain, 80);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  v1::TrainingJob queued;
  queued.set_state(v1::QUEUED);
  printer.Update(queued, t0);
  printer.Update(Running(1, 2, 0, 100, 0), t0 + absl::Milliseconds(10));
  // Steps 1..49 within one second of the last line: none printed.
  for (int step = 1; step < 50; ++step) {
    printer.Update(Running(1, 2, step, 100, 0.5f), t0 + absl::Milliseconds(10 + step * 10));
  }
  // A second later: printed.
  printer.Update(Running(1, 2, 50, 100, 0.5f), t0 + absl::Milliseconds(1100));
  // A new epoch within the second: not printed either (a fast job of many
  // epochs must not print a line per epoch)...
  printer.Update(Running(2, 2, 51, 100, 0.4f), t0 + absl::Milliseconds(1120));
  // ...but once the second has passed.
  printer.Update(Running(2, 2, 52, 100, 0.4f), t0 + absl::Milliseconds(2130));
  v1::TrainingJob failed = Running(2, 2, 52, 100, 0.4f);
  failed.set_state(v1::FAILED);
  failed.set_error("boom");
  // A state change: printed at once.
  printer.Update(failed, t0 + absl::Milliseconds(2140));
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << out.str();
  EXPECT_EQ(lines[0], "QUEUED");
  EXPECT_EQ(lines[1], "RUNNING  epoch 1/2  step 0/100  loss 0.0000");
  EXPECT_TRUE(absl::StartsWith(lines[2], "RUNNING  epoch 1/2  step 50/100  loss 0.5000  eta "))
      << lines[2];
  EXPECT_TRUE(absl::StartsWith(lines[3], "RUNNING  epoch 2/2  step 52/100  loss 0.4000  eta "))
      << lines[3];
  EXPECT_EQ(lines[4], "FAILED  epoch 2/2  step 52/100  loss 0.4000  error: boom");
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(ProgressPrinterTest, BarRedrawsAtMostTenTimesASecondWithinAnEpoch) {
  std::ostringstream out;
  ProgressPrinter printer(&out, ProgressMode::kBar, 100);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  printer.Update(Running(1, 2, 1, 100, 0.5f), t0);
  printer.Update(Running(1, 2, 2, 100, 0.5f), t0 + absl::Milliseconds(50));   // too soon
  printer.Update(Running(2, 2, 51, 100, 0.5f), t0 + absl::Milliseconds(60));  // new epoch
  printer.Update(Running(2, 2, 52, 100, 0.5f), t0 + absl::Milliseconds(170));
  const std::string text = out.str();
  EXPECT_FALSE(absl::StrContains(text, "step   2/100")) << text;
  EXPECT_TRUE(absl::StrContains(text, "step  51/100")) << text;
  EXPECT_TRUE(absl::StrContains(text, "step  52/100")) << text;
}

TEST(ProgressPrinterTest, NonePrintsOnlyTheFinalLine) {
  std::ostringstream out;
  ProgressPrinter printer(&out, ProgressMode::kNone, 80);
  printer.Update(Running(1, 1, 1, 2, 0.5f), absl::FromUnixSeconds(1));
  v1::TrainingJob cancelled;
  cancelled.set_state(v1::CANCELLED);
  printer.Update(cancelled, absl::FromUnixSeconds(2));
  EXPECT_EQ(out.str(), "CANCELLED\n");
}

TEST(ProgressPrinterTest, InterruptClearsAndAbandonEndsTheBar) {
  std::ostringstream out;
  ProgressPrinter printer(&out, ProgressMode::kBar, 60);
  printer.Interrupt();  // nothing shown yet: nothing to clear
  EXPECT_EQ(out.str(), "");
  printer.Update(Running(1, 1, 1, 2, 0.5f), absl::FromUnixSeconds(1));
  printer.Interrupt();
  EXPECT_TRUE(absl::EndsWith(out.str(), "\033[K\r\033[K")) << out.str();
  printer.Update(Running(1, 1, 1, 2, 0.5f), absl::FromUnixSeconds(2));
  printer.Abandon();
  EXPECT_TRUE(absl::EndsWith(out.str(), "\033[K\n")) << out.str();
}

}  // namespace
}  // namespace maskctl
}  // namespace maskserve
