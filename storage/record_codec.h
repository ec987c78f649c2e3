// File: storage/record_codec.h
//
// How the store frames every value it writes, so that corruption is caught
// before anything is parsed:
//
//   value = tag | body | fixed32-LE masked CRC-32C(tag | body)
//
// `tag` names the kind of record ("P" profile, "J" job, ...; the export
// format uses the 8-byte magic "MSKPROF1"), `body` is a serialized protobuf
// record whose field 1 is `format_version`. Decoding checks, in order: the
// length, the checksum (flipped, truncated or appended bytes), the tag (a
// value of another kind), that the body parses, and that the format version
// is one this build reads. Every failure is DATA_LOSS with a message saying
// which check failed; callers prefix the record's name.
//
//   std::string value = EncodeRecord(kProfileTag, record);
//   storage::v1::ProfileRecord back;
//   absl::Status s = DecodeRecord(kProfileTag, value, kProfileRecordVersion, &back);
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_RECORD_CODEC_H_
#define MASKSERVE_STORAGE_RECORD_CODEC_H_

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace maskserve {

// Record tags (one per kind of value) and the export magic.
inline constexpr std::string_view kProfileTag = "P";
inline constexpr std::string_view kJobTag = "J";
inline constexpr std::string_view kMetaTag = "M";
inline constexpr std::string_view kCounterTag = "C";
inline constexpr std::string_view kUnfinishedJobTag = "U";
inline constexpr std::string_view kPageTokenTag = "T";
inline constexpr std::string_view kExportMagic = "MSKPROF1";

// The record format versions this build writes and reads (field 1 of each
// record; the profile payload inside has its own, core/profile/profile_codec.h).
inline constexpr uint32_t kProfileRecordVersion = 1;
inline constexpr uint32_t kJobFormatVersion = 1;
inline constexpr uint32_t kMetaFormatVersion = 1;
inline constexpr uint32_t kExportFormatVersion = 1;

// Bytes a frame adds to its body: the tag and the 4-byte checksum.
inline size_t FrameOverhead(std::string_view tag) { return tag.size() + 4; }

// tag | body | masked CRC-32C.
std::string FrameBytes(std::string_view tag, std::string_view body);

// The body of a frame, or DATA_LOSS (too short, checksum mismatch, wrong tag).
// The view points into `framed`.
absl::StatusOr<std::string_view> UnframeBytes(std::string_view tag, std::string_view framed);

// A counter value: tag "C" framing a fixed64-LE.
std::string EncodeCounter(uint64_t value);
absl::StatusOr<uint64_t> DecodeCounter(std::string_view framed);

// Frames a protobuf record.
template <typename Record>
std::string EncodeRecord(std::string_view tag, const Record& record) {
  return FrameBytes(tag, record.SerializeAsString());
}

// Unframes and parses a record with a `format_version` field (1..max).
template <typename Record>
absl::Status DecodeRecord(std::string_view tag, std::string_view framed,
                          uint32_t max_format_version, Record* record) {
  absl::StatusOr<std::string_view> body = UnframeBytes(tag, framed);
  if (!body.ok()) return body.status();
  if (body->size() > static_cast<size_t>(INT_MAX) ||
      !record->ParseFromArray(body->data(), static_cast<int>(body->size()))) {
    return absl::DataLossError(absl::StrCat("body does not parse as ", record->GetTypeName()));
  }
  if (record->format_version() == 0) {
    return absl::DataLossError(absl::StrCat(record->GetTypeName(), ": format_version missing"));
  }
  if (record->format_version() > max_format_version) {
    return absl::DataLossError(absl::StrCat(
        record->GetTypeName(), ": unknown format_version ", record->format_version(),
        " (this build reads up to ", max_format_version, "; written by a newer maskserve?)"));
  }
  return absl::OkStatus();
}

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_RECORD_CODEC_H_
