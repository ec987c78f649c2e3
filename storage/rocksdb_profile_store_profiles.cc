// RocksDbProfileStore: profile operations (publish, get, delete, list, count,
// export, import).
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/absl_compat.h"
#include "storage/ids.h"
#include "storage/job_id.h"
#include "storage/job_records.h"
#include "storage/page_token.h"
#include "storage/profile_export.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/rocksdb_status.h"
#include "storage/status_macros.h"
#include "storage/store_keys.h"
#include "storage/store_requests.h"
#include "storage/time_util.h"

namespace maskserve {
namespace {

std::string Quoted(std::string_view id) { return absl::StrCat("\"", Sv(id), "\""); }

absl::Status ProfileNotFound(std::string_view profile_id) {
  return absl::NotFoundError(
      absl::StrCat("profile_id: profile ", Quoted(profile_id), " not found"));
}

// Salvages the version from a value that failed its checks, so that a
// tombstone written over it keeps versions moving forward where possible.
uint64_t SalvageVersion(std::string_view value) {
  if (value.size() < FrameOverhead(kProfileTag)) return 0;
  std::string_view body =
      value.substr(kProfileTag.size(), value.size() - FrameOverhead(kProfileTag));
  storage::v1::ProfileRecord record;
  if (!record.ParseFromArray(body.data(), static_cast<int>(body.size()))) return 0;
  return record.profile().version();
}

}  // namespace

absl::StatusOr<RocksDbProfileStore::ProfileState> RocksDbProfileStore::ReadProfileState(
    std::string_view tenant, std::string_view profile_id) {
  MASKSERVE_ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      ReadRaw(profiles_, store_keys::ProfileKey(tenant, profile_id), "read profile"));
  ProfileState state;
  if (!value.has_value()) return state;
  absl::Status decoded = DecodeRecord(kProfileTag, *value, kProfileRecordVersion, &state.record);
  if (decoded.ok() && state.record.profile().profile_id() != profile_id) {
    decoded = absl::DataLossError(absl::StrCat(
        "record names profile ", Quoted(absl::CHexEscape(state.record.profile().profile_id())),
        ", not the one under its key"));
  }
  if (!decoded.ok()) {
    state.kind = ProfileState::kCorrupt;
    state.corruption = absl::DataLossError(absl::StrCat(
        "profile ", Quoted(profile_id), ": stored record is unreadable (", decoded.message(),
        "); other profiles are unaffected. Delete it (without expected_version) and publish "
        "or import it again"));
    state.record.Clear();
    state.record.mutable_profile()->set_version(SalvageVersion(*value));
    return state;
  }
  state.kind = state.record.deleted() ? ProfileState::kDeleted : ProfileState::kLive;
  return state;
}

absl::StatusOr<uint64_t> RocksDbProfileStore::CounterForUpdate(std::string_view tenant) {
  absl::StatusOr<uint64_t> count = ReadCounter(tenant);
  if (count.ok() || count.status().code() != absl::StatusCode::kDataLoss) return count;
  return RecountTenant(tenant);
}

absl::Status RocksDbProfileStore::CheckBank(const v1::Profile& profile) const {
  return CheckProfileBank(profile,
                          {meta_.bank_fingerprints().begin(), meta_.bank_fingerprints().end()});
}

absl::Status RocksDbProfileStore::CheckQuota(std::string_view tenant, uint64_t live_profiles) {
  if (options_.max_profiles_per_tenant > 0 && live_profiles >= options_.max_profiles_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant ", Quoted(tenant), " has ", live_profiles, " profiles, its quota is ",
        options_.max_profiles_per_tenant, "; delete profiles before creating new ones"));
  }
  if (options_.quota_check) return options_.quota_check(tenant, live_profiles);
  return absl::OkStatus();
}

absl::StatusOr<v1::Profile> RocksDbProfileStore::PublishProfile(std::string_view tenant,
                                                                std::string_view profile_id,
                                                                PublishProfileRequest request) {
  MASKSERVE_RETURN_IF_ERROR(CheckPublicationIds(tenant, profile_id, request));
  MASKSERVE_RETURN_IF_ERROR(CheckBank(request.profile));
  PublishCheck check;
  check.expected_version = request.expected_version;
  absl::MutexLock lock(&TenantLock(tenant));
  return PublishLocked(tenant, profile_id, std::move(request), check);
}

