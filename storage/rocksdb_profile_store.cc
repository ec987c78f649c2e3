// RocksDbProfileStore: opening, metadata, counters, backups and the raw
// helpers. Profile operations are in rocksdb_profile_store_profiles.cc, job
// operations in rocksdb_profile_store_jobs.cc.
#include "storage/rocksdb_profile_store.h"
#include "storage/absl_compat.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <system_error>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_status.h"
#include "storage/rocksdb_tuning.h"
#include "storage/status_macros.h"
#include "storage/store_keys.h"
#include "storage/store_meta.h"

namespace maskserve {
namespace {

namespace fs = std::filesystem;

bool HasStore(const std::string& dir) {
  std::error_code ec;
  return fs::exists(fs::path(dir) / "CURRENT", ec);
}

// fsync a file or directory; errors are returned, not ignored.
absl::Status SyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("open ", path.string(),
                     " to sync: ", std::error_code(errno, std::generic_category()).message()));
  }
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat(
        "fsync ", path.string(), ": ", std::error_code(saved, std::generic_category()).message()));
  }
  return absl::OkStatus();
}

absl::Status FsError(std::string_view what, const std::error_code& ec) {
  return absl::UnavailableError(absl::StrCat(Sv(what), ": ", ec.message()));
}

// A directory without CURRENT but with a store's files (an interrupted
// in-place restore, a damaged store) must not be opened: RocksDB would
// create a new, empty store over them.
absl::Status CheckNoPartialStore(const std::string& dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == ".restore-tmp" || name.rfind("MANIFEST-", 0) == 0 ||
        entry.path().extension() == ".sst") {
      return absl::FailedPreconditionError(absl::StrCat(
          "data_dir: ", dir, " holds store files (", name,
          ") but no CURRENT file: an interrupted restore or a damaged store; restore again "
          "into an empty directory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> RocksDbProfileStore::Open(Options options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  if (!options.clock) options.clock = [] { return absl::Now(); };
  MASKSERVE_ASSIGN_OR_RETURN(RocksDbTuning tuning, MakeRocksDbTuning(options));
  const std::string dir = options.data_dir;
  const bool exists = HasStore(dir);
  if (!exists && !options.create_if_missing) {
    return absl::NotFoundError(
        absl::StrCat("data_dir: no store at ", dir, " (and create_if_missing is off)"));
  }

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, store_keys::kProfilesFamily,
                                    store_keys::kJobsFamily, store_keys::kMetaFamily};
  if (exists) {
    // Open every family the store has, including ones a newer build added.
    std::vector<std::string> present;
    MASKSERVE_RETURN_IF_ERROR(
        FromRocksDbStatus(rocksdb::DB::ListColumnFamilies(tuning.db, dir, &present),
                          absl::StrCat("open store at ", dir, ": list column families")));
    for (const std::string& name : present) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  } else {
    MASKSERVE_RETURN_IF_ERROR(CheckNoPartialStore(dir));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return FsError(absl::StrCat("data_dir: create ", dir), ec);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    rocksdb::ColumnFamilyOptions cf;
    if (name == store_keys::kProfilesFamily) cf = tuning.profiles;
    if (name == store_keys::kJobsFamily) cf = tuning.jobs;
    if (name == store_keys::kMetaFamily) cf = tuning.meta;
    descriptors.emplace_back(name, cf);
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  MASKSERVE_RETURN_IF_ERROR(
      FromRocksDbStatus(rocksdb::DB::Open(tuning.db, dir, descriptors, &handles, &raw),
                        absl::StrCat("open store at ", dir)));
  auto store = absl::WrapUnique(new RocksDbProfileStore(
      std::move(options), std::unique_ptr<rocksdb::DB>(raw), std::move(handles)));
  MASKSERVE_RETURN_IF_ERROR(store->LoadMeta());
  MASKSERVE_RETURN_IF_ERROR(store->LoadCounters());
  return store;
}

RocksDbProfileStore::RocksDbProfileStore(Options options, std::unique_ptr<rocksdb::DB> db,
                                         std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(std::move(options)),
      db_(std::move(db)),
      handles_(std::move(handles)),
      job_ids_(options_.job_id_seed, options_.clock) {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle->GetName() == store_keys::kProfilesFamily) profiles_ = handle;
    if (handle->GetName() == store_keys::kJobsFamily) jobs_ = handle;
    if (handle->GetName() == store_keys::kMetaFamily) meta_family_ = handle;
  }
}

RocksDbProfileStore::~RocksDbProfileStore() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

absl::Status RocksDbProfileStore::LoadMeta() {
  const std::string context = absl::StrCat("store at ", options_.data_dir, ": meta");
  MASKSERVE_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             ReadRaw(meta_family_, store_keys::kStoreMetaKey, context));
  std::optional<storage::v1::StoreMeta> existing;
  if (value.has_value()) {
    existing.emplace();
    absl::Status decoded = DecodeRecord(kMetaTag, *value, kMetaFormatVersion, &*existing);
    if (!decoded.ok()) {
      return absl::DataLossError(absl::StrCat(context, " record unreadable: ", decoded.message()));
    }
  }
  FingerprintRequest request{options_.backbone_fingerprint, options_.bank_fingerprints,
                             options_.migrate_fingerprints};
  bool changed = false;
  MASKSERVE_ASSIGN_OR_RETURN(
      meta_, ReconcileStoreMeta(existing, request, Now(), options_.data_dir, &changed));
  if (!changed) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  batch.Put(meta_family_, std::string(store_keys::kStoreMetaKey), EncodeRecord(kMetaTag, meta_));
  return Commit(&batch, /*sync=*/true, context);
}

