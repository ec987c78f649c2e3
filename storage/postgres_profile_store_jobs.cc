// PostgresProfileStore: training-job operations (create, get, update, list,
// unfinished jobs for re-queueing).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/absl_compat.h"
#include "storage/ids.h"
#include "storage/job_id.h"
#include "storage/job_records.h"
#include "storage/page_token.h"
#include "storage/postgres_connection.h"
#include "storage/postgres_profile_store.h"
#include "storage/postgres_schema.h"
#include "storage/record_codec.h"
#include "storage/status_macros.h"
#include "storage/store_requests.h"
#include "storage/time_util.h"

namespace maskserve {
namespace pgi = postgres_internal;

namespace {

using pgi::Bytes;
using pgi::BytesOf;

// Rows read per round trip while listing.
constexpr int64_t kListChunk = 256;

std::string Quoted(std::string_view id) { return absl::StrCat("\"", Sv(id), "\""); }

absl::Status DecodeJob(std::string_view bytes, std::string_view tenant, std::string_view job_id,
                       storage::v1::JobRecord* record) {
  absl::Status decoded = DecodeRecord(kJobTag, bytes, kJobFormatVersion, record);
  if (decoded.ok() && record->job().job_id() != job_id) {
    decoded = absl::DataLossError("record names another job than its row");
  }
  if (decoded.ok() && record->tenant() != tenant) {
    decoded = absl::DataLossError("record belongs to another tenant than its row");
  }
  if (decoded.ok()) return decoded;
  return absl::DataLossError(absl::StrCat("job ", Quoted(job_id), ": stored record is unreadable (",
                                          decoded.message(), ")"));
}

StoredJob ToStoredJob(storage::v1::JobRecord record) {
  StoredJob out;
  out.tenant = std::move(*record.mutable_tenant());
  out.job = std::move(*record.mutable_job());
  out.request = std::move(*record.mutable_request());
  return out;
}

}  // namespace

absl::StatusOr<storage::v1::JobRecord> PostgresProfileStore::ReadJobRecord(
    Transaction& tx, const std::string& tenant, const std::string& job_id, bool for_update) {
  pqxx::result rows =
      tx.Exec(for_update ? pgi::kSelectJobForUpdate : pgi::kSelectJob, tenant, job_id);
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat("job_id: job ", Quoted(job_id), " not found"));
  }
  storage::v1::JobRecord record;
  MASKSERVE_RETURN_IF_ERROR(DecodeJob(BytesOf(rows[0][0]), tenant, job_id, &record));
  return record;
}

absl::StatusOr<v1::TrainingJob> PostgresProfileStore::CreateJob(
    std::string_view tenant, const v1::TrainProfileRequest& request,
    const v1::TrainingJob& initial) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request.profile_id()));
  storage::v1::JobRecord record;
  record.set_format_version(kJobFormatVersion);
  record.set_tenant(std::string(tenant));
  *record.mutable_job() = NewJob(job_ids_.Next(), request, initial, Now());
  *record.mutable_request() = request;
  const std::string encoded = EncodeRecord(kJobTag, record);
  MASKSERVE_RETURN_IF_ERROR(Write("create job", WriteKind::kDurable, [&](Transaction& tx) {
    tx.Exec(pgi::kInsertJob, record.tenant(), record.job().job_id(), true, Bytes(encoded));
    return absl::OkStatus();
  }));
  return std::move(*record.mutable_job());
}

absl::StatusOr<StoredJob> PostgresProfileStore::GetJob(std::string_view tenant,
                                                       std::string_view job_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job_id));
  storage::v1::JobRecord record;
  MASKSERVE_RETURN_IF_ERROR(ReadOne("read job", [&](Transaction& tx) -> absl::Status {
    MASKSERVE_ASSIGN_OR_RETURN(record, ReadJobRecord(tx, std::string(tenant), std::string(job_id),
                                                     /*for_update=*/false));
    return absl::OkStatus();
  }));
  return ToStoredJob(std::move(record));
}

