// File: storage/testing/crash_harness.h
//
// The real crash test of the store: a writer process (store_crash_writer,
// storage/testing/crash_writer_main.cc) publishes, deletes and trains
// profiles from several threads and reports each acknowledged operation over
// a pipe; this harness SIGKILLs it at a random moment (sometimes while it is
// still opening and recovering the store), reopens the store itself, and
// checks:
//   - every acknowledged write is present: each profile is at or after its
//     last acknowledged version (a delete is after the publish it deletes);
//   - nothing is torn: every record passes its checksum and holds exactly
//     the bytes the workload derives from (tenant, id, version);
//   - versions never go backwards from one reopen to the next;
//   - a profile version published with a job has that job SUCCEEDED with
//     the same published_version, and vice versa (one atomic batch);
//   - acknowledged jobs exist; unfinished ones keep their examples and are
//     listed for re-queueing, finished ones have dropped them;
//   - per-tenant counters equal the live profiles listed.
// Then it starts the next writer on the same directory, for `rounds` rounds.
//
//   CrashTestOptions options;
//   options.writer_path = "build/storage/store_crash_writer";
//   options.data_dir = dir.path();
//   absl::StatusOr<CrashTestStats> stats = RunCrashTest(options);
//
// Thread safety: one call at a time per data_dir.
#ifndef MASKSERVE_STORAGE_TESTING_CRASH_HARNESS_H_
#define MASKSERVE_STORAGE_TESTING_CRASH_HARNESS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace maskserve {

struct CrashTestOptions {
  // The store_crash_writer binary.
  std::string writer_path;
  // The store directory (created by the first writer).
  std::string data_dir;
  int rounds = 20;
  // Each writer is killed after a random time in [0.2, 1] x max_run; a
  // quarter of the rounds use [0, 0.3] x max_run instead to hit process
  // start, store open and WAL recovery (opening takes ~200 ms here).
  absl::Duration max_run = absl::Milliseconds(800);
  int threads = 4;
  int tenants = 3;
  int profiles = 40;
  uint64_t seed = 1;
  // No round starts after this (the soak's time budget).
  absl::Time deadline = absl::InfiniteFuture();
  // Optional progress line per round.
  std::function<void(const std::string&)> log;
};

struct CrashTestStats {
  int rounds = 0;
  int kills = 0;                // SIGKILLs delivered to a live writer
  int killed_before_ready = 0;  // ... of which before the store had opened
  uint64_t acked_publishes = 0;
  uint64_t acked_deletes = 0;
  uint64_t acked_jobs = 0;
  uint64_t acked_job_failures = 0;
  // Acknowledged operations re-checked after each reopen, summed over rounds.
  uint64_t acked_checks = 0;
  // Live records read back and compared byte for byte, summed over rounds.
  uint64_t records_verified = 0;
  uint64_t jobs_verified = 0;

  uint64_t acked_writes() const {
    return acked_publishes + acked_deletes + acked_jobs + acked_job_failures;
  }
  std::string Summary() const;
};

// Runs the rounds; the first violated check is returned as an error naming
// the round, the key and what was expected.
absl::StatusOr<CrashTestStats> RunCrashTest(const CrashTestOptions& options);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_CRASH_HARNESS_H_