absl::StatusOr<v1::Profile> RocksDbProfileStore::PublishLocked(std::string_view tenant,
                                                               std::string_view profile_id,
                                                               PublishProfileRequest request,
                                                               const PublishCheck& check) {
  MASKSERVE_RETURN_IF_ERROR(CheckPayloadSize(request, options_.max_payload_bytes));
  MASKSERVE_ASSIGN_OR_RETURN(ProfileState state, ReadProfileState(tenant, profile_id));
  if (state.kind == ProfileState::kCorrupt) return state.corruption;
  const bool live = state.kind == ProfileState::kLive;
  if (check.must_not_exist && live) {
    return absl::AlreadyExistsError(absl::StrCat("profile_id: profile ", Quoted(profile_id),
                                                 " already exists (version ", state.version(),
                                                 "); set overwrite to replace it"));
  }
  if (check.expected_version.has_value()) {
    const uint64_t current = live ? state.version() : 0;
    if (*check.expected_version != current) {
      return absl::FailedPreconditionError(
          absl::StrCat("expected_version: profile ", Quoted(profile_id), " is at version ", current,
                       live ? "" : " (it does not exist)", ", not ", *check.expected_version));
    }
  }
  rocksdb::WriteBatch batch;
  const absl::Time now = Now();
  if (!live) {
    MASKSERVE_ASSIGN_OR_RETURN(uint64_t count, CounterForUpdate(tenant));
    MASKSERVE_RETURN_IF_ERROR(CheckQuota(tenant, count));
    batch.Put(meta_family_, store_keys::CounterKey(tenant), EncodeCounter(count + 1));
  }

  storage::v1::ProfileRecord record;
  record.set_format_version(kProfileRecordVersion);
  v1::Profile& profile = *record.mutable_profile();
  profile = std::move(request.profile);
  profile.set_profile_id(std::string(profile_id));
  profile.set_version(state.version() + 1);
  if (live) {
    *profile.mutable_create_time() = state.record.profile().create_time();
  } else {
    SetTimestamp(now, profile.mutable_create_time());
  }
  SetTimestamp(now, profile.mutable_update_time());
  record.set_payload(std::move(request.payload));

  if (request.finished_job.has_value()) {
    const v1::TrainingJob& finished = *request.finished_job;
    MASKSERVE_ASSIGN_OR_RETURN(storage::v1::JobRecord job_record,
                               ReadJobRecord(tenant, finished.job_id()));
    MASKSERVE_RETURN_IF_ERROR(CheckJobCanFinish(job_record.job(), profile_id));
    ApplyJobUpdate(finished, v1::SUCCEEDED, now, &job_record);
    job_record.mutable_job()->set_published_version(profile.version());
    if (profile.training_job_id().empty()) profile.set_training_job_id(finished.job_id());
    batch.Put(jobs_, store_keys::JobKey(tenant, finished.job_id()),
              EncodeRecord(kJobTag, job_record));
    batch.Delete(jobs_, store_keys::UnfinishedJobKey(finished.job_id()));
  }
  batch.Put(profiles_, store_keys::ProfileKey(tenant, profile_id),
            EncodeRecord(kProfileTag, record));
  MASKSERVE_RETURN_IF_ERROR(Commit(&batch, /*sync=*/true, "publish profile"));
  if (!live) total_profiles_.fetch_add(1);
  return std::move(*record.mutable_profile());
}

absl::StatusOr<StoredProfile> RocksDbProfileStore::GetProfile(std::string_view tenant,
                                                              std::string_view profile_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(ProfileState state, ReadProfileState(tenant, profile_id));
  switch (state.kind) {
    case ProfileState::kAbsent:
    case ProfileState::kDeleted:
      return ProfileNotFound(profile_id);
    case ProfileState::kCorrupt:
      return state.corruption;
    case ProfileState::kLive:
      break;
  }
  StoredProfile out;
  out.profile = std::move(*state.record.mutable_profile());
  out.payload = std::move(*state.record.mutable_payload());
  return out;
}

absl::StatusOr<uint64_t> RocksDbProfileStore::DeleteProfile(
    std::string_view tenant, std::string_view profile_id,
    std::optional<uint64_t> expected_version) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  absl::MutexLock lock(&TenantLock(tenant));
  MASKSERVE_ASSIGN_OR_RETURN(ProfileState state, ReadProfileState(tenant, profile_id));
  if (state.kind == ProfileState::kAbsent || state.kind == ProfileState::kDeleted) {
    return ProfileNotFound(profile_id);
  }
  if (state.kind == ProfileState::kCorrupt && expected_version.has_value()) {
    return state.corruption;
  }
  if (state.kind == ProfileState::kLive && expected_version.has_value() &&
      *expected_version != state.version()) {
    return absl::FailedPreconditionError(
        absl::StrCat("expected_version: profile ", Quoted(profile_id), " is at version ",
                     state.version(), ", not ", *expected_version));
  }
  const uint64_t version = state.version();
  storage::v1::ProfileRecord tombstone;
  tombstone.set_format_version(kProfileRecordVersion);
  tombstone.mutable_profile()->set_profile_id(std::string(profile_id));
  tombstone.mutable_profile()->set_version(version);
  tombstone.set_deleted(true);
  SetTimestamp(Now(), tombstone.mutable_delete_time());
  MASKSERVE_ASSIGN_OR_RETURN(uint64_t count, CounterForUpdate(tenant));
  rocksdb::WriteBatch batch;
  batch.Put(profiles_, store_keys::ProfileKey(tenant, profile_id),
            EncodeRecord(kProfileTag, tombstone));
  batch.Put(meta_family_, store_keys::CounterKey(tenant), EncodeCounter(count > 0 ? count - 1 : 0));
  MASKSERVE_RETURN_IF_ERROR(Commit(&batch, /*sync=*/true, "delete profile"));
  uint64_t total = total_profiles_.load();
  while (total > 0 && !total_profiles_.compare_exchange_weak(total, total - 1)) {
  }
  return version;
}

