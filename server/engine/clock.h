// File: server/engine/clock.h
//
// The engine's source of "now", injected so that tests can control time:
// the batcher stamps enqueue times, times the queue delay and drops tasks
// past their deadline by it, and the training manager stamps job times and
// training durations by it. Waiting itself (a caller blocked in
// PredictTask::Wait, the batcher waiting for a batch to fill) is wall time.
//
//   const Clock& clock = Clock::Real();   // absl::Now()
//   FakeClock fake(absl::FromUnixSeconds(1000));
//   fake.Advance(absl::Seconds(5));
//
// Thread safety: Now() may be called from any thread; FakeClock's setters
// too.
#ifndef MASKSERVE_SERVER_ENGINE_CLOCK_H_
#define MASKSERVE_SERVER_ENGINE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace maskserve {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The wall clock (absl::Now()); lives for the whole program.
  static const Clock& Real();
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

inline const Clock& Clock::Real() {
  class RealClock final : public Clock {
   public:
    absl::Time Now() const override { return absl::Now(); }
  };
  static const RealClock* const clock = new RealClock();
  return *clock;
}

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_CLOCK_H_
