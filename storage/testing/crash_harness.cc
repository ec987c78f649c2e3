#include "storage/testing/crash_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/testing/crash_model.h"
#include "storage/testing/crash_workload.h"

namespace maskserve {
namespace {

// One writer process and the read end of its stdout.
struct Writer {
  pid_t pid = -1;
  int out = -1;
};

absl::StatusOr<Writer> Spawn(const CrashTestOptions& options, uint64_t seed) {
  std::vector<std::string> args = {
      options.writer_path,
      "--data_dir=" + options.data_dir,
      "--seed=" + std::to_string(seed),
      "--threads=" + std::to_string(options.threads),
      "--tenants=" + std::to_string(options.tenants),
      "--profiles=" + std::to_string(options.profiles),
  };
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(fds[1], STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fds[1]);
  return Writer{pid, fds[0]};
}

// Appends what is readable within `timeout_ms` (-1: until EOF) to `buffer`.
// Returns false at EOF.
bool ReadSome(int fd, int timeout_ms, std::string* buffer) {
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, timeout_ms);
  if (ready <= 0) return true;
  char chunk[8192];
  ssize_t n = ::read(fd, chunk, sizeof(chunk));
  if (n <= 0) return false;
  buffer->append(chunk, static_cast<size_t>(n));
  return true;
}

// Feeds the complete lines of `buffer` to the model and keeps the rest.
absl::Status TakeLines(std::string* buffer, bool* ready, CrashModel* model, CrashTestStats* stats) {
  size_t start = 0;
  for (size_t nl = buffer->find('\n'); nl != std::string::npos; nl = buffer->find('\n', start)) {
    std::string_view line(buffer->data() + start, nl - start);
    if (line == "READY") *ready = true;
    absl::Status applied = model->Apply(line, stats);
    if (!applied.ok()) return applied;
    start = nl + 1;
  }
  buffer->erase(0, start);
  return absl::OkStatus();
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return "ended";
}

}  // namespace

std::string CrashTestStats::Summary() const {
  return absl::StrCat(rounds, " rounds, ", kills, " SIGKILLs (", killed_before_ready,
                      " before the store opened), ", acked_writes(), " acknowledged writes (",
                      acked_publishes, " publishes, ", acked_deletes, " deletes, ", acked_jobs,
                      " job creations, ", acked_job_failures, " job failures), ", acked_checks,
                      " acknowledged-write checks, ", records_verified,
                      " records verified byte for byte, ", jobs_verified, " job checks");
}

absl::StatusOr<CrashTestStats> RunCrashTest(const CrashTestOptions& options) {
  if (::access(options.writer_path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("writer_path: cannot run ", options.writer_path));
  }
  CrashTestStats stats;
  CrashModel model(options.tenants, options.profiles);
  std::mt19937_64 rng(options.seed);
  const int64_t max_us = absl::ToInt64Microseconds(options.max_run);
  for (int round = 1; round <= options.rounds && absl::Now() < options.deadline; ++round) {
    // A quarter of the rounds kill in [0, 0.3 max_run] (process start, store
    // open and WAL recovery), the rest in [0.2 max_run, max_run] (under load).
    const bool early = rng() % 4 == 0;
    const int64_t low = early ? 0 : max_us / 5;
    const int64_t high = early ? max_us * 3 / 10 : max_us;
    const int64_t run_us =
        low + static_cast<int64_t>(rng() % static_cast<uint64_t>(high - low + 1));
    absl::StatusOr<Writer> writer = Spawn(options, options.seed * 100003 + round);
    if (!writer.ok()) return writer.status();
    const absl::Time deadline = absl::Now() + absl::Microseconds(run_us);
    std::string buffer;
    bool ready = false, alive = true;
    absl::Status status;
    while (status.ok() && alive) {
      const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left_ms <= 0) break;
      alive = ReadSome(writer->out, static_cast<int>(left_ms), &buffer);
      status = TakeLines(&buffer, &ready, &model, &stats);
    }
    if (alive) {
      ::kill(writer->pid, SIGKILL);
      ++stats.kills;
      if (!ready) ++stats.killed_before_ready;
    }
    int wait_status = 0;
    ::waitpid(writer->pid, &wait_status, 0);
    // Whatever the writer reported before it died is acknowledged.
    while (status.ok() && ReadSome(writer->out, -1, &buffer)) {
      status = TakeLines(&buffer, &ready, &model, &stats);
    }
    ::close(writer->out);
    if (!status.ok()) return status;
    if (!alive || !WIFSIGNALED(wait_status)) {
      return absl::InternalError(absl::StrCat("round ", round, ": the writer ",
                                              DescribeExit(wait_status),
                                              " before it was killed (see its stderr)"));
    }
    // Reopen in this process and check everything.
    absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store =
        RocksDbProfileStore::Open(crash_workload::StoreOptions(options.data_dir));
    if (!store.ok()) {
      return absl::InternalError(absl::StrCat(
          "round ", round, ": reopen after SIGKILL failed: ", store.status().ToString()));
    }
    status = model.Verify(**store, round, &stats);
    if (!status.ok()) return status;
    stats.rounds = round;
    if (options.log) {
      options.log(absl::StrCat("round ", round, ": killed after ", run_us / 1000, " ms",
                               ready ? "" : " (before ready)", "; ", stats.Summary()));
    }
  }
  return stats;
}

}  // namespace maskserve
