// PostgresProfileStore: profile operations (publish, get, delete, list,
// count, export, import).
#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/absl_compat.h"
#include "storage/ids.h"
#include "storage/job_records.h"
#include "storage/page_token.h"
#include "storage/postgres_change_feed.h"
#include "storage/postgres_connection.h"
#include "storage/postgres_profile_store.h"
#include "storage/postgres_schema.h"
#include "storage/profile_export.h"
#include "storage/record_codec.h"
#include "storage/status_macros.h"
#include "storage/store_requests.h"
#include "storage/time_util.h"

namespace maskserve {
namespace pgi = postgres_internal;

namespace {

using pgi::Bytes;
using pgi::BytesOf;

std::string Quoted(std::string_view id) { return absl::StrCat("\"", Sv(id), "\""); }

absl::Status ProfileNotFound(std::string_view profile_id) {
  return absl::NotFoundError(
      absl::StrCat("profile_id: profile ", Quoted(profile_id), " not found"));
}

// Decodes a profile row's record; DATA_LOSS naming the check that failed.
absl::Status DecodeProfile(std::string_view bytes, std::string_view profile_id,
                           storage::v1::ProfileRecord* record) {
  absl::Status decoded = DecodeRecord(kProfileTag, bytes, kProfileRecordVersion, record);
  if (decoded.ok() && record->profile().profile_id() != profile_id) {
    decoded = absl::DataLossError(absl::StrCat(
        "record names profile ", Quoted(absl::CHexEscape(record->profile().profile_id())),
        ", not the one of its row"));
  }
  return decoded;
}

// Locks the tenant's counter row (creating it at 0) and returns the count:
// every profile write of the tenant takes this lock first.
uint64_t LockTenant(pgi::Transaction& tx, const std::string& tenant) {
  pqxx::result rows = tx.Exec(pgi::kLockTenant, tenant);
  if (rows.empty()) {
    tx.Exec(pgi::kInsertTenant, tenant);
    rows = tx.Exec(pgi::kLockTenant, tenant);
  }
  const int64_t count = rows.empty() ? 0 : rows[0][0].as<int64_t>();
  return count > 0 ? static_cast<uint64_t>(count) : 0;
}

// Tells every change feed (storage/postgres_change_feed.h), on commit.
void Notify(pgi::Transaction& tx, const ProfileChange& change) {
  tx.Exec(pgi::kNotifyChange, EncodeProfileChange(change));
}

// A text[] literal of ids: they hold no quotes, backslashes, commas or braces
// (storage/ids.h).
std::string TextArray(std::vector<std::string>::const_iterator begin,
                      std::vector<std::string>::const_iterator end) {
  std::string out = "{";
  for (auto it = begin; it != end; ++it) {
    if (it != begin) out += ',';
    absl::StrAppend(&out, "\"", *it, "\"");
  }
  return out + "}";
}

}  // namespace

absl::StatusOr<PostgresProfileStore::ProfileState> PostgresProfileStore::ReadProfileState(
    Transaction& tx, const std::string& tenant, const std::string& profile_id) {
  pqxx::result rows = tx.Exec(pgi::kSelectProfile, tenant, profile_id);
  ProfileState state;
  if (rows.empty()) return state;
  const int64_t column_version = rows[0][0].as<int64_t>();
  absl::Status decoded = DecodeProfile(BytesOf(rows[0][1]), profile_id, &state.record);
  if (decoded.ok() && state.record.profile().version() != static_cast<uint64_t>(column_version)) {
    decoded = absl::DataLossError(absl::StrCat(
        "record has version ", state.record.profile().version(), ", its row ", column_version));
  }
  if (!decoded.ok()) {
    state.kind = ProfileState::kCorrupt;
    state.corruption = absl::DataLossError(absl::StrCat(
        "profile ", Quoted(profile_id), ": stored record is unreadable (", decoded.message(),
        "); other profiles are unaffected. Delete it (without expected_version) and publish "
        "or import it again"));
    state.record.Clear();
    // The row's version column survives the record: versions go on from it.
    state.version = column_version > 0 ? static_cast<uint64_t>(column_version) : 0;
    return state;
  }
  state.kind = state.record.deleted() ? ProfileState::kDeleted : ProfileState::kLive;
  state.version = state.record.profile().version();
  return state;
}

absl::Status PostgresProfileStore::CheckBank(const v1::Profile& profile) const {
  return CheckProfileBank(profile,
                          {meta_.bank_fingerprints().begin(), meta_.bank_fingerprints().end()});
}

absl::Status PostgresProfileStore::CheckQuota(std::string_view tenant,
                                              uint64_t live_profiles) const {
  if (options_.max_profiles_per_tenant > 0 && live_profiles >= options_.max_profiles_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant ", Quoted(tenant), " has ", live_profiles, " profiles, its quota is ",
        options_.max_profiles_per_tenant, "; delete profiles before creating new ones"));
  }
  if (options_.quota_check) return options_.quota_check(tenant, live_profiles);
  return absl::OkStatus();
}

