#include "server/engine/engine_errors.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

TEST(EngineErrorsTest, EngineErrorsKeepTheirCode) {
  EXPECT_EQ(FromEngineError(NotFound("x")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FromEngineError(DataLoss("x")).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromEngineError(FailedPrecondition("x")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(EngineErrorsTest, CatchEngineErrorsConvertsExceptions) {
  absl::Status status =
      CatchEngineErrors([]() -> absl::Status { throw InvalidArgument("profile_id: too long"); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "profile_id: too long");
  status = CatchEngineErrors([]() -> absl::Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(CatchEngineErrors([] { return absl::OkStatus(); }).ok());
}

}  // namespace
}  // namespace maskserve
