// File: storage/postgres_change_feed.h
//
// PostgresChangeFeed: the ProfileChangeFeed (storage/profile_changes.h) of
// the PostgreSQL store. PostgresProfileStore NOTIFYs channel
// kProfileChangesChannel in the transaction of every publication and
// deletion, so PostgreSQL delivers the change to every listener when (and
// only if) it commits. This feed is one such listener: a thread holding a
// dedicated libpq connection that LISTENs and hands each notification to the
// subscriber.
//
// - Connecting: LISTEN first, then OnChangesResumed (the subscriber
//   revalidates against the database), so that a change committed during
//   the revalidation is not lost: it is either visible to it or notified
//   after it.
// - Losing it: a broken connection, an error, or a heartbeat ("SELECT 1",
//   sent after `heartbeat_interval` without traffic) unanswered for
//   `heartbeat_timeout` (a silent network partition) is an interruption:
//   OnChangesInterrupted, then reconnection with backoff (100 ms doubling up
//   to `max_reconnect_backoff`) until it works again.
// - Stopping: the destructor wakes the thread and joins it.
//
//   PostgresChangeFeed::Options options;
//   options.url = "postgresql://maskserve@db/maskserve";
//   auto feed = std::make_unique<PostgresChangeFeed>(options, &subscriber);
//
// Thread safety: thread-safe; the subscriber is called on the feed's thread.
#ifndef MASKSERVE_STORAGE_POSTGRES_CHANGE_FEED_H_
#define MASKSERVE_STORAGE_POSTGRES_CHANGE_FEED_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/profile_changes.h"

namespace maskserve {

class PostgresChangeFeed : public ProfileChangeFeed {
 public:
  struct Options {
    // libpq connection URI of the store's database. Required.
    std::string url;
    absl::Duration connect_timeout = absl::Seconds(5);
    absl::Duration heartbeat_interval = absl::Seconds(1);
    absl::Duration heartbeat_timeout = absl::Seconds(3);
    absl::Duration max_reconnect_backoff = absl::Seconds(2);
  };

  // Starts the thread; `subscriber` must outlive the feed.
  PostgresChangeFeed(Options options, ProfileChangeSubscriber* subscriber);
  ~PostgresChangeFeed() override;
  PostgresChangeFeed(const PostgresChangeFeed&) = delete;
  PostgresChangeFeed& operator=(const PostgresChangeFeed&) = delete;

  bool connected() const override { return connected_.load(); }

 private:
  class Session;

  void Run();
  // Connects, listens, resumes the subscriber and delivers notifications
  // until the connection is lost (its reason) or the feed stops (OK).
  absl::Status RunSession();
  // Sleeps up to `duration`; false when woken to stop.
  bool SleepUnlessStopped(absl::Duration duration);

  const Options options_;
  ProfileChangeSubscriber* const subscriber_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  int wake_fds_[2] = {-1, -1};  // a pipe: the destructor writes to wake poll()
  std::thread thread_;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_POSTGRES_CHANGE_FEED_H_
