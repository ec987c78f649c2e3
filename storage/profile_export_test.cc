#include "storage/profile_export.h"

#include <gtest/gtest.h>

#include <string>

#include "maskserve/storage/v1/records.pb.h"
#include "storage/record_codec.h"
#include "storage/testing/store_test_util.h"
#include "storage/time_util.h"

namespace maskserve {
namespace {

StoredProfile Sample() {
  StoredProfile profile;
  profile.profile = TestPublish("").profile;
  profile.profile.set_profile_id("sentiment");
  profile.profile.set_version(4);
  profile.payload = std::string(3388, '\0');
  for (size_t i = 0; i < profile.payload.size(); ++i)
    profile.payload[i] = static_cast<char>(i * 31);
  return profile;
}

TEST(ProfileExportTest, RoundTripsEverything) {
  std::string data = EncodeProfileExport(Sample(), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(data.substr(0, 8), "MSKPROF1");
  absl::StatusOr<StoredProfile> back = DecodeProfileExport(data);
  ASSERT_OK(back);
  EXPECT_EQ(back->profile.SerializeAsString(), Sample().profile.SerializeAsString());
  EXPECT_EQ(back->payload, Sample().payload);
}

TEST(ProfileExportTest, RejectsCorruptedInput) {
  const std::string data = EncodeProfileExport(Sample(), absl::Now());
  EXPECT_THAT(DecodeProfileExport(""), StatusIs(absl::StatusCode::kDataLoss, "not a maskserve"));
  EXPECT_THAT(DecodeProfileExport("{\"json\": true}"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeProfileExport(data.substr(0, data.size() - 1)),
              StatusIs(absl::StatusCode::kDataLoss, "checksum"));
  EXPECT_THAT(DecodeProfileExport(data.substr(0, 10)), StatusIs(absl::StatusCode::kDataLoss));
  for (size_t i = 0; i < data.size(); i += 13) {
    std::string bad = data;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_THAT(DecodeProfileExport(bad), StatusIs(absl::StatusCode::kDataLoss)) << i;
  }
}

TEST(ProfileExportTest, RejectsANewerFormat) {
  storage::v1::ProfileExport record;
  record.set_format_version(kExportFormatVersion + 1);
  EXPECT_THAT(DecodeProfileExport(EncodeRecord(kExportMagic, record)),
              StatusIs(absl::StatusCode::kDataLoss, "unknown format_version 2"));
}

}  // namespace
}  // namespace maskserve
