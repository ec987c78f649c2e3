#include "storage/rocksdb_status.h"

#include <gtest/gtest.h>

#include "rocksdb/status.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

using absl::StatusCode;

TEST(RocksDbStatusTest, MapsEveryCodeOnceWithContext) {
  EXPECT_OK(FromRocksDbStatus(rocksdb::Status::OK(), "x"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::NotFound("k"), "get"),
              StatusIs(StatusCode::kNotFound, "get: NotFound: k"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::Corruption("bad block"), "read"),
              StatusIs(StatusCode::kDataLoss, "bad block"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::InvalidArgument("x"), "c"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::NotSupported("x"), "c"),
              StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::IOError("lock held"), "open"),
              StatusIs(StatusCode::kUnavailable, "open: IO error: lock held"));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::NoSpace("disk full"), "write"),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::Busy(), "c"), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::TryAgain(), "c"), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::TimedOut(), "c"),
              StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_THAT(FromRocksDbStatus(rocksdb::Status::ShutdownInProgress(), "c"),
              StatusIs(StatusCode::kUnavailable));
}

}  // namespace
}  // namespace maskserve
