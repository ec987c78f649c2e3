#include "storage/rocksdb_status.h"

#include <gtest/gtest.h>

#include "rocksdb/status.h"
#include "storage/status_detail.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

using absl::StatusCode;

TEST(RocksDbStatusTest, MapsEveryCodeOnceWithContext) {
  EXPECT_OK(FromRocksDbStatus(rocksdb::Status::OK(), "x"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::NotFound("k"), "get"),
              StatusIs(StatusCode::kNotFound, "get: not found"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::Corruption("bad block"), "read"),
              StatusIs(StatusCode::kDataLoss, "read: the store's files are corrupt"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::InvalidArgument("x"), "c"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::NotSupported("x"), "c"),
              StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::IOError("lock held"), "open"),
              StatusIs(StatusCode::kUnavailable, "open: I/O error"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::NoSpace("disk full"), "write"),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::Busy(), "c"), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::TryAgain(), "c"), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::TimedOut(), "c"),
              StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::ShutdownInProgress(), "c"),
              StatusIs(StatusCode::kUnavailable));
}

// Clients see the kind of failure, never RocksDB's message with its file
// paths; the log gets that from the detail.
TEST(RocksDbStatusTest, KeepsFilePathsOutOfTheMessage) {
  const absl::Status s = FromRocksDbStatus(
      rocksdb::Status::NoSpace("While appending to file: /var/lib/maskserve/000012.log"),
      "publish profile");
  EXPECT_THAT(s, StatusIs(StatusCode::kResourceExhausted,
                          "publish profile: I/O error: no space left on device"));
  EXPECT_EQ(s.message().find("/var/lib"), absl::string_view::npos);
  ASSERT_TRUE(DetailOf(s).has_value());
  EXPECT_NE(DetailOf(s)->find("/var/lib/maskserve/000012.log"), std::string::npos);
}

}  // namespace
}  // namespace maskserve