absl::StatusOr<v1::Profile> PostgresProfileStore::PublishProfile(std::string_view tenant,
                                                                 std::string_view profile_id,
                                                                 PublishProfileRequest request) {
  MASKSERVE_RETURN_IF_ERROR(CheckPublicationIds(tenant, profile_id, request));
  MASKSERVE_RETURN_IF_ERROR(CheckBank(request.profile));
  PublishCheck check;
  check.expected_version = request.expected_version;
  return Publish(tenant, profile_id, std::move(request), check);
}

absl::StatusOr<v1::Profile> PostgresProfileStore::Publish(std::string_view tenant_view,
                                                          std::string_view id_view,
                                                          PublishProfileRequest request,
                                                          const PublishCheck& check) {
  MASKSERVE_RETURN_IF_ERROR(CheckPayloadSize(request, options_.max_payload_bytes));
  const std::string tenant(tenant_view);
  const std::string profile_id(id_view);
  v1::Profile published;
  MASKSERVE_RETURN_IF_ERROR(
      Write("publish profile", WriteKind::kDurable, [&](Transaction& tx) -> absl::Status {
        const uint64_t count = LockTenant(tx, tenant);
        MASKSERVE_ASSIGN_OR_RETURN(const ProfileState state,
                                   ReadProfileState(tx, tenant, profile_id));
        if (state.kind == ProfileState::kCorrupt) return state.corruption;
        const bool live = state.kind == ProfileState::kLive;
        const uint64_t version = state.version;
        if (check.must_not_exist && live) {
          return absl::AlreadyExistsError(absl::StrCat("profile_id: profile ", Quoted(profile_id),
                                                       " already exists (version ", version,
                                                       "); set overwrite to replace it"));
        }
        if (check.expected_version.has_value()) {
          const uint64_t current = live ? version : 0;
          if (*check.expected_version != current) {
            return absl::FailedPreconditionError(absl::StrCat(
                "expected_version: profile ", Quoted(profile_id), " is at version ", current,
                live ? "" : " (it does not exist)", ", not ", *check.expected_version));
          }
        }
        const absl::Time now = Now();
        if (!live) MASKSERVE_RETURN_IF_ERROR(CheckQuota(tenant, count));

        storage::v1::ProfileRecord record;
        record.set_format_version(kProfileRecordVersion);
        v1::Profile& profile = *record.mutable_profile();
        profile = request.profile;
        profile.set_profile_id(profile_id);
        profile.set_version(version + 1);
        if (live) {
          *profile.mutable_create_time() = state.record.profile().create_time();
        } else {
          SetTimestamp(now, profile.mutable_create_time());
        }
        SetTimestamp(now, profile.mutable_update_time());
        record.set_payload(request.payload);

        if (request.finished_job.has_value()) {
          const v1::TrainingJob& finished = *request.finished_job;
          MASKSERVE_ASSIGN_OR_RETURN(
              storage::v1::JobRecord job_record,
              ReadJobRecord(tx, tenant, finished.job_id(), /*for_update=*/true));
          MASKSERVE_RETURN_IF_ERROR(CheckJobCanFinish(job_record.job(), profile_id));
          ApplyJobUpdate(finished, v1::SUCCEEDED, now, &job_record);
          job_record.mutable_job()->set_published_version(profile.version());
          if (profile.training_job_id().empty()) profile.set_training_job_id(finished.job_id());
          tx.Exec(pgi::kUpdateJob, tenant, finished.job_id(), false,
                  Bytes(EncodeRecord(kJobTag, job_record)));
        }
        if (!live) tx.Exec(pgi::kAddToCount, tenant, int64_t{1});
        tx.Exec(pgi::kUpsertProfile, tenant, profile_id, static_cast<int64_t>(profile.version()),
                false, Bytes(EncodeRecord(kProfileTag, record)));
        Notify(tx, {tenant, profile_id, profile.version(), /*deleted=*/false, now});
        published = record.profile();
        return absl::OkStatus();
      }));
  return published;
}

