// PostgresProfileStore: schema creation and migration (see postgres_schema.h).
#include "storage/postgres_schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/postgres_connection.h"
#include "storage/status_macros.h"

namespace maskserve {
namespace postgres_internal {
namespace {

// kMigrations[n] takes the schema from version n to n + 1.
const std::vector<std::vector<std::string>>& Migrations() {
  static const auto* migrations = new std::vector<std::vector<std::string>>{
      // 0 -> 1: the first schema.
      {
          "CREATE TABLE store_meta ("
          "  id integer PRIMARY KEY CHECK (id = 1),"
          "  record bytea NOT NULL)",
          "CREATE TABLE tenants ("
          "  tenant text COLLATE \"C\" PRIMARY KEY,"
          "  live_profiles bigint NOT NULL CHECK (live_profiles >= 0))",
          "CREATE TABLE profiles ("
          "  tenant text COLLATE \"C\" NOT NULL,"
          "  profile_id text COLLATE \"C\" NOT NULL,"
          "  version bigint NOT NULL,"
          "  deleted boolean NOT NULL,"
          "  record bytea NOT NULL,"
          "  PRIMARY KEY (tenant, profile_id))",
          "CREATE INDEX profiles_live ON profiles (tenant, profile_id) WHERE NOT deleted",
          "CREATE TABLE jobs ("
          "  tenant text COLLATE \"C\" NOT NULL,"
          "  job_id text COLLATE \"C\" NOT NULL,"
          "  unfinished boolean NOT NULL,"
          "  record bytea NOT NULL,"
          "  PRIMARY KEY (tenant, job_id))",
          "CREATE INDEX jobs_unfinished ON jobs (job_id, tenant) WHERE unfinished",
      },
  };
  return *migrations;
}

}  // namespace

absl::Status MigrateSchema(ConnectionPool& pool) {
  static_assert(kPostgresSchemaVersion >= 1);
  for (;;) {
    bool done = false;
    int from = 0;
    MASKSERVE_RETURN_IF_ERROR(RunTransaction(
        pool, "migrate schema", TxMode::kReadWrite, [&](Transaction& tx) -> absl::Status {
          tx.Exec(kLockSchema, kSchemaLockKey);
          tx.ExecSql("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
          pqxx::result rows = tx.ExecSql("SELECT version FROM schema_version");
          if (rows.size() > 1) {
            return absl::DataLossError(absl::StrCat(
                "database schema: table schema_version holds ", rows.size(),
                " rows, not one; it was not written by maskserve or was altered by hand"));
          }
          from = rows.empty() ? 0 : rows[0][0].as<int>();
          if (from > kPostgresSchemaVersion) {
            return absl::FailedPreconditionError(absl::StrCat(
                "database schema version is ", from, ", newer than this build knows (",
                kPostgresSchemaVersion,
                "): it was written by a newer maskserve; upgrade maskserve to use it"));
          }
          if (from < 0) {
            return absl::DataLossError(
                absl::StrCat("database schema: schema_version holds ", from));
          }
          if (from == kPostgresSchemaVersion) {
            done = true;
            return absl::OkStatus();
          }
          if (static_cast<size_t>(from) >= Migrations().size()) {
            return absl::InternalError(
                absl::StrCat("database schema: no migration from version ", from));
          }
          for (const std::string& sql : Migrations()[from]) tx.ExecSql(sql);
          const std::string next = std::to_string(from + 1);
          if (rows.empty()) {
            tx.ExecSql("INSERT INTO schema_version (version) VALUES (" + next + ")");
          } else {
            tx.ExecSql("UPDATE schema_version SET version = " + next);
          }
          return absl::OkStatus();
        }));
    if (done) return absl::OkStatus();
  }
}

}  // namespace postgres_internal
}  // namespace maskserve