absl::StatusOr<ListProfilesResult> RocksDbProfileStore::ListProfiles(std::string_view tenant,
                                                                     const PageRequest& page) {
  MASKSERVE_ASSIGN_OR_RETURN(const ListingPage listing,
                             StartListing(kProfilesListing, tenant, page));
  const uint32_t page_size = listing.size;
  const std::string& after = listing.after;
  ListProfilesResult result;
  MASKSERVE_ASSIGN_OR_RETURN(result.total_count, CountProfiles(tenant));

  const std::string prefix = store_keys::ProfilePrefix(tenant);
  const std::string end = store_keys::PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, profiles_));
  // Ids never contain '\0', so id + '\0' is the first key after it.
  const std::string start = after.empty() ? prefix : prefix + after + std::string(1, '\0');
  // A page ends early, with a token to go on from, when it has looked at
  // list_scan_budget records (tombstones and unreadable ones included) or
  // holds list_page_bytes of metadata: one call's work and response stay
  // bounded whatever the tenant stored or deleted.
  int64_t scanned = 0;
  size_t page_bytes = 0;
  std::string last_seen;
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string id(it->key().ToStringView().substr(prefix.size()));
    if (!last_seen.empty() &&
        (scanned >= options_.list_scan_budget || page_bytes >= options_.list_page_bytes)) {
      result.next_page_token = EncodePageToken(kProfilesListing, tenant, last_seen);
      break;
    }
    ++scanned;
    storage::v1::ProfileRecord record;
    absl::Status decoded =
        DecodeRecord(kProfileTag, it->value().ToStringView(), kProfileRecordVersion, &record);
    if (!decoded.ok()) {
      result.unreadable.push_back(
          {id, absl::DataLossError(absl::StrCat("profile ", Quoted(id),
                                                ": stored record is unreadable (",
                                                decoded.message(), ")"))});
      last_seen = std::move(id);
      continue;
    }
    if (record.deleted()) {
      last_seen = std::move(id);
      continue;
    }
    if (result.profiles.size() == page_size) {
      result.next_page_token =
          EncodePageToken(kProfilesListing, tenant, result.profiles.back().profile_id());
      break;
    }
    page_bytes += record.profile().ByteSizeLong();
    result.profiles.push_back(std::move(*record.mutable_profile()));
    last_seen = std::move(id);
  }
  MASKSERVE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "list profiles"));
  return result;
}

absl::StatusOr<uint64_t> RocksDbProfileStore::CountProfiles(std::string_view tenant) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  absl::StatusOr<uint64_t> count = ReadCounter(tenant);
  if (count.ok() || count.status().code() != absl::StatusCode::kDataLoss) return count;
  absl::MutexLock lock(&TenantLock(tenant));
  return CounterForUpdate(tenant);
}

absl::StatusOr<ExportedProfile> RocksDbProfileStore::ExportProfile(std::string_view tenant,
                                                                   std::string_view profile_id) {
  MASKSERVE_ASSIGN_OR_RETURN(StoredProfile stored, GetProfile(tenant, profile_id));
  return MakeExportedProfile(stored, Now());
}

absl::StatusOr<v1::Profile> RocksDbProfileStore::ImportProfile(
    std::string_view tenant, std::string_view profile_id, std::string_view data,
    const ImportProfileOptions& options) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(PublishProfileRequest request, ImportRequestFromExport(data));
  MASKSERVE_RETURN_IF_ERROR(CheckBank(request.profile));
  PublishCheck check;
  check.must_not_exist = !options.overwrite;
  absl::MutexLock lock(&TenantLock(tenant));
  return PublishLocked(tenant, profile_id, std::move(request), check);
}

}  // namespace maskserve
