// File: clients/maskctl/progress.h
//
// How `maskctl train --wait` and `maskctl watch` show a training job's
// progress on stdout:
//
// - bar (a terminal): one line redrawn in place ("\r", then the line, then
//   "\033[K" to clear what is left of the old one), e.g.
//     RUNNING  epoch 2/5  step 130/325  [######.........]  40%  loss 0.4120  eta 0:42
//   cut down to the terminal's width, redrawn at most ten times a second
//   within an epoch; the final state's line is kept.
// - plain (a pipe or a file): the JobProgressLine (format.h), plus
//   "  eta M:SS" while running, one line per state or epoch change and at
//   most one a second in between; the final line always, plus
//   "  took M:SS" when the server reported the start and end times.
// - none: only the final line.
//
// The ETA comes from what the watch saw: the time since the first running
// update over the fraction of steps done since then (or, before two
// updates, the time since the server's start_time). The server sends no
// ETA of its own.
//
// Thread safety: the free functions are pure; a ProgressPrinter is used by
// one thread.
#ifndef MASKSERVE_CLIENTS_MASKCTL_PROGRESS_H_
#define MASKSERVE_CLIENTS_MASKCTL_PROGRESS_H_

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "maskserve/v1/maskserve.pb.h"

namespace maskserve {
namespace maskctl {

// --progress: kAuto is kBar when stdout is a terminal, else kPlain.
enum class ProgressMode { kAuto, kBar, kPlain, kNone };

// "auto", "bar", "plain" or "none" (case-insensitive).
absl::StatusOr<ProgressMode> ParseProgressMode(absl::string_view name);

// The fraction of the job done, in [0, 1]: step / total_steps, or, without a
// step count, (epoch - 1) / total_epochs; nullopt when neither is known.
// A SUCCEEDED job is 1.
std::optional<double> JobFraction(const v1::TrainingJob& job);

// "0:42", "12:05", "1:02:03" (rounded down to seconds; negative -> 0:00).
std::string FormatClock(absl::Duration duration);

// The bar-mode line of `job` for a terminal `width` columns wide (at most
// width - 1 characters, so that it never wraps). The bar takes the room
// left by the other fields (10 to 30 characters); with too little room the
// validation accuracy goes first, then the bar. `eta` is shown when set and
// the job is running. Not running: the plain line, cut to the width.
std::string RenderProgressBar(const v1::TrainingJob& job, std::optional<absl::Duration> eta,
                              size_t width);

// The plain-mode line of `job`: JobProgressLine plus "  eta M:SS" (running,
// `eta` set) or "  took M:SS" (final, start and end times set).
std::string PlainProgressLine(const v1::TrainingJob& job, std::optional<absl::Duration> eta);

// Estimates the time left from (fraction, time) observations.
class EtaEstimator {
 public:
  // Records that `fraction` of the job was done at `now` (as seen by the
  // client). `server_elapsed` is the job's running time by the server's
  // clocks, when known (used until two observations differ).
  void Observe(double fraction, absl::Time now,
               std::optional<absl::Duration> server_elapsed = std::nullopt);
  // The time left after the last observation; nullopt until there is a rate.
  std::optional<absl::Duration> Remaining() const { return remaining_; }

 private:
  bool has_first_ = false;
  double first_fraction_ = 0;
  absl::Time first_time_;
  std::optional<absl::Duration> remaining_;
};

// Prints a job's progress in one mode (never kAuto) to `out`.
class ProgressPrinter {
 public:
  // `width`: terminal columns for kBar.
  ProgressPrinter(std::ostream* out, ProgressMode mode, size_t width);

  // Shows `job` as seen at `now`; a final state ends the display (its line
  // is printed in every mode and ends with a newline).
  void Update(const v1::TrainingJob& job, absl::Time now);
  // Clears a bar about to be interrupted by a message on another stream
  // (it is redrawn by the next Update).
  void Interrupt();
  // Ends an unfinished bar line (the watch gave up).
  void Abandon();

 private:
  std::ostream* const out_;
  const ProgressMode mode_;
  const size_t width_;
  EtaEstimator eta_;
  bool bar_shown_ = false;
  bool printed_any_ = false;
  v1::JobState last_state_ = v1::JOB_STATE_UNSPECIFIED;
  uint32_t last_epoch_ = 0;
  uint32_t printed_epoch_ = 0;  // plain mode: the epoch of the last line printed
  std::string last_line_;       // JobProgressLine of the last plain line
  absl::Time last_print_time_;
};

// The columns of the terminal on file descriptor `fd` (ioctl), else of
// $COLUMNS, else 80.
size_t TerminalColumns(int fd);

}  // namespace maskctl
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_MASKCTL_PROGRESS_H_