absl::StatusOr<StoredProfile> PostgresProfileStore::GetProfile(std::string_view tenant,
                                                               std::string_view profile_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  ProfileState state;
  MASKSERVE_RETURN_IF_ERROR(ReadOne("read profile", [&](Transaction& tx) -> absl::Status {
    MASKSERVE_ASSIGN_OR_RETURN(state,
                               ReadProfileState(tx, std::string(tenant), std::string(profile_id)));
    return absl::OkStatus();
  }));
  if (state.kind == ProfileState::kCorrupt) return state.corruption;
  if (state.kind != ProfileState::kLive) return ProfileNotFound(profile_id);
  StoredProfile out;
  out.profile = std::move(*state.record.mutable_profile());
  out.payload = std::move(*state.record.mutable_payload());
  return out;
}

absl::StatusOr<uint64_t> PostgresProfileStore::DeleteProfile(
    std::string_view tenant_view, std::string_view id_view,
    std::optional<uint64_t> expected_version) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant_view));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(id_view));
  const std::string tenant(tenant_view);
  const std::string profile_id(id_view);
  uint64_t deleted_version = 0;
  MASKSERVE_RETURN_IF_ERROR(
      Write("delete profile", WriteKind::kDurable, [&](Transaction& tx) -> absl::Status {
        LockTenant(tx, tenant);
        MASKSERVE_ASSIGN_OR_RETURN(const ProfileState state,
                                   ReadProfileState(tx, tenant, profile_id));
        const uint64_t version = state.version;
        if (state.kind == ProfileState::kAbsent || state.kind == ProfileState::kDeleted) {
          return ProfileNotFound(profile_id);
        }
        if (state.kind == ProfileState::kCorrupt && expected_version.has_value()) {
          return state.corruption;
        }
        if (state.kind == ProfileState::kLive && expected_version.has_value() &&
            *expected_version != version) {
          return absl::FailedPreconditionError(absl::StrCat("expected_version: profile ",
                                                            Quoted(profile_id), " is at version ",
                                                            version, ", not ", *expected_version));
        }
        storage::v1::ProfileRecord tombstone;
        tombstone.set_format_version(kProfileRecordVersion);
        tombstone.mutable_profile()->set_profile_id(profile_id);
        tombstone.mutable_profile()->set_version(version);
        tombstone.set_deleted(true);
        SetTimestamp(Now(), tombstone.mutable_delete_time());
        tx.Exec(pgi::kUpsertProfile, tenant, profile_id, static_cast<int64_t>(version), true,
                Bytes(EncodeRecord(kProfileTag, tombstone)));
        tx.Exec(pgi::kAddToCount, tenant, int64_t{-1});
        Notify(tx, {tenant, profile_id, version, /*deleted=*/true, Now()});
        deleted_version = version;
        return absl::OkStatus();
      }));
  return deleted_version;
}

