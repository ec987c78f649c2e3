#include "storage/page_token.h"

#include <gtest/gtest.h>

#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

TEST(PageTokenTest, RoundTrips) {
  std::string token = EncodePageToken("profiles", "acme", "p-42");
  absl::StatusOr<std::string> last = DecodePageToken("profiles", "acme", token);
  ASSERT_OK(last);
  EXPECT_EQ(*last, "p-42");
  EXPECT_EQ(token.find("acme"), std::string::npos) << "opaque";
}

TEST(PageTokenTest, RejectsForeignOrDamagedTokens) {
  std::string token = EncodePageToken("profiles", "acme", "p-42");
  EXPECT_THAT(DecodePageToken("jobs", "acme", token),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token: "));
  EXPECT_THAT(DecodePageToken("profiles", "other", token),
              StatusIs(absl::StatusCode::kInvalidArgument, "another tenant"));
  std::string damaged = token;
  damaged[3] = damaged[3] == 'A' ? 'B' : 'A';
  EXPECT_THAT(DecodePageToken("profiles", "acme", damaged),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodePageToken("profiles", "acme", "!!not base64!!"),
              StatusIs(absl::StatusCode::kInvalidArgument, "malformed"));
  EXPECT_THAT(DecodePageToken("profiles", "acme", std::string(5000, 'A')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PageTokenTest, PageSizeBounds) {
  EXPECT_EQ(EffectivePageSize(0), kDefaultPageSize);
  EXPECT_EQ(EffectivePageSize(1), 1u);
  EXPECT_EQ(EffectivePageSize(1000), 1000u);
  EXPECT_EQ(EffectivePageSize(5000), kMaxPageSize);
}

}  // namespace
}  // namespace maskserve
