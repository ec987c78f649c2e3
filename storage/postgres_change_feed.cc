#include "storage/postgres_change_feed.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "storage/postgres_schema.h"

namespace maskserve {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
// The backend of the feed shows under this name in pg_stat_activity.
constexpr char kApplicationName[] = "maskserve change feed";

std::string ConnectionError(PGconn* conn) {
  return std::string(absl::StripTrailingAsciiWhitespace(conn ? PQerrorMessage(conn) : "no memory"));
}

}  // namespace

// Early returns of the Session methods below (a wait or a send that failed).
#define MASKSERVE_FEED_RETURN(expr)    \
  do {                                 \
    absl::Status status_ = (expr);     \
    if (!status_.ok()) return status_; \
  } while (false)
#define MASKSERVE_FEED_WAIT(expr, what)                                                \
  do {                                                                                 \
    const WaitResult waited_ = (expr);                                                 \
    if (waited_ == WaitResult::kStopped) return absl::CancelledError("feed stopping"); \
    if (waited_ == WaitResult::kTimeout) {                                             \
      return absl::UnavailableError(absl::StrCat("change feed: timed out ", what));    \
    }                                                                                  \
    if (waited_ == WaitResult::kError) return Lost(what);                              \
  } while (false)

// One connection, from connecting to losing it.
class PostgresChangeFeed::Session {
 public:
  enum class WaitResult { kReady, kTimeout, kStopped, kError };

  explicit Session(PostgresChangeFeed* feed) : feed_(feed) {}
  ~Session() {
    if (conn_ != nullptr) PQfinish(conn_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  absl::Status Connect(absl::Time deadline) {
    const char* keys[] = {"dbname", "application_name", nullptr};
    const char* values[] = {feed_->options_.url.c_str(), kApplicationName, nullptr};
    conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) return Lost("cannot connect");
    PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
    while (polling != PGRES_POLLING_OK) {
      if (polling == PGRES_POLLING_FAILED) return Lost("cannot connect");
      MASKSERVE_FEED_WAIT(Wait(polling == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline),
                          "connecting");
      polling = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0) return Lost("cannot make the connection non-blocking");
    return absl::OkStatus();
  }

  // Sends `sql` and waits for all its results (OK when every one is).
  absl::Status Query(const char* sql, absl::Time deadline) {
    MASKSERVE_FEED_RETURN(Send(sql, deadline));
    for (;;) {
      while (!PQisBusy(conn_)) {
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) return absl::OkStatus();
        const ExecStatusType status = PQresultStatus(result);
        std::string error = PQresultErrorMessage(result);
        PQclear(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
          return absl::UnavailableError(absl::StrCat(
              "change feed: ", sql, " failed: ", absl::StripTrailingAsciiWhitespace(error)));
        }
      }
      MASKSERVE_FEED_WAIT(Wait(POLLIN, deadline), sql);
      if (PQconsumeInput(conn_) == 0) return Lost(sql);
    }
  }

