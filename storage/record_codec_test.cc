#include "storage/record_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "maskserve/storage/v1/records.pb.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

storage::v1::ProfileRecord SampleRecord() {
  storage::v1::ProfileRecord record;
  record.set_format_version(kProfileRecordVersion);
  record.mutable_profile()->set_profile_id("p1");
  record.mutable_profile()->set_version(7);
  record.mutable_profile()->add_label_names("a");
  record.set_payload(std::string(64, '\x5a'));
  return record;
}

TEST(RecordCodecTest, RoundTrips) {
  std::string value = EncodeRecord(kProfileTag, SampleRecord());
  EXPECT_EQ(value.size(), SampleRecord().ByteSizeLong() + FrameOverhead(kProfileTag));
  storage::v1::ProfileRecord back;
  ASSERT_OK(DecodeRecord(kProfileTag, value, kProfileRecordVersion, &back));
  EXPECT_EQ(back.SerializeAsString(), SampleRecord().SerializeAsString());
}

TEST(RecordCodecTest, EveryFlippedBitIsDataLoss) {
  const std::string value = EncodeRecord(kProfileTag, SampleRecord());
  for (size_t i = 0; i < value.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = value;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      storage::v1::ProfileRecord back;
      EXPECT_THAT(DecodeRecord(kProfileTag, bad, kProfileRecordVersion, &back),
                  StatusIs(absl::StatusCode::kDataLoss))
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordCodecTest, TruncatedAndExtendedAreDataLoss) {
  const std::string value = EncodeRecord(kProfileTag, SampleRecord());
  storage::v1::ProfileRecord back;
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_THAT(DecodeRecord(kProfileTag, value.substr(0, n), kProfileRecordVersion, &back),
                StatusIs(absl::StatusCode::kDataLoss))
        << n;
  }
  EXPECT_THAT(DecodeRecord(kProfileTag, "", kProfileRecordVersion, &back),
              StatusIs(absl::StatusCode::kDataLoss, "truncated"));
  EXPECT_THAT(DecodeRecord(kProfileTag, value + "x", kProfileRecordVersion, &back),
              StatusIs(absl::StatusCode::kDataLoss, "checksum mismatch"));
}

TEST(RecordCodecTest, WrongTagIsDataLoss) {
  const std::string value = EncodeRecord(kJobTag, SampleRecord());
  storage::v1::ProfileRecord back;
  EXPECT_THAT(DecodeRecord(kProfileTag, value, kProfileRecordVersion, &back),
              StatusIs(absl::StatusCode::kDataLoss, "unexpected record tag"));
}

TEST(RecordCodecTest, UnknownOrMissingFormatVersionIsDataLoss) {
  storage::v1::ProfileRecord record = SampleRecord();
  record.set_format_version(99);
  storage::v1::ProfileRecord back;
  EXPECT_THAT(
      DecodeRecord(kProfileTag, EncodeRecord(kProfileTag, record), kProfileRecordVersion, &back),
      StatusIs(absl::StatusCode::kDataLoss, "unknown format_version 99"));
  record.set_format_version(0);
  EXPECT_THAT(
      DecodeRecord(kProfileTag, EncodeRecord(kProfileTag, record), kProfileRecordVersion, &back),
      StatusIs(absl::StatusCode::kDataLoss, "format_version missing"));
}

TEST(RecordCodecTest, ChecksummedGarbageDoesNotParse) {
  storage::v1::ProfileRecord back;
  EXPECT_THAT(DecodeRecord(kProfileTag, FrameBytes(kProfileTag, "\xff\xff\xff\xff\xff"),
                           kProfileRecordVersion, &back),
              StatusIs(absl::StatusCode::kDataLoss, "does not parse"));
}

TEST(RecordCodecTest, Counters) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40, ~uint64_t{0}}) {
    absl::StatusOr<uint64_t> back = DecodeCounter(EncodeCounter(v));
    ASSERT_OK(back);
    EXPECT_EQ(*back, v);
  }
  std::string bad = EncodeCounter(5);
  bad[3] ^= 1;
  EXPECT_THAT(DecodeCounter(bad), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeCounter(FrameBytes(kCounterTag, "abc")),
              StatusIs(absl::StatusCode::kDataLoss, "not 8"));
}

}  // namespace
}  // namespace maskserve