absl::Status RocksDbProfileStore::LoadCounters() {
  const std::string prefix(store_keys::kCounterPrefix);
  const std::string end = store_keys::PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper;
  std::vector<std::string> damaged;
  uint64_t total = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, meta_family_));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      absl::StatusOr<uint64_t> count = DecodeCounter(it->value().ToStringView());
      if (count.ok()) {
        total += *count;
      } else {
        damaged.emplace_back(it->key().ToStringView().substr(prefix.size()));
      }
    }
    MASKSERVE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "load profile counters"));
  }
  for (const std::string& tenant : damaged) {
    MASKSERVE_ASSIGN_OR_RETURN(uint64_t count, RecountTenant(tenant));
    total += count;
  }
  total_profiles_.store(total);
  return absl::OkStatus();
}

absl::Mutex& RocksDbProfileStore::TenantLock(std::string_view tenant) {
  return tenant_locks_[std::hash<std::string_view>()(tenant) % kLockStripes];
}

rocksdb::ColumnFamilyHandle* RocksDbProfileStore::FamilyHandle(Family family) const {
  switch (family) {
    case Family::kProfiles:
      return profiles_;
    case Family::kJobs:
      return jobs_;
    case Family::kMeta:
      return meta_family_;
  }
  return nullptr;
}

absl::StatusOr<std::optional<std::string>> RocksDbProfileStore::ReadRaw(
    rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view context) {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family, key, &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  MASKSERVE_RETURN_IF_ERROR(FromRocksDbStatus(status, context));
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbProfileStore::Commit(rocksdb::WriteBatch* batch, bool sync,
                                         std::string_view context) {
  rocksdb::WriteOptions write;
  write.sync = sync && options_.sync_writes;
  absl::Status status = FromRocksDbStatus(db_->Write(write, batch), context);
  absl::MutexLock lock(&write_error_mu_);
  write_error_ = status;
  return status;
}

absl::Status RocksDbProfileStore::CheckWritable() {
  {
    absl::MutexLock lock(&write_error_mu_);
    if (write_error_.ok()) return absl::OkStatus();
  }
  // RocksDB stops taking writes after a background error (e.g. a flush
  // into a full disk) until it recovers (it retries by itself; Resume()
  // asks now). The probe writes to every column family, as real writes do;
  // its key sorts before every tenant's, and the batch leaves nothing.
  (void)db_->Resume();
  rocksdb::WriteBatch probe;
  for (rocksdb::ColumnFamilyHandle* family : handles_) {
    probe.Put(family, store_keys::kHealthProbeKey, "");
    probe.Delete(family, store_keys::kHealthProbeKey);
  }
  return Commit(&probe, /*sync=*/true, "health probe");
}

absl::StatusOr<uint64_t> RocksDbProfileStore::ReadCounter(std::string_view tenant) {
  MASKSERVE_ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      ReadRaw(meta_family_, store_keys::CounterKey(tenant), "read profile counter"));
  if (!value.has_value()) return uint64_t{0};
  return DecodeCounter(*value);
}

absl::StatusOr<uint64_t> RocksDbProfileStore::RecountTenant(std::string_view tenant) {
  const std::string prefix = store_keys::ProfilePrefix(tenant);
  const std::string end = store_keys::PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper;
  uint64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, profiles_));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    storage::v1::ProfileRecord record;
    // An unreadable record still occupies its id: it counts as live.
    absl::Status decoded =
        DecodeRecord(kProfileTag, it->value().ToStringView(), kProfileRecordVersion, &record);
    if (!decoded.ok() || !record.deleted()) ++count;
  }
  MASKSERVE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "recount profiles"));
  rocksdb::WriteBatch batch;
  batch.Put(meta_family_, store_keys::CounterKey(tenant), EncodeCounter(count));
  MASKSERVE_RETURN_IF_ERROR(Commit(&batch, /*sync=*/true, "repair profile counter"));
  return count;
}