  // Delivers notifications until the connection is lost or the feed stops.
  absl::Status Listen() {
    const Options& options = feed_->options_;
    absl::Time last_traffic = absl::Now();
    std::optional<absl::Time> heartbeat_sent;
    for (;;) {
      Deliver();
      if (feed_->stopping_.load()) return absl::OkStatus();
      const absl::Time deadline = heartbeat_sent.has_value()
                                      ? *heartbeat_sent + options.heartbeat_timeout
                                      : last_traffic + options.heartbeat_interval;
      const WaitResult waited = Wait(POLLIN, deadline);
      if (waited == WaitResult::kStopped) return absl::OkStatus();
      if (waited == WaitResult::kError) return Lost("waiting for notifications");
      if (waited == WaitResult::kTimeout) {
        if (heartbeat_sent.has_value()) {
          return absl::UnavailableError(
              absl::StrCat("change feed: the database did not answer a heartbeat within ",
                           absl::FormatDuration(options.heartbeat_timeout), "; reconnecting"));
        }
        MASKSERVE_FEED_RETURN(Send("SELECT 1", absl::Now() + options.heartbeat_timeout));
        heartbeat_sent = absl::Now();
        continue;
      }
      if (PQconsumeInput(conn_) == 0) return Lost("reading notifications");
      last_traffic = absl::Now();
      while (heartbeat_sent.has_value() && !PQisBusy(conn_)) {
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) {
          heartbeat_sent.reset();
          break;
        }
        const ExecStatusType status = PQresultStatus(result);
        PQclear(result);
        if (status != PGRES_TUPLES_OK) return Lost("heartbeat");
      }
    }
  }

 private:
  absl::Status Send(const char* sql, absl::Time deadline) {
    if (PQsendQuery(conn_, sql) == 0) return Lost(sql);
    for (;;) {
      const int flushed = PQflush(conn_);
      if (flushed == 0) return absl::OkStatus();
      if (flushed < 0) return Lost(sql);
      MASKSERVE_FEED_WAIT(Wait(POLLOUT | POLLIN, deadline), sql);
      if (PQconsumeInput(conn_) == 0) return Lost(sql);
    }
  }

  // Polls the connection's socket for `events` and the wake pipe.
  WaitResult Wait(short events, absl::Time deadline) {
    for (;;) {
      if (feed_->stopping_.load()) return WaitResult::kStopped;
      pollfd fds[2] = {{PQsocket(conn_), events, 0}, {feed_->wake_fds_[0], POLLIN, 0}};
      if (fds[0].fd < 0) return WaitResult::kError;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return WaitResult::kTimeout;
      const int ms = static_cast<int>(
          std::min<int64_t>(absl::ToInt64Milliseconds(left + absl::Milliseconds(1)), 60000));
      const int n = poll(fds, 2, ms);
      if (n < 0) {
        if (errno == EINTR) continue;
        return WaitResult::kError;
      }
      if (fds[1].revents != 0) return WaitResult::kStopped;
      if (fds[0].revents != 0) return WaitResult::kReady;
    }
  }

  void Deliver() {
    while (PGnotify* notify = PQnotifies(conn_)) {
      absl::StatusOr<ProfileChange> change =
          DecodeProfileChange(notify->extra != nullptr ? notify->extra : "");
      PQfreemem(notify);
      // A payload this build does not read (a newer writer) is skipped; the
      // newer writer's changes are then served after eviction or a restart.
      if (change.ok()) feed_->subscriber_->OnProfileChanged(*change);
    }
  }

  absl::Status Lost(const char* what) {
    return absl::UnavailableError(
        absl::StrCat("change feed: ", what, ": ", ConnectionError(conn_)));
  }
#undef MASKSERVE_FEED_RETURN
#undef MASKSERVE_FEED_WAIT

  PostgresChangeFeed* const feed_;
  PGconn* conn_ = nullptr;
};

PostgresChangeFeed::PostgresChangeFeed(Options options, ProfileChangeSubscriber* subscriber)
    : options_(std::move(options)), subscriber_(subscriber) {
  if (pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_fds_[0] = wake_fds_[1] = -1;
  }
  thread_ = std::thread([this] { Run(); });
}

PostgresChangeFeed::~PostgresChangeFeed() {
  stopping_.store(true);
  if (wake_fds_[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] ssize_t written = write(wake_fds_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : wake_fds_) {
    if (fd >= 0) close(fd);
  }
}

void PostgresChangeFeed::Run() {
  absl::Duration backoff = kFirstBackoff;
  while (!stopping_.load()) {
    const absl::Status lost = RunSession();
    const bool was_connected = connected_.exchange(false);
    if (stopping_.load()) break;
    if (was_connected) {
      subscriber_->OnChangesInterrupted(lost);
      backoff = kFirstBackoff;
    }
    if (!SleepUnlessStopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.max_reconnect_backoff);
  }
}

absl::Status PostgresChangeFeed::RunSession() {
  Session session(this);
  const absl::Time deadline = absl::Now() + options_.connect_timeout;
  absl::Status status = session.Connect(deadline);
  if (status.ok()) {
    status = session.Query(
        absl::StrCat("LISTEN ", postgres_internal::kProfileChangesChannel).c_str(), deadline);
  }
  if (status.ok()) status = subscriber_->OnChangesResumed();
  if (!status.ok()) return status;
  connected_.store(true);
  return session.Listen();
}

bool PostgresChangeFeed::SleepUnlessStopped(absl::Duration duration) {
  if (stopping_.load()) return false;
  pollfd fd{wake_fds_[0], POLLIN, 0};
  if (fd.fd < 0) {
    absl::SleepFor(duration);
  } else {
    poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(duration)));
  }
  return !stopping_.load();
}

}  // namespace maskserve
