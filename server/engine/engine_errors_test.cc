#include "server/engine/engine_errors.h"

#include <new>
#include <stdexcept>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "core/base/error.h"
#include "storage/status_detail.h"

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

// Clients get LibTorch's one-line reason; the backtrace stays in the detail.
TEST(EngineErrorsTest, LibTorchErrorsAreOneLineWithTheBacktraceAsDetail) {
  absl::Status status = CatchEngineErrors([]() -> absl::Status {
    at::Tensor a = at::zeros({2, 3}), b = at::zeros({4, 5});
    at::matmul(a, b);
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message().find('\n'), absl::string_view::npos) << status.message();
  EXPECT_EQ(status.message().find("frame #"), absl::string_view::npos) << status.message();
  EXPECT_NE(status.message().find("engine: "), absl::string_view::npos);
  ASSERT_TRUE(DetailOf(status).has_value());
}

TEST(EngineErrorsTest, RunningOutOfMemoryIsResourceExhausted) {
  absl::Status status = CatchEngineErrors([]() -> absl::Status {
    // More than any machine has: the CPU allocator's enforce fails.
    at::Tensor huge = at::empty({int64_t{1} << 50}, at::kFloat);
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "engine: out of memory")) << status.message();
  EXPECT_EQ(status.message().find("enforce fail"), absl::string_view::npos) << status.message();
  EXPECT_EQ(status.message().find('\n'), absl::string_view::npos) << status.message();

  status = CatchEngineErrors([]() -> absl::Status { throw std::bad_alloc(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "engine: out of memory");

  status = CatchEngineErrors(
      []() -> absl::Status { throw std::runtime_error("reason\nframe #0: 0x1234 in libc10.so"); });
  EXPECT_EQ(status.message(), "engine: reason");
  EXPECT_EQ(*DetailOf(status), "reason\nframe #0: 0x1234 in libc10.so");
}

}  // namespace
}  // namespace maskserve
