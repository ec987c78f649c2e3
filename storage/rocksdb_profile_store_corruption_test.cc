// RocksDbProfileStore: hostile or corrupted bytes planted through the raw
// RocksDB handle give DATA_LOSS for that record only, never a crash, and
// never poison other profiles.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "maskserve/storage/v1/records.pb.h"
#include "storage/record_codec.h"
#include "storage/store_keys.h"
#include "storage/testing/store_fixture.h"

namespace maskserve {
namespace {

using absl::StatusCode;
using Family = RocksDbProfileStore::Family;

class StoreCorruptionTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    for (const char* id : {"p1", "p2", "p3"}) {
      for (int v = 0; v < 3; ++v) {
        ASSERT_OK(store().PublishProfile("t", id, TestPublish(std::string(500, 'a' + v))));
      }
    }
  }
  std::string Raw(const std::string& id) {
    return *store().GetRawForTest(Family::kProfiles, store_keys::ProfileKey("t", id));
  }
  void Plant(const std::string& id, const std::string& value) {
    ASSERT_OK(store().PutRawForTest(Family::kProfiles, store_keys::ProfileKey("t", id), value));
  }
  // The neighbours still work in every way.
  void ExpectOthersIntact() {
    for (const char* id : {"p1", "p3"}) {
      absl::StatusOr<StoredProfile> p = store().GetProfile("t", id);
      ASSERT_OK(p);
      EXPECT_EQ(p->profile.version(), 3u);
      EXPECT_EQ(p->payload, std::string(500, 'c'));
    }
    EXPECT_OK(store().PublishProfile("t", "p1", TestPublish("fine")));
    EXPECT_OK(store().ExportProfile("t", "p3"));
  }
};

TEST_F(StoreCorruptionTest, FlippedByteIsDataLossForThatProfileOnly) {
  std::string value = Raw("p2");
  value[value.size() / 2] ^= 0x10;
  Plant("p2", value);
  EXPECT_THAT(store().GetProfile("t", "p2"),
              StatusIs(StatusCode::kDataLoss, "profile \"p2\": stored record is unreadable"));
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "checksum mismatch"));
  EXPECT_THAT(store().ExportProfile("t", "p2"), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(store().PublishProfile("t", "p2", TestPublish("x")),
              StatusIs(StatusCode::kDataLoss, "Delete it"));
  absl::StatusOr<ListProfilesResult> list = store().ListProfiles("t", {});
  ASSERT_OK(list);
  ASSERT_EQ(list->profiles.size(), 2u);
  ASSERT_EQ(list->unreadable.size(), 1u);
  EXPECT_EQ(list->unreadable[0].id, "p2");
  EXPECT_EQ(list->unreadable[0].status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(list->total_count, 3u);
  ExpectOthersIntact();

  // The operator clears it; its version survives (salvaged) and moves on.
  EXPECT_THAT(store().DeleteProfile("t", "p2", 3), StatusIs(StatusCode::kDataLoss));
  absl::StatusOr<uint64_t> deleted = store().DeleteProfile("t", "p2", std::nullopt);
  ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(*store().CountProfiles("t"), 2u);
  absl::StatusOr<v1::Profile> again = store().PublishProfile("t", "p2", TestPublish("new"));
  ASSERT_OK(again);
  EXPECT_EQ(again->version(), 4u);
}

TEST_F(StoreCorruptionTest, UnknownFormatVersionIsDataLoss) {
  storage::v1::ProfileRecord record;
  record.set_format_version(kProfileRecordVersion + 1);
  record.mutable_profile()->set_profile_id("p2");
  record.mutable_profile()->set_version(9);
  Plant("p2", EncodeRecord(kProfileTag, record));
  EXPECT_THAT(store().GetProfile("t", "p2"),
              StatusIs(StatusCode::kDataLoss, "unknown format_version 2"));
  ExpectOthersIntact();
}

TEST_F(StoreCorruptionTest, TruncatedEmptyAndMisplacedRecordsAreDataLoss) {
  const std::string value = Raw("p2");
  Plant("p2", value.substr(0, value.size() / 3));
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss));
  Plant("p2", "");
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "truncated"));
  Plant("p2", Raw("p1"));  // a valid record under the wrong key
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "names profile"));
  Plant("p2", *store().GetRawForTest(Family::kMeta, "store"));  // another kind
  EXPECT_THAT(store().GetProfile("t", "p2"), StatusIs(StatusCode::kDataLoss, "record tag"));
  ExpectOthersIntact();
}