absl::StatusOr<v1::TrainingJob> PostgresProfileStore::UpdateJob(std::string_view tenant_view,
                                                                const v1::TrainingJob& job) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant_view));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job.job_id()));
  // A final state is committed durably; progress need not be (as RocksDB's
  // unsynced progress: a crash may lose the latest progress, never the job).
  const bool final = IsFinalJobState(job.state());
  const std::string tenant(tenant_view);
  v1::TrainingJob updated;
  MASKSERVE_RETURN_IF_ERROR(Write(
      "update job", final ? WriteKind::kDurable : WriteKind::kProgress,
      [&](Transaction& tx) -> absl::Status {
        // The row lock orders concurrent updates of the job, and a publish
        // finishing it.
        MASKSERVE_ASSIGN_OR_RETURN(storage::v1::JobRecord record,
                                   ReadJobRecord(tx, tenant, job.job_id(), /*for_update=*/true));
        MASKSERVE_RETURN_IF_ERROR(CheckJobUpdate(record.job(), job));
        ApplyJobUpdate(job, job.state(), Now(), &record);
        if (job.state() == v1::QUEUED) {  // back in the queue: nobody holds it
          record.clear_lease_owner();
          record.clear_lease_expire_time();
        }
        tx.Exec(pgi::kUpdateJob, tenant, job.job_id(), !final,
                Bytes(EncodeRecord(kJobTag, record)));
        updated = record.job();
        return absl::OkStatus();
      }));
  return updated;
}

absl::StatusOr<StoredJob> PostgresProfileStore::ClaimJob(std::string_view tenant_view,
                                                         std::string_view job_id_view,
                                                         const JobLease& lease) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant_view));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job_id_view));
  const std::string tenant(tenant_view);
  const std::string job_id(job_id_view);
  storage::v1::JobRecord record;
  MASKSERVE_RETURN_IF_ERROR(
      Write("claim job", WriteKind::kDurable, [&](Transaction& tx) -> absl::Status {
        // SKIP LOCKED: a job another trainer is claiming (or updating) right
        // now is not waited for; this trainer moves on to another job.
        pqxx::result rows = tx.Exec(pgi::kSelectJobSkipLocked, tenant, job_id);
        if (rows.empty()) {
          MASKSERVE_RETURN_IF_ERROR(
              ReadJobRecord(tx, tenant, job_id, /*for_update=*/false).status());
          return absl::FailedPreconditionError(
              absl::StrCat("job_id: job ", Quoted(job_id), " is being claimed by another trainer"));
        }
        MASKSERVE_RETURN_IF_ERROR(DecodeJob(BytesOf(rows[0][0]), tenant, job_id, &record));
        MASKSERVE_RETURN_IF_ERROR(CheckJobNotFinal(record.job()));
        const absl::Time now = Now();
        if (!record.lease_owner().empty() && record.lease_owner() != lease.owner &&
            FromTimestamp(record.lease_expire_time()) > now) {
          return absl::FailedPreconditionError(absl::StrCat(
              "job_id: job ", Quoted(job_id), " is held by trainer ", record.lease_owner(),
              " until ", absl::FormatTime(FromTimestamp(record.lease_expire_time()))));
        }
        record.set_lease_owner(lease.owner);
        SetTimestamp(now + lease.duration, record.mutable_lease_expire_time());
        tx.Exec(pgi::kUpdateJob, tenant, job_id, true, Bytes(EncodeRecord(kJobTag, record)));
        return absl::OkStatus();
      }));
  return ToStoredJob(std::move(record));
}

