#include "server/status_util.h"

#include <gtest/gtest.h>

#include "storage/status_detail.h"

namespace maskserve {
namespace {

TEST(StatusUtilTest, GrpcStatusKeepsCodeAndMessage) {
  grpc::Status status = ToGrpcStatus(absl::InvalidArgumentError("inputs[2].text: empty"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "inputs[2].text: empty");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("queue full")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(StatusUtilTest, DetailIsNotSent) {
  grpc::Status status = ToGrpcStatus(
      WithDetail(absl::UnavailableError("publish profile: I/O error"), "/data/000012.log: EIO"));
  EXPECT_EQ(status.error_message(), "publish profile: I/O error");
  EXPECT_EQ(status.error_details(), "");
}

}  // namespace
}  // namespace maskserve
