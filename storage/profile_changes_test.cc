// The change-feed payload codec: what EncodeProfileChange writes reads back,
// and anything else is INVALID_ARGUMENT.
#include "storage/profile_changes.h"

#include <gtest/gtest.h>

namespace maskserve {
namespace {

TEST(ProfileChangesTest, EncodedChangesReadBack) {
  for (bool deleted : {false, true}) {
    ProfileChange change;
    change.tenant = "acme-corp";
    change.profile_id = "user:42@eu.west_1";
    change.version = 18446744073709551615u;
    change.deleted = deleted;
    change.time = absl::FromUnixMicros(1733212800123456);
    const std::string payload = EncodeProfileChange(change);
    absl::StatusOr<ProfileChange> decoded = DecodeProfileChange(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->tenant, change.tenant);
    EXPECT_EQ(decoded->profile_id, change.profile_id);
    EXPECT_EQ(decoded->version, change.version);
    EXPECT_EQ(decoded->deleted, deleted);
    EXPECT_EQ(decoded->time, change.time);
  }
  EXPECT_EQ(EncodeProfileChange({"acme", "alice", 7, false, absl::FromUnixMicros(5)}),
            "1 p 7 5 acme alice");
}

TEST(ProfileChangesTest, OtherPayloadsAreInvalid) {
  for (const char* payload :
       {"", "1 p 7 5 acme", "1 p 7 5 acme alice extra", "2 p 7 5 acme alice", "1 x 7 5 acme alice",
        "1 p -7 5 acme alice", "1 p 7 t acme alice", "1 p 7 5 ac/me alice", "1 p 7 5 acme .alice",
        "1  p 7 5 acme alice"}) {
    absl::StatusOr<ProfileChange> decoded = DecodeProfileChange(payload);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << payload;
  }
}

}  // namespace
}  // namespace maskserve
