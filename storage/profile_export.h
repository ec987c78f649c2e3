// File: storage/profile_export.h
//
// The portable form of one profile (ExportProfile / ImportProfile): a
// self-describing byte string that survives copying between servers.
//
//   "MSKPROF1" | ProfileExport protobuf | masked CRC-32C of both
//
// The magic names the format, the protobuf (proto/maskserve/storage/v1/
// records.proto) carries its format version, the full metadata (method,
// labels, bank fingerprint, sizes, metrics, version) and the payload, and the
// checksum covers every byte. Decoding rejects anything else with DATA_LOSS
// saying what is wrong: not an export, truncated, corrupted, or written by a
// newer format.
//
//   std::string bytes = EncodeProfileExport(stored, absl::Now());
//   absl::StatusOr<StoredProfile> back = DecodeProfileExport(bytes);
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_PROFILE_EXPORT_H_
#define MASKSERVE_STORAGE_PROFILE_EXPORT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/profile_store.h"

namespace maskserve {

inline constexpr std::string_view kExportProducer = "maskserve-store/1";

std::string EncodeProfileExport(const StoredProfile& profile, absl::Time export_time);
// What ExportProfile returns for `profile`: its export bytes and version.
ExportedProfile MakeExportedProfile(const StoredProfile& profile, absl::Time export_time);

absl::StatusOr<StoredProfile> DecodeProfileExport(std::string_view data);

// An export as the publication that imports it: its metadata (without the
// exporting server's job id, which means nothing here) and payload.
// INVALID_ARGUMENT naming "data" when it does not decode.
absl::StatusOr<PublishProfileRequest> ImportRequestFromExport(std::string_view data);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_PROFILE_EXPORT_H_
