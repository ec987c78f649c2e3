#include "clients/maskctl/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/maskctl/format.h"
#include "proto/job_state.h"

namespace maskserve {
namespace maskctl {
namespace {

constexpr size_t kMinBar = 10;
constexpr size_t kMaxBar = 30;
// Plain mode: at most one line per this interval, new epochs included (a
// fast job of 300 epochs must not print 300 lines); state changes and the
// first epoch print at once.
constexpr absl::Duration kPlainInterval = absl::Seconds(1);
// Bar mode: at most one redraw per this interval within an epoch.
constexpr absl::Duration kBarInterval = absl::Milliseconds(100);

// Cuts `line` to at most `max` bytes, not inside a UTF-8 sequence.
std::string Truncate(std::string line, size_t max) {
  if (line.size() <= max) return line;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) --end;
  line.resize(end);
  return line;
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

// "7/120" with `done` padded to the width of `total` ("  7/120"), so that
// the fields after it keep their place while it counts up.
std::string Counter(uint64_t done, uint64_t total) {
  std::string text = absl::StrCat(done);
  const std::string total_text = absl::StrCat(total);
  if (text.size() < total_text.size()) text.insert(0, total_text.size() - text.size(), ' ');
  return absl::StrCat(text, "/", total_text);
}

std::string Bar(double fraction, size_t inner) {
  const size_t filled =
      std::min(inner, static_cast<size_t>(std::floor(fraction * static_cast<double>(inner))));
  return absl::StrCat("[", std::string(filled, '#'), std::string(inner - filled, '.'), "]");
}

}  // namespace

absl::StatusOr<ProgressMode> ParseProgressMode(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (lower == "auto" || lower.empty()) return ProgressMode::kAuto;
  if (lower == "bar") return ProgressMode::kBar;
  if (lower == "plain") return ProgressMode::kPlain;
  if (lower == "none") return ProgressMode::kNone;
  return absl::InvalidArgumentError(
      absl::StrCat("progress: expected auto, bar, plain or none, got '", name, "'"));
}

std::optional<double> JobFraction(const v1::TrainingJob& job) {
  if (job.state() == v1::SUCCEEDED) return 1.0;
  if (job.total_steps() > 0) {
    return std::min(1.0, static_cast<double>(job.step()) / static_cast<double>(job.total_steps()));
  }
  if (job.total_epochs() > 0) {
    const uint32_t done = job.epoch() > 0 ? job.epoch() - 1 : 0;
    return std::min(1.0, static_cast<double>(done) / static_cast<double>(job.total_epochs()));
  }
  return std::nullopt;
}

std::string FormatClock(absl::Duration duration) {
  int64_t seconds = absl::ToInt64Seconds(duration);
  if (seconds < 0 || duration == absl::InfiniteDuration()) seconds = 0;
  const int64_t hours = seconds / 3600;
  const int64_t minutes = seconds / 60 % 60;
  char text[48];
  if (hours > 0) {
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds % 60));
  } else {
    std::snprintf(text, sizeof(text), "%lld:%02lld", static_cast<long long>(minutes),
                  static_cast<long long>(seconds % 60));
  }
  return text;
}

std::string PlainProgressLine(const v1::TrainingJob& job, std::optional<absl::Duration> eta) {
  std::string line = JobProgressLine(job);
  if (job.state() == v1::RUNNING && eta) absl::StrAppend(&line, "  eta ", FormatClock(*eta));
  if (IsFinalJobState(job.state()) && IsSet(job.start_time()) && IsSet(job.end_time()) &&
      ToTime(job.end_time()) >= ToTime(job.start_time())) {
    absl::StrAppend(&line, "  took ",
                    FormatClock(ToTime(job.end_time()) - ToTime(job.start_time())));
  }
  return line;
}

