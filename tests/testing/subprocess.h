// File: tests/testing/subprocess.h
//
// Test-only: runs an external program (promtool, prometheus) with stdin from
// a file and stdout+stderr into a file, waits for it with a bound, and makes
// sure it is gone when the Subprocess is destroyed (SIGTERM, then SIGKILL,
// then reaped). The child also gets SIGKILL if the test process dies.
// Plus small file helpers: a temporary directory removed on destruction.
#ifndef MASKSERVE_TESTS_TESTING_SUBPROCESS_H_
#define MASKSERVE_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace maskserve {
namespace testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`. stdin_path empty means /dev/null.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& stdin_path,
                                                           const std::string& output_path);

  // Stops the process (Stop) if it still runs.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // True while the process has not exited (reaps it when it has).
  bool Running();

  // Waits up to `timeout` for exit; the exit code (128+signal when killed),
  // or DeadlineExceeded with the process still running.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // SIGTERM, up to `grace` to exit, then SIGKILL; always reaps.
  void Stop(absl::Duration grace = absl::Seconds(5));

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  std::optional<int> exit_code_;
};

// The first executable `name` on $PATH (or the path in the environment
// variable `env_override` when set), or nullopt.
std::optional<std::string> FindExecutable(const std::string& name, const char* env_override);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::Status WriteFile(const std::string& path, const std::string& contents);
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace testing
}  // namespace maskserve

#endif  // MASKSERVE_TESTS_TESTING_SUBPROCESS_H_
