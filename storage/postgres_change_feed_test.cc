// PostgresChangeFeed on a throwaway PostgreSQL server: every committed
// publication, import and deletion made through any store on the database is
// delivered, in order, and nothing that rolled back; a lost connection is an
// interruption followed by a resumption; a failed resumption is retried; the
// feed stops promptly, connected or not. Skipped with a message when the
// PostgreSQL server binaries are absent.
#include "storage/postgres_change_feed.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/postgres_profile_store.h"
#include "storage/testing/postgres_server.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

using absl::StatusCode;

// Records what the feed calls, as text ("resumed", "interrupted",
// "p alice 1", "d alice 2").
class RecordingSubscriber : public ProfileChangeSubscriber {
 public:
  void OnProfileChanged(const ProfileChange& change) override {
    Add(absl::StrCat(change.deleted ? "d " : "p ", change.profile_id, " ", change.version));
  }
  void OnChangesInterrupted(const absl::Status&) override { Add("interrupted"); }
  absl::Status OnChangesResumed() override {
    absl::Status result;
    {
      absl::MutexLock lock(&mu_);
      if (failures_to_give_ > 0) {
        --failures_to_give_;
        result = absl::UnavailableError("revalidation failed");
      }
    }
    Add(result.ok() ? "resumed" : "resume failed");
    return result;
  }

  void FailNextResumes(int n) {
    absl::MutexLock lock(&mu_);
    failures_to_give_ = n;
  }
  // Waits until `count` events are recorded; returns them all.
  std::vector<std::string> WaitFor(size_t count, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] {
      mu_.AssertHeld();  // absl::Condition runs under the lock
      return events_.size() >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return events_;
  }
  std::vector<std::string> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  void Add(std::string event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }

  absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
  int failures_to_give_ ABSL_GUARDED_BY(mu_) = 0;
};

// connected() turns true just after OnChangesResumed returns.
bool EventuallyConnected(const ProfileChangeFeed& feed) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!feed.connected() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return feed.connected();
}

class PostgresChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PostgresServer*> server = PostgresServer::Shared();
    if (!server.ok()) {
      if (PostgresServer::Required()) FAIL() << server.status();
      GTEST_SKIP() << server.status().message();
    }
    absl::StatusOr<std::string> url = (*server)->CreateDatabase("feed");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    writer_ = Open();
    ASSERT_NE(writer_, nullptr);
  }
  std::unique_ptr<PostgresProfileStore> Open() {
    PostgresProfileStore::Options options;
    options.url = url_;
    options.backbone_fingerprint = kTestBackbone;
    options.bank_fingerprints = {kTestBank};
    options.change_feed.heartbeat_interval = absl::Milliseconds(200);
    options.change_feed.heartbeat_timeout = absl::Milliseconds(500);
    absl::StatusOr<std::unique_ptr<PostgresProfileStore>> store =
        PostgresProfileStore::Open(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // Starts a feed on a second store (another process, as far as the
  // database can tell) and waits until it is connected.
  std::unique_ptr<ProfileChangeFeed> Watch(RecordingSubscriber* subscriber) {
    reader_ = Open();
    absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> feed =
        reader_->WatchProfileChanges(subscriber);
    EXPECT_TRUE(feed.ok()) << feed.status();
    if (!feed.ok() || *feed == nullptr) return nullptr;
    EXPECT_EQ(subscriber->WaitFor(1), std::vector<std::string>{"resumed"});
    EXPECT_TRUE(EventuallyConnected(**feed));
    return *std::move(feed);
  }

  std::string url_;
  std::unique_ptr<PostgresProfileStore> writer_;
  std::unique_ptr<PostgresProfileStore> reader_;
};

TEST_F(PostgresChangeFeedTest, DeliversEveryCommittedChangeInOrderAndNothingRolledBack) {
  RecordingSubscriber subscriber;
  std::unique_ptr<ProfileChangeFeed> feed = Watch(&subscriber);
  ASSERT_NE(feed, nullptr);

  ASSERT_OK(writer_->PublishProfile("acme", "alice", TestPublish("one")));
  PublishProfileRequest stale = TestPublish("lost");
  stale.expected_version = 7;  // refused: rolls back, notifies nobody
  EXPECT_THAT(writer_->PublishProfile("acme", "alice", stale),
              StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_OK(writer_->PublishProfile("acme", "alice", TestPublish("two")));
  absl::StatusOr<ExportedProfile> exported = writer_->ExportProfile("acme", "alice");
  ASSERT_OK(exported);
  ASSERT_OK(writer_->ImportProfile("acme", "bob", exported->data, {}));
  EXPECT_THAT(writer_->ImportProfile("acme", "bob", exported->data, {}),
              StatusIs(StatusCode::kAlreadyExists));
  ASSERT_OK(writer_->DeleteProfile("acme", "alice", std::nullopt));
  // The reader's own writes are delivered to it too.
  ASSERT_OK(reader_->PublishProfile("acme", "carol", TestPublish("c")));

  EXPECT_EQ(subscriber.WaitFor(6), (std::vector<std::string>{"resumed", "p alice 1", "p alice 2",
                                                             "p bob 1", "d alice 2", "p carol 1"}));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(subscriber.events().size(), 6u);
}

TEST_F(PostgresChangeFeedTest, ALostConnectionIsAnInterruptionThenItResumes) {
  RecordingSubscriber subscriber;
  std::unique_ptr<ProfileChangeFeed> feed = Watch(&subscriber);
  ASSERT_NE(feed, nullptr);
  absl::StatusOr<std::string> killed = writer_->ExecuteSqlForTest(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE application_name = 'maskserve change feed' AND datname = current_database()");
  ASSERT_OK(killed);
  EXPECT_EQ(*killed, "1");
  EXPECT_EQ(subscriber.WaitFor(3), (std::vector<std::string>{"resumed", "interrupted", "resumed"}));
  EXPECT_TRUE(EventuallyConnected(*feed));
  ASSERT_OK(writer_->PublishProfile("acme", "alice", TestPublish("one")));
  EXPECT_EQ(subscriber.WaitFor(4).back(), "p alice 1");
}

TEST_F(PostgresChangeFeedTest, AFailedResumptionIsRetried) {
  RecordingSubscriber subscriber;
  subscriber.FailNextResumes(2);
  reader_ = Open();
  absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> feed =
      reader_->WatchProfileChanges(&subscriber);
  ASSERT_OK(feed);
  EXPECT_EQ(subscriber.WaitFor(3),
            (std::vector<std::string>{"resume failed", "resume failed", "resumed"}));
  EXPECT_TRUE(EventuallyConnected(**feed));
}

TEST_F(PostgresChangeFeedTest, StopsPromptlyConnectedOrNot) {
  RecordingSubscriber subscriber;
  std::unique_ptr<ProfileChangeFeed> feed = Watch(&subscriber);
  ASSERT_NE(feed, nullptr);
  absl::Time start = absl::Now();
  feed.reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));

  // A database nobody serves: the feed keeps trying, and still stops at once.
  RecordingSubscriber nobody;
  PostgresChangeFeed::Options options;
  options.url = "postgresql://postgres@127.0.0.1:1/x";
  auto unreachable = std::make_unique<PostgresChangeFeed>(options, &nobody);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(unreachable->connected());
  start = absl::Now();
  unreachable.reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_TRUE(nobody.events().empty());
}

}  // namespace
}  // namespace maskserve