std::string RenderProgressBar(const v1::TrainingJob& job, std::optional<absl::Duration> eta,
                              size_t width) {
  const size_t max = width > 1 ? width - 1 : 0;
  const std::optional<double> fraction = JobFraction(job);
  if (job.state() != v1::RUNNING || !fraction) {
    return Truncate(PlainProgressLine(job, std::nullopt), max);
  }
  // Fields before the bar, after it, and the one dropped first.
  std::vector<std::string> head = {v1::JobState_Name(job.state())};
  if (job.total_epochs() > 0) {
    head.push_back(absl::StrCat("epoch ", Counter(job.epoch(), job.total_epochs())));
  }
  if (job.total_steps() > 0) {
    head.push_back(absl::StrCat("step ", Counter(job.step(), job.total_steps())));
  }
  char percent[8];
  std::snprintf(percent, sizeof(percent), "%3d%%", static_cast<int>(std::floor(*fraction * 100)));
  std::vector<std::string> tail = {percent};
  if (job.step() > 0) tail.push_back(absl::StrCat("loss ", FormatFloat(job.train_loss())));
  std::string validation;
  if (job.validation().num_examples() > 0) {
    validation = absl::StrCat("val_acc ", FormatFloat(job.validation().accuracy()));
  }
  if (eta) tail.push_back(absl::StrCat("eta ", FormatClock(*eta)));

  for (bool with_validation : {true, false}) {
    if (!with_validation && validation.empty()) continue;
    std::vector<std::string> after = tail;
    if (with_validation && !validation.empty())
      after.insert(after.end() - (eta ? 1 : 0), validation);
    const std::string left = absl::StrJoin(head, "  ");
    const std::string right = absl::StrJoin(after, "  ");
    const size_t fixed = left.size() + right.size() + 4;  // two separators around the bar
    if (fixed + 2 + kMinBar <= max) {
      const size_t inner = std::min(kMaxBar, max - fixed - 2);
      return absl::StrCat(left, "  ", Bar(*fraction, inner), "  ", right);
    }
  }
  std::vector<std::string> all = head;
  all.insert(all.end(), tail.begin(), tail.end());
  return Truncate(absl::StrJoin(all, "  "), max);
}

void EtaEstimator::Observe(double fraction, absl::Time now,
                           std::optional<absl::Duration> server_elapsed) {
  if (fraction >= 1.0) {
    remaining_ = absl::ZeroDuration();
    return;
  }
  if (!has_first_) {
    has_first_ = true;
    first_fraction_ = fraction;
    first_time_ = now;
  } else if (fraction > first_fraction_ && now > first_time_) {
    remaining_ = (now - first_time_) * ((1.0 - fraction) / (fraction - first_fraction_));
    return;
  }
  // No rate of our own yet: the server's running time, if it is plausible.
  if (server_elapsed && fraction > 0 && *server_elapsed > absl::ZeroDuration() &&
      *server_elapsed < absl::Hours(24 * 30)) {
    remaining_ = *server_elapsed * ((1.0 - fraction) / fraction);
  }
}

ProgressPrinter::ProgressPrinter(std::ostream* out, ProgressMode mode, size_t width)
    : out_(out), mode_(mode == ProgressMode::kAuto ? ProgressMode::kPlain : mode), width_(width) {}

void ProgressPrinter::Update(const v1::TrainingJob& job, absl::Time now) {
  std::optional<absl::Duration> eta;
  if (job.state() == v1::RUNNING) {
    if (std::optional<double> fraction = JobFraction(job)) {
      std::optional<absl::Duration> server_elapsed;
      if (IsSet(job.start_time())) server_elapsed = now - ToTime(job.start_time());
      eta_.Observe(*fraction, now, server_elapsed);
      eta = eta_.Remaining();
    }
  }
  if (IsFinalJobState(job.state())) {
    if (bar_shown_) *out_ << "\r\033[K";
    *out_ << PlainProgressLine(job, std::nullopt) << "\n" << std::flush;
    bar_shown_ = false;
    printed_any_ = true;
    last_state_ = job.state();
    return;
  }
  switch (mode_) {
    case ProgressMode::kBar:
      if (!bar_shown_ || job.state() != last_state_ || job.epoch() != last_epoch_ ||
          now - last_print_time_ >= kBarInterval) {
        *out_ << "\r" << RenderProgressBar(job, eta, width_) << "\033[K" << std::flush;
        bar_shown_ = true;
        last_print_time_ = now;
      }
      break;
    case ProgressMode::kPlain: {
      const std::string line = JobProgressLine(job);
      const bool changed =
          !printed_any_ || job.state() != last_state_ || (printed_epoch_ == 0 && job.epoch() > 0);
      const bool due = line != last_line_ && now - last_print_time_ >= kPlainInterval;
      if (changed || due) {
        *out_ << PlainProgressLine(job, eta) << "\n" << std::flush;
        last_line_ = line;
        last_print_time_ = now;
        printed_any_ = true;
        printed_epoch_ = job.epoch();
      }
      break;
    }
    case ProgressMode::kNone:
    case ProgressMode::kAuto:
      break;
  }
  last_state_ = job.state();
  last_epoch_ = job.epoch();
}

void ProgressPrinter::Interrupt() {
  if (!bar_shown_) return;
  *out_ << "\r\033[K" << std::flush;
  bar_shown_ = false;
}

void ProgressPrinter::Abandon() {
  if (!bar_shown_) return;
  *out_ << "\n" << std::flush;
  bar_shown_ = false;
}

size_t TerminalColumns(int fd) {
  struct winsize size {};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    size_t columns = 0;
    if (absl::SimpleAtoi(env, &columns) && columns > 0) return columns;
  }
  return 80;
}

}  // namespace maskctl
}  // namespace maskserve