TEST_F(StoreCorruptionTest, RandomHostileBytesNeverCrash) {
  std::mt19937 rng(11);
  const std::string good = Raw("p2");
  for (int i = 0; i < 300; ++i) {
    std::string value;
    switch (i % 3) {
      case 0:  // random garbage of random length
        value.resize(rng() % 2000);
        for (char& c : value) c = static_cast<char>(rng());
        break;
      case 1:  // checksummed garbage: passes the frame, fails the parse
        value.resize(rng() % 200);
        for (char& c : value) c = static_cast<char>(rng());
        value = FrameBytes(kProfileTag, value);
        break;
      default:  // a real record with several flipped bytes
        value = good;
        for (int k = 0; k < 3; ++k)
          value[rng() % value.size()] ^= static_cast<char>(1 + rng() % 255);
        break;
    }
    Plant("p2", value);
    absl::StatusOr<StoredProfile> got = store().GetProfile("t", "p2");
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
    }
    ASSERT_OK(store().ListProfiles("t", {}));
  }
  ExpectOthersIntact();
}

TEST_F(StoreCorruptionTest, CorruptJobsAreReportedNotFatal) {
  absl::StatusOr<v1::TrainingJob> good = store().CreateJob("t", TestTrainRequest("p1"), {});
  absl::StatusOr<v1::TrainingJob> bad = store().CreateJob("t", TestTrainRequest("p2"), {});
  ASSERT_OK(good);
  ASSERT_OK(bad);
  const std::string key = store_keys::JobKey("t", bad->job_id());
  std::string value = *store().GetRawForTest(Family::kJobs, key);
  value[10] ^= 0x40;
  ASSERT_OK(store().PutRawForTest(Family::kJobs, key, value));
  EXPECT_THAT(store().GetJob("t", bad->job_id()), StatusIs(StatusCode::kDataLoss, "job \""));
  v1::TrainingJob update;
  update.set_job_id(bad->job_id());
  update.set_state(v1::RUNNING);
  EXPECT_THAT(store().UpdateJob("t", update), StatusIs(StatusCode::kDataLoss));
  absl::StatusOr<ListJobsResult> list = store().ListJobs("t", {}, {});
  ASSERT_OK(list);
  ASSERT_EQ(list->jobs.size(), 1u);
  ASSERT_EQ(list->unreadable.size(), 1u);
  EXPECT_EQ(list->unreadable[0].id, bad->job_id());
  Reopen();
  absl::StatusOr<UnfinishedJobs> unfinished = store().ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  ASSERT_EQ(unfinished->jobs.size(), 1u);
  EXPECT_EQ(unfinished->jobs[0].job.job_id(), good->job_id());
  ASSERT_EQ(unfinished->unreadable.size(), 1u);
  // A damaged index entry is reported too.
  ASSERT_OK(
      store().PutRawForTest(Family::kJobs, store_keys::UnfinishedJobKey(good->job_id()), "junk"));
  unfinished = store().ListUnfinishedJobs();
  ASSERT_OK(unfinished);
  EXPECT_EQ(unfinished->jobs.size(), 0u);
  EXPECT_EQ(unfinished->unreadable.size(), 2u);
}

TEST_F(StoreCorruptionTest, DamagedCounterIsRepairedByRecounting) {
  ASSERT_OK(store().PutRawForTest(Family::kMeta, store_keys::CounterKey("t"), "garbage"));
  EXPECT_EQ(*store().CountProfiles("t"), 3u);
  ASSERT_OK(
      store().PutRawForTest(Family::kMeta, store_keys::CounterKey("t"), EncodeCounter(1) + "x"));
  ASSERT_OK(store().PublishProfile("t", "p4", TestPublish("x")));
  EXPECT_EQ(*store().CountProfiles("t"), 4u);
  ASSERT_OK(store().PutRawForTest(Family::kMeta, store_keys::CounterKey("t"), "garbage"));
  Reopen();
  EXPECT_EQ(store().TotalProfileCount(), 4u);
  EXPECT_EQ(*store().CountProfiles("t"), 4u);
}

TEST_F(StoreCorruptionTest, DamagedMetaRefusesToOpenWithAClearError) {
  std::string meta = *store().GetRawForTest(Family::kMeta, "store");
  meta[meta.size() / 2] ^= 0x01;
  ASSERT_OK(store().PutRawForTest(Family::kMeta, "store", meta));
  Close();
  EXPECT_THAT(RocksDbProfileStore::Open(BaseOptions()),
              StatusIs(StatusCode::kDataLoss, "meta record unreadable"));
}

}  // namespace
}  // namespace maskserve