absl::StatusOr<v1::TrainingJob> PostgresProfileStore::RenewJobLease(std::string_view tenant_view,
                                                                    std::string_view job_id_view,
                                                                    const JobLease& lease) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant_view));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job_id_view));
  const std::string tenant(tenant_view);
  const std::string job_id(job_id_view);
  v1::TrainingJob job;
  MASKSERVE_RETURN_IF_ERROR(
      Write("renew job lease", WriteKind::kProgress, [&](Transaction& tx) -> absl::Status {
        MASKSERVE_ASSIGN_OR_RETURN(storage::v1::JobRecord record,
                                   ReadJobRecord(tx, tenant, job_id, /*for_update=*/true));
        MASKSERVE_RETURN_IF_ERROR(CheckJobNotFinal(record.job()));
        if (record.lease_owner() != lease.owner) {
          return absl::FailedPreconditionError(
              absl::StrCat("job_id: job ", Quoted(job_id), " is now held by trainer ",
                           record.lease_owner().empty() ? "(none)" : record.lease_owner()));
        }
        SetTimestamp(Now() + lease.duration, record.mutable_lease_expire_time());
        tx.Exec(pgi::kUpdateJob, tenant, job_id, true, Bytes(EncodeRecord(kJobTag, record)));
        job = record.job();
        return absl::OkStatus();
      }));
  return job;
}

absl::StatusOr<ListJobsResult> PostgresProfileStore::ListJobs(std::string_view tenant_view,
                                                              const JobFilter& filter,
                                                              const PageRequest& page) {
  MASKSERVE_ASSIGN_OR_RETURN(const ListingPage listing, StartJobListing(tenant_view, filter, page));
  const std::string tenant(tenant_view);
  const uint32_t page_size = listing.size;
  ListJobsResult result;
  MASKSERVE_RETURN_IF_ERROR(Read("list jobs", [&](Transaction& tx) -> absl::Status {
    result = ListJobsResult();
    // Newest first: job ids sort by creation time.
    std::string before = listing.after;
    for (;;) {
      pqxx::result rows = before.empty()
                              ? tx.Exec(pgi::kListJobsFirst, tenant, kListChunk)
                              : tx.Exec(pgi::kListJobsBefore, tenant, before, kListChunk);
      for (const pqxx::row& row : rows) {
        std::string job_id = row[0].as<std::string>();
        before = job_id;
        storage::v1::JobRecord record;
        absl::Status decoded = DecodeJob(BytesOf(row[1]), tenant, job_id, &record);
        if (!decoded.ok()) {
          result.unreadable.push_back({job_id, decoded});
          continue;
        }
        if (!JobMatchesFilter(record.job(), filter)) continue;
        if (result.jobs.size() == page_size) {
          result.next_page_token =
              EncodePageToken(kJobsListing, tenant, result.jobs.back().job_id());
          return absl::OkStatus();
        }
        result.jobs.push_back(std::move(*record.mutable_job()));
      }
      if (static_cast<int64_t>(rows.size()) < kListChunk) return absl::OkStatus();
    }
  }));
  return result;
}

absl::StatusOr<UnfinishedJobs> PostgresProfileStore::ListUnfinishedJobs() {
  UnfinishedJobs result;
  MASKSERVE_RETURN_IF_ERROR(Read("list unfinished jobs", [&](Transaction& tx) -> absl::Status {
    result = UnfinishedJobs();
    // Oldest first (job id order), across tenants.
    std::string after_job;
    std::string after_tenant;
    for (;;) {
      pqxx::result rows = tx.Exec(pgi::kListUnfinishedJobs, after_job, after_tenant, kListChunk);
      for (const pqxx::row& row : rows) {
        std::string tenant = row[0].as<std::string>();
        std::string job_id = row[1].as<std::string>();
        after_job = job_id;
        after_tenant = tenant;
        storage::v1::JobRecord record;
        absl::Status decoded = DecodeJob(BytesOf(row[2]), tenant, job_id, &record);
        if (!decoded.ok()) {
          result.unreadable.push_back({job_id, decoded});
          continue;
        }
        if (IsFinalJobState(record.job().state())) continue;  // written together: cannot happen
        result.jobs.push_back(ToStoredJob(std::move(record)));
      }
      if (static_cast<int64_t>(rows.size()) < kListChunk) return absl::OkStatus();
    }
  }));
  return result;
}

}  // namespace maskserve
