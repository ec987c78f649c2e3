#include "storage/ids.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

TEST(IdsTest, AcceptsTheApiCharset) {
  EXPECT_OK(ValidateProfileId("a"));
  EXPECT_OK(ValidateProfileId("Sentiment_v2.en-US:acme@prod"));
  EXPECT_OK(ValidateProfileId("0123456789"));
  EXPECT_OK(ValidateProfileId("a."));
  EXPECT_OK(ValidateTenant(std::string(128, 'x')));
}

TEST(IdsTest, RejectsWithTheFieldNamed) {
  EXPECT_THAT(ValidateProfileId(""), StatusIs(absl::StatusCode::kInvalidArgument, "profile_id: "));
  EXPECT_THAT(ValidateTenant(""), StatusIs(absl::StatusCode::kInvalidArgument, "tenant: "));
  EXPECT_THAT(ValidateProfileId(std::string(129, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument, "129 characters"));
  EXPECT_THAT(ValidateProfileId(".hidden"),
              StatusIs(absl::StatusCode::kInvalidArgument, "starts with '.'"));
  EXPECT_THAT(ValidateProfileId("a/b"),
              StatusIs(absl::StatusCode::kInvalidArgument, "'/' at offset 1"));
  for (std::string bad : {"a b", "a\nb", "ä", "a*", "a,b", "a+b", "a%2F", "a\\b"}) {
    EXPECT_THAT(ValidateProfileId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ValidateProfileId(std::string("a\0b", 3)),
              StatusIs(absl::StatusCode::kInvalidArgument, "'\\x00' at offset 1"));
}

TEST(IdsTest, ErrorMessagesAreBounded) {
  absl::Status status = ValidateProfileId(std::string(100, 'a') + "\x01" + std::string(1000, 'b'));
  EXPECT_LT(status.message().size(), 300u);
}

}  // namespace
}  // namespace maskserve
