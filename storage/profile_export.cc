#include "storage/profile_export.h"
#include "storage/absl_compat.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "maskserve/storage/v1/records.pb.h"
#include "storage/record_codec.h"
#include "storage/time_util.h"

namespace maskserve {

std::string EncodeProfileExport(const StoredProfile& profile, absl::Time export_time) {
  storage::v1::ProfileExport record;
  record.set_format_version(kExportFormatVersion);
  *record.mutable_profile() = profile.profile;
  record.set_payload(profile.payload);
  record.set_producer(std::string(kExportProducer));
  SetTimestamp(export_time, record.mutable_export_time());
  return EncodeRecord(kExportMagic, record);
}

ExportedProfile MakeExportedProfile(const StoredProfile& profile, absl::Time export_time) {
  ExportedProfile out;
  out.version = profile.profile.version();
  out.data = EncodeProfileExport(profile, export_time);
  return out;
}

absl::StatusOr<StoredProfile> DecodeProfileExport(std::string_view data) {
  if (data.substr(0, kExportMagic.size()) != kExportMagic) {
    return absl::DataLossError(
        absl::StrCat("not a maskserve profile export (no \"", Sv(kExportMagic), "\" magic)"));
  }
  storage::v1::ProfileExport record;
  absl::Status status = DecodeRecord(kExportMagic, data, kExportFormatVersion, &record);
  if (!status.ok()) return status;
  StoredProfile out;
  out.profile = std::move(*record.mutable_profile());
  out.payload = std::move(*record.mutable_payload());
  return out;
}

absl::StatusOr<PublishProfileRequest> ImportRequestFromExport(std::string_view data) {
  absl::StatusOr<StoredProfile> decoded = DecodeProfileExport(data);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", decoded.status().message()));
  }
  PublishProfileRequest request;
  request.profile = std::move(decoded->profile);
  request.profile.clear_training_job_id();
  request.payload = std::move(decoded->payload);
  return request;
}

}  // namespace maskserve
