// RocksDbProfileStore: training-job operations (create, get, update, list,
// unfinished jobs for re-queueing).
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/absl_compat.h"
#include "storage/ids.h"
#include "storage/job_id.h"
#include "storage/job_records.h"
#include "storage/page_token.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/rocksdb_status.h"
#include "storage/status_macros.h"
#include "storage/store_keys.h"
#include "storage/store_requests.h"

namespace maskserve {
namespace {

std::string Quoted(std::string_view id) { return absl::StrCat("\"", Sv(id), "\""); }

absl::Status DecodeJob(std::string_view value, std::string_view job_id,
                       storage::v1::JobRecord* record) {
  absl::Status decoded = DecodeRecord(kJobTag, value, kJobFormatVersion, record);
  if (decoded.ok() && record->job().job_id() != job_id) {
    decoded = absl::DataLossError("record names another job than its key");
  }
  if (decoded.ok()) return decoded;
  return absl::DataLossError(absl::StrCat("job ", Quoted(job_id), ": stored record is unreadable (",
                                          decoded.message(), ")"));
}

}  // namespace

absl::StatusOr<storage::v1::JobRecord> RocksDbProfileStore::ReadJobRecord(std::string_view tenant,
                                                                          std::string_view job_id) {
  MASKSERVE_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             ReadRaw(jobs_, store_keys::JobKey(tenant, job_id), "read job"));
  if (!value.has_value()) {
    return absl::NotFoundError(absl::StrCat("job_id: job ", Quoted(job_id), " not found"));
  }
  storage::v1::JobRecord record;
  MASKSERVE_RETURN_IF_ERROR(DecodeJob(*value, job_id, &record));
  if (record.tenant() != tenant) {
    return absl::DataLossError(
        absl::StrCat("job ", Quoted(job_id), ": record belongs to another tenant"));
  }
  return record;
}

absl::StatusOr<v1::TrainingJob> RocksDbProfileStore::CreateJob(
    std::string_view tenant, const v1::TrainProfileRequest& request,
    const v1::TrainingJob& initial) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request.profile_id()));
  storage::v1::JobRecord record;
  record.set_format_version(kJobFormatVersion);
  record.set_tenant(std::string(tenant));
  *record.mutable_job() = NewJob(job_ids_.Next(), request, initial, Now());
  *record.mutable_request() = request;
  const std::string& job_id = record.job().job_id();
  rocksdb::WriteBatch batch;
  batch.Put(jobs_, store_keys::JobKey(tenant, job_id), EncodeRecord(kJobTag, record));
  batch.Put(jobs_, store_keys::UnfinishedJobKey(job_id), FrameBytes(kUnfinishedJobTag, tenant));
  MASKSERVE_RETURN_IF_ERROR(Commit(&batch, /*sync=*/true, "create job"));
  return std::move(*record.mutable_job());
}

absl::StatusOr<StoredJob> RocksDbProfileStore::GetJob(std::string_view tenant,
                                                      std::string_view job_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job_id));
  MASKSERVE_ASSIGN_OR_RETURN(storage::v1::JobRecord record, ReadJobRecord(tenant, job_id));
  StoredJob out;
  out.tenant = std::move(*record.mutable_tenant());
  out.job = std::move(*record.mutable_job());
  out.request = std::move(*record.mutable_request());
  return out;
}

absl::StatusOr<v1::TrainingJob> RocksDbProfileStore::UpdateJob(std::string_view tenant,
                                                               const v1::TrainingJob& job) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateJobId(job.job_id()));
  absl::MutexLock lock(&TenantLock(tenant));
  MASKSERVE_ASSIGN_OR_RETURN(storage::v1::JobRecord record, ReadJobRecord(tenant, job.job_id()));
  MASKSERVE_RETURN_IF_ERROR(CheckJobUpdate(record.job(), job));
  ApplyJobUpdate(job, job.state(), Now(), &record);
  const bool final = IsFinalJobState(job.state());
  rocksdb::WriteBatch batch;
  batch.Put(jobs_, store_keys::JobKey(tenant, job.job_id()), EncodeRecord(kJobTag, record));
  if (final) batch.Delete(jobs_, store_keys::UnfinishedJobKey(job.job_id()));
  // Progress is not synced (a crash may lose the latest progress, never the
  // job); a final state is.
  MASKSERVE_RETURN_IF_ERROR(Commit(&batch, /*sync=*/final, "update job"));
  return std::move(*record.mutable_job());
}

absl::StatusOr<ListJobsResult> RocksDbProfileStore::ListJobs(std::string_view tenant,
                                                             const JobFilter& filter,
                                                             const PageRequest& page) {
  MASKSERVE_ASSIGN_OR_RETURN(const ListingPage listing, StartJobListing(tenant, filter, page));
  const uint32_t page_size = listing.size;
  const std::string& before = listing.after;
  const std::string prefix = store_keys::JobPrefix(tenant);
  const std::string end = store_keys::PrefixEnd(prefix);
  rocksdb::Slice lower(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  read.iterate_lower_bound = &lower;
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, jobs_));
  if (before.empty()) {
    it->SeekToLast();
  } else {
    const std::string key = store_keys::JobKey(tenant, before);
    it->SeekForPrev(key);
    if (it->Valid() && it->key() == rocksdb::Slice(key)) it->Prev();
  }
  ListJobsResult result;
  for (; it->Valid(); it->Prev()) {
    std::string job_id(it->key().ToStringView().substr(prefix.size()));
    storage::v1::JobRecord record;
    absl::Status decoded = DecodeJob(it->value().ToStringView(), job_id, &record);
    if (!decoded.ok()) {
      result.unreadable.push_back({job_id, decoded});
      continue;
    }
    if (!JobMatchesFilter(record.job(), filter)) continue;
    if (result.jobs.size() == page_size) {
      result.next_page_token = EncodePageToken(kJobsListing, tenant, result.jobs.back().job_id());
      break;
    }
    result.jobs.push_back(std::move(*record.mutable_job()));
  }
  MASKSERVE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "list jobs"));
  return result;
}

absl::StatusOr<UnfinishedJobs> RocksDbProfileStore::ListUnfinishedJobs() {
  const std::string prefix(store_keys::kUnfinishedPrefix);
  const std::string end = store_keys::PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, jobs_));
  UnfinishedJobs result;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string job_id(it->key().ToStringView().substr(prefix.size()));
    absl::StatusOr<std::string_view> tenant =
        UnframeBytes(kUnfinishedJobTag, it->value().ToStringView());
    absl::Status valid = tenant.ok() ? ValidateTenant(*tenant) : tenant.status();
    if (!valid.ok()) {
      result.unreadable.push_back({job_id, absl::DataLossError(absl::StrCat(
                                               "unfinished-job index entry of ", Quoted(job_id),
                                               " is unreadable (", valid.message(), ")"))});
      continue;
    }
    absl::StatusOr<storage::v1::JobRecord> record = ReadJobRecord(*tenant, job_id);
    if (!record.ok()) {
      result.unreadable.push_back({job_id, record.status()});
      continue;
    }
    if (IsFinalJobState(record->job().state())) continue;  // cannot happen: same batch
    StoredJob job;
    job.tenant = std::move(*record->mutable_tenant());
    job.job = std::move(*record->mutable_job());
    job.request = std::move(*record->mutable_request());
    result.jobs.push_back(std::move(job));
  }
  MASKSERVE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "list unfinished jobs"));
  return result;
}

}  // namespace maskserve
