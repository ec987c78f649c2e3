// PostgresProfileStore: opening, schema and meta, transactions, health,
// backups and the test hooks. Profile operations are in
// postgres_profile_store_profiles.cc, job operations in
// postgres_profile_store_jobs.cc.
#include "storage/postgres_profile_store.h"

#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "storage/absl_compat.h"
#include "storage/postgres_connection.h"
#include "storage/postgres_schema.h"
#include "storage/record_codec.h"
#include "storage/status_macros.h"
#include "storage/store_meta.h"

namespace maskserve {

using postgres_internal::Bytes;
using postgres_internal::BytesOf;
using postgres_internal::ConnectionPool;
using postgres_internal::RunTransaction;
using postgres_internal::TxMode;

absl::StatusOr<std::unique_ptr<PostgresProfileStore>> PostgresProfileStore::Open(Options options) {
  if (options.url.empty()) {
    return absl::InvalidArgumentError("url: required (a libpq URI, postgresql://...)");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool_size: must be at least 1, not ", options.pool_size));
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  auto pool = std::make_unique<ConnectionPool>(options.url, options.pool_size);
  MASKSERVE_RETURN_IF_ERROR(postgres_internal::MigrateSchema(*pool));
  auto store = absl::WrapUnique(new PostgresProfileStore(std::move(options), std::move(pool)));
  MASKSERVE_RETURN_IF_ERROR(store->LoadMeta());
  return store;
}

PostgresProfileStore::PostgresProfileStore(Options options, std::unique_ptr<ConnectionPool> pool)
    : options_(std::move(options)),
      pool_(std::move(pool)),
      job_ids_(options_.job_id_seed, options_.clock) {}

PostgresProfileStore::~PostgresProfileStore() = default;

absl::Status PostgresProfileStore::LoadMeta() {
  constexpr char kContext[] = "database store meta";
  return Write(kContext, WriteKind::kDurable, [&](Transaction& tx) -> absl::Status {
    // Concurrent Open()s reconcile one after the other.
    tx.Exec(postgres_internal::kLockSchema, postgres_internal::kSchemaLockKey);
    pqxx::result rows = tx.Exec(postgres_internal::kSelectMeta);
    std::optional<storage::v1::StoreMeta> existing;
    if (!rows.empty()) {
      existing.emplace();
      absl::Status decoded =
          DecodeRecord(kMetaTag, BytesOf(rows[0][0]), kMetaFormatVersion, &*existing);
      if (!decoded.ok()) {
        return absl::DataLossError(
            absl::StrCat(kContext, " record unreadable: ", decoded.message()));
      }
    }
    FingerprintRequest request{options_.backbone_fingerprint, options_.bank_fingerprints,
                               options_.migrate_fingerprints};
    bool changed = false;
    MASKSERVE_ASSIGN_OR_RETURN(meta_,
                               ReconcileStoreMeta(existing, request, Now(), "database", &changed));
    if (changed) tx.Exec(postgres_internal::kUpsertMeta, Bytes(EncodeRecord(kMetaTag, meta_)));
    return absl::OkStatus();
  });
}

absl::Status PostgresProfileStore::Write(std::string_view context, WriteKind kind,
                                         const std::function<absl::Status(Transaction&)>& body) {
  bool infrastructure = false;
  absl::Status status = RunTransaction(
      *pool_, context, kind == WriteKind::kDurable ? TxMode::kReadWrite : TxMode::kReadWriteAsync,
      body, &infrastructure);
  if (status.ok() || infrastructure) {
    absl::MutexLock lock(&write_error_mu_);
    write_error_ = status;
  }
  return status;
}

absl::Status PostgresProfileStore::Read(std::string_view context,
                                        const std::function<absl::Status(Transaction&)>& body) {
  return RunTransaction(*pool_, context, TxMode::kReadOnlySnapshot, body);
}

absl::Status PostgresProfileStore::ReadOne(std::string_view context,
                                           const std::function<absl::Status(Transaction&)>& body) {
  return RunTransaction(*pool_, context, TxMode::kSingleStatement, body);
}

absl::Status PostgresProfileStore::CheckWritable() {
  {
    absl::MutexLock lock(&write_error_mu_);
    if (write_error_.ok()) return absl::OkStatus();
  }
  // A committed write that changes nothing: it takes a row lock, writes WAL
  // and waits for the flush, as real writes do.
  return Write("health probe", WriteKind::kDurable, [](Transaction& tx) {
    tx.Exec(postgres_internal::kProbeWrite);
    return absl::OkStatus();
  });
}

absl::Status PostgresProfileStore::CreateCheckpoint(const std::string& dir) {
  return absl::UnimplementedError(
      "checkpoints are not taken by the PostgreSQL store: back up the database with pg_dump "
      "(or PostgreSQL's own backups: pg_basebackup, WAL archiving) and restore it with "
      "pg_restore");
}

absl::StatusOr<std::string> PostgresProfileStore::GetRawForTest(Table table,
                                                                std::string_view tenant,
                                                                std::string_view id) {
  std::optional<std::string> bytes;
  MASKSERVE_RETURN_IF_ERROR(ReadOne("raw get", [&](Transaction& tx) {
    pqxx::result rows = tx.Exec(table == Table::kProfiles ? postgres_internal::kSelectProfileRaw
                                                          : postgres_internal::kSelectJobRaw,
                                std::string(tenant), std::string(id));
    bytes.reset();
    if (!rows.empty()) bytes = BytesOf(rows[0][0]);
    return absl::OkStatus();
  }));
  if (!bytes.has_value()) return absl::NotFoundError("raw get: no such row");
  return *std::move(bytes);
}

absl::Status PostgresProfileStore::PutRawForTest(Table table, std::string_view tenant,
                                                 std::string_view id, std::string_view bytes) {
  return Write("raw put", WriteKind::kDurable, [&](Transaction& tx) -> absl::Status {
    pqxx::result rows = tx.Exec(table == Table::kProfiles ? postgres_internal::kUpdateProfileRaw
                                                          : postgres_internal::kUpdateJobRaw,
                                std::string(tenant), std::string(id), Bytes(bytes));
    if (rows.affected_rows() != 1) return absl::NotFoundError("raw put: no such row");
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> PostgresProfileStore::ExecuteSqlForTest(std::string_view sql) {
  std::string out;
  MASKSERVE_RETURN_IF_ERROR(Write("test sql", WriteKind::kDurable, [&](Transaction& tx) {
    pqxx::result rows = tx.ExecSql(std::string(sql));
    out.clear();
    if (!rows.empty() && rows.columns() > 0 && !rows[0][0].is_null()) out = rows[0][0].c_str();
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace maskserve