absl::Status RocksDbProfileStore::Flush() {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  return FromRocksDbStatus(db_->Flush(flush, handles_), "flush store");
}

absl::Status RocksDbProfileStore::CompactAll() {
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    MASKSERVE_RETURN_IF_ERROR(
        FromRocksDbStatus(db_->CompactRange(compact, handle, nullptr, nullptr), "compact store"));
  }
  return absl::OkStatus();
}

absl::Status RocksDbProfileStore::CreateCheckpoint(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("checkpoint_dir: required");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint_dir: ", dir, " already exists"));
  }
  fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) return FsError(absl::StrCat("checkpoint_dir: create ", parent.string()), ec);
  }
  rocksdb::Checkpoint* raw = nullptr;
  MASKSERVE_RETURN_IF_ERROR(
      FromRocksDbStatus(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: flush first, so the copy needs no WAL replay.
  return FromRocksDbStatus(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                           absl::StrCat("checkpoint to ", dir));
}

absl::Status RocksDbProfileStore::RestoreCheckpoint(const std::string& checkpoint_dir,
                                                    const std::string& data_dir) {
  if (checkpoint_dir.empty()) return absl::InvalidArgumentError("checkpoint_dir: required");
  if (data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  if (!HasStore(checkpoint_dir)) {
    return absl::NotFoundError(absl::StrCat("checkpoint_dir: ", checkpoint_dir,
                                            " holds no store checkpoint (no CURRENT file)"));
  }
  constexpr char kStaging[] = ".restore-tmp";
  const fs::path target = fs::path(data_dir);
  std::error_code ec;
  // An existing directory may be a mount point (a container volume), which
  // can be neither removed nor renamed over: restore inside it then.
  const bool in_place = fs::is_directory(target, ec);
  if (in_place) {
    for (const fs::directory_entry& entry : fs::directory_iterator(target, ec)) {
      if (entry.path().filename() != kStaging) {
        return absl::FailedPreconditionError(absl::StrCat(
            "data_dir: ", data_dir, " is not empty; restore into a new or empty directory"));
      }
    }
  } else if (fs::exists(target, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data_dir: ", data_dir, " exists and is not a directory"));
  }
  const fs::path staging = in_place ? target / kStaging : fs::path(data_dir + kStaging);
  fs::remove_all(staging, ec);  // leftover of an interrupted restore
  if (!in_place && target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  fs::copy(checkpoint_dir, staging, fs::copy_options::recursive, ec);
  if (ec) return FsError(absl::StrCat("restore: copy ", checkpoint_dir), ec);
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(staging, ec)) {
    MASKSERVE_RETURN_IF_ERROR(SyncPath(entry.path()));
  }
  if (ec) return FsError("restore: list copied files", ec);
  MASKSERVE_RETURN_IF_ERROR(SyncPath(staging));
  if (!in_place) {
    fs::rename(staging, target, ec);
    if (ec) return FsError(absl::StrCat("restore: rename into ", data_dir), ec);
    return SyncPath(target.has_parent_path() ? target.parent_path() : fs::path("."));
  }
  // In place: every file but CURRENT first, CURRENT last, so the directory
  // holds a store (HasStore) only once all of it is there.
  for (const fs::directory_entry& entry : fs::directory_iterator(staging, ec)) {
    if (entry.path().filename() == "CURRENT") continue;
    fs::rename(entry.path(), target / entry.path().filename(), ec);
    if (ec) return FsError(absl::StrCat("restore: move into ", data_dir), ec);
  }
  if (ec) return FsError("restore: list staged files", ec);
  MASKSERVE_RETURN_IF_ERROR(SyncPath(target));
  fs::rename(staging / "CURRENT", target / "CURRENT", ec);
  if (ec) return FsError(absl::StrCat("restore: move CURRENT into ", data_dir), ec);
  fs::remove(staging, ec);
  return SyncPath(target);
}

absl::Status RocksDbProfileStore::PutRawForTest(Family family, std::string_view key,
                                                std::string_view value) {
  rocksdb::WriteBatch batch;
  batch.Put(FamilyHandle(family), key, value);
  return Commit(&batch, /*sync=*/true, "raw put");
}

absl::StatusOr<std::string> RocksDbProfileStore::GetRawForTest(Family family,
                                                               std::string_view key) {
  MASKSERVE_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             ReadRaw(FamilyHandle(family), key, "raw get"));
  if (!value.has_value()) return absl::NotFoundError("raw get: no such key");
  return *std::move(value);
}

}  // namespace maskserve