absl::StatusOr<ListProfilesResult> PostgresProfileStore::ListProfiles(std::string_view tenant_view,
                                                                      const PageRequest& page) {
  MASKSERVE_ASSIGN_OR_RETURN(const ListingPage listing,
                             StartListing(kProfilesListing, tenant_view, page));
  const std::string tenant(tenant_view);
  const uint32_t page_size = listing.size;
  ListProfilesResult result;
  MASKSERVE_RETURN_IF_ERROR(Read("list profiles", [&](Transaction& tx) -> absl::Status {
    result = ListProfilesResult();
    pqxx::result count = tx.Exec(pgi::kSelectCount, tenant);
    result.total_count = count.empty() ? 0 : count[0][0].as<uint64_t>();
    // Only live rows (the partial index): tombstones cost nothing here. One
    // more row than the page holds tells whether another page follows.
    std::string after = listing.after;
    const int64_t chunk = static_cast<int64_t>(page_size) + 1;
    size_t page_bytes = 0;
    std::string last_seen;
    for (;;) {
      pqxx::result rows = tx.Exec(pgi::kListLiveProfiles, tenant, after, chunk);
      for (const pqxx::row& row : rows) {
        std::string id = row[0].as<std::string>();
        after = id;
        if (!last_seen.empty() && page_bytes >= options_.list_page_bytes) {
          result.next_page_token = EncodePageToken(kProfilesListing, tenant, last_seen);
          return absl::OkStatus();
        }
        storage::v1::ProfileRecord record;
        absl::Status decoded = DecodeProfile(BytesOf(row[1]), id, &record);
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
          return absl::OkStatus();
        }
        page_bytes += record.profile().ByteSizeLong();
        result.profiles.push_back(std::move(*record.mutable_profile()));
        last_seen = std::move(id);
      }
      if (static_cast<int64_t>(rows.size()) < chunk) return absl::OkStatus();
    }
  }));
  return result;
}

absl::StatusOr<uint64_t> PostgresProfileStore::CountProfiles(std::string_view tenant) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  uint64_t out = 0;
  MASKSERVE_RETURN_IF_ERROR(ReadOne("count profiles", [&](Transaction& tx) {
    pqxx::result rows = tx.Exec(pgi::kSelectCount, std::string(tenant));
    out = rows.empty() ? 0 : rows[0][0].as<uint64_t>();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<uint64_t> PostgresProfileStore::TotalProfileCount() {
  uint64_t out = 0;
  MASKSERVE_RETURN_IF_ERROR(ReadOne("count all profiles", [&](Transaction& tx) {
    pqxx::result rows = tx.Exec(pgi::kSelectTotalCount);
    out = rows.empty() ? 0 : rows[0][0].as<uint64_t>();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<uint64_t>> PostgresProfileStore::GetProfileVersions(
    std::string_view tenant_view, const std::vector<std::string>& profile_ids) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant_view));
  for (const std::string& id : profile_ids) MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(id));
  const std::string tenant(tenant_view);
  constexpr size_t kChunk = 1000;
  std::vector<uint64_t> versions(profile_ids.size(), 0);
  for (size_t start = 0; start < profile_ids.size(); start += kChunk) {
    const size_t end = std::min(profile_ids.size(), start + kChunk);
    std::map<std::string, uint64_t> found;
    MASKSERVE_RETURN_IF_ERROR(ReadOne("read profile versions", [&](Transaction& tx) {
      found.clear();
      pqxx::result rows = tx.Exec(pgi::kSelectProfileVersions, tenant,
                                  TextArray(profile_ids.begin() + start, profile_ids.begin() + end));
      for (const pqxx::row& row : rows) {
        const int64_t version = row[1].as<int64_t>();
        found[row[0].as<std::string>()] = row[2].as<bool>() || version < 0 ? 0 : version;
      }
      return absl::OkStatus();
    }));
    for (size_t i = start; i < end; ++i) {
      auto it = found.find(profile_ids[i]);
      if (it != found.end()) versions[i] = it->second;
    }
  }
  return versions;
}

absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> PostgresProfileStore::WatchProfileChanges(
    ProfileChangeSubscriber* subscriber) {
  PostgresChangeFeed::Options options = options_.change_feed;
  options.url = options_.url;
  return std::unique_ptr<ProfileChangeFeed>(
      std::make_unique<PostgresChangeFeed>(std::move(options), subscriber));
}

absl::StatusOr<ExportedProfile> PostgresProfileStore::ExportProfile(std::string_view tenant,
                                                                    std::string_view profile_id) {
  MASKSERVE_ASSIGN_OR_RETURN(StoredProfile stored, GetProfile(tenant, profile_id));
  return MakeExportedProfile(stored, Now());
}

absl::StatusOr<v1::Profile> PostgresProfileStore::ImportProfile(
    std::string_view tenant, std::string_view profile_id, std::string_view data,
    const ImportProfileOptions& options) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(PublishProfileRequest request, ImportRequestFromExport(data));
  MASKSERVE_RETURN_IF_ERROR(CheckBank(request.profile));
  PublishCheck check;
  check.must_not_exist = !options.overwrite;
  return Publish(tenant, profile_id, std::move(request), check);
}

}  // namespace maskserve
