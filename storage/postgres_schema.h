// File: storage/postgres_schema.h
//
// Internal to PostgresProfileStore: its database schema, the migrations that
// create and upgrade it, and the SQL statements the store runs.
//
// Schema version 1:
//
//   table           key                    columns
//   schema_version  (one row)              version
//   store_meta      id = 1                 record: framed StoreMeta
//   tenants         tenant                 live_profiles: the maintained count;
//                                          its row lock serialises the
//                                          tenant's profile writes
//   profiles        (tenant, profile_id)   version, deleted, record: framed
//                                          ProfileRecord (live or tombstone)
//   jobs            (tenant, job_id)       unfinished, record: framed JobRecord
//
// Ids are `text COLLATE "C"`, so they compare bytewise as RocksDB keys do.
// The version and deleted columns copy what the record says: version lets a
// corrupted record still be deleted with its last version; deleted feeds the
// partial index that ListProfiles walks (tombstones cost nothing there);
// jobs.unfinished feeds the index ListUnfinishedJobs walks.
//
// MigrateSchema() brings a database to kPostgresSchemaVersion: each step
// N -> N+1 is one transaction holding an advisory lock (so that concurrent
// Open()s do not race), which applies the step's DDL and records N+1. A
// database at a newer version is FAILED_PRECONDITION and left alone.
//
// Thread safety: MigrateSchema() may run concurrently with itself, also from
// other processes.
#ifndef MASKSERVE_STORAGE_POSTGRES_SCHEMA_H_
#define MASKSERVE_STORAGE_POSTGRES_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"

namespace maskserve {
namespace postgres_internal {

class ConnectionPool;

// The schema version this build creates, reads and writes.
inline constexpr int kPostgresSchemaVersion = 1;

// Key of the advisory lock held while migrating or reconciling the meta.
inline constexpr int64_t kSchemaLockKey = 0x6d61736b73727631;  // "masksrv1"

// Creates or migrates the schema; see the file comment.
absl::Status MigrateSchema(ConnectionPool& pool);

// A statement prepared by name on each connection.
struct Statement {
  const char* name;
  const char* sql;
};

// Store meta.
inline constexpr Statement kLockSchema{"lock_schema", "SELECT pg_advisory_xact_lock($1)"};
inline constexpr Statement kSelectMeta{"select_meta", "SELECT record FROM store_meta WHERE id = 1"};
inline constexpr Statement kUpsertMeta{"upsert_meta",
                                       "INSERT INTO store_meta (id, record) VALUES (1, $1) "
                                       "ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record"};
inline constexpr Statement kProbeWrite{"probe_write",
                                       "UPDATE schema_version SET version = version"};

// Tenants: the counter row, locked to serialise a tenant's writes.
inline constexpr Statement kLockTenant{
    "lock_tenant", "SELECT live_profiles FROM tenants WHERE tenant = $1 FOR UPDATE"};
inline constexpr Statement kInsertTenant{
    "insert_tenant",
    "INSERT INTO tenants (tenant, live_profiles) VALUES ($1, 0) ON CONFLICT (tenant) DO NOTHING"};
inline constexpr Statement kSelectCount{"select_count",
                                        "SELECT live_profiles FROM tenants WHERE tenant = $1"};
inline constexpr Statement kSelectTotalCount{
    "select_total_count", "SELECT COALESCE(SUM(live_profiles), 0)::bigint FROM tenants"};
inline constexpr Statement kAddToCount{
    "add_to_count",
    "UPDATE tenants SET live_profiles = GREATEST(live_profiles + $2, 0) WHERE tenant = $1"};

// Profiles.
inline constexpr Statement kSelectProfile{
    "select_profile", "SELECT version, record FROM profiles WHERE tenant = $1 AND profile_id = $2"};
inline constexpr Statement kUpsertProfile{
    "upsert_profile",
    "INSERT INTO profiles (tenant, profile_id, version, deleted, record) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, profile_id) DO UPDATE SET "
    "version = EXCLUDED.version, deleted = EXCLUDED.deleted, record = EXCLUDED.record"};
inline constexpr Statement kListLiveProfiles{
    "list_live_profiles",
    "SELECT profile_id, record FROM profiles WHERE tenant = $1 AND NOT deleted "
    "AND profile_id > $2 ORDER BY profile_id LIMIT $3"};
inline constexpr Statement kSelectProfileRaw{
    "select_profile_raw", "SELECT record FROM profiles WHERE tenant = $1 AND profile_id = $2"};
inline constexpr Statement kUpdateProfileRaw{
    "update_profile_raw", "UPDATE profiles SET record = $3 WHERE tenant = $1 AND profile_id = $2"};

// The change feed: every publication and deletion notifies this channel in
// its transaction (storage/postgres_change_feed.h); PostgreSQL delivers the
// notification to every listener of the database when the transaction
// commits, and never when it rolls back.
inline constexpr char kProfileChangesChannel[] = "maskserve_profile_changes";
inline constexpr Statement kNotifyChange{"notify_change",
                                         "SELECT pg_notify('maskserve_profile_changes', $1)"};
// $2 is a text[] literal ({"a","b"}: ids hold no quotes, commas or braces).
inline constexpr Statement kSelectProfileVersions{
    "select_profile_versions",
    "SELECT profile_id, version, deleted FROM profiles "
    "WHERE tenant = $1 AND profile_id = ANY($2::text[])"};

// Jobs.
inline constexpr Statement kInsertJob{
    "insert_job", "INSERT INTO jobs (tenant, job_id, unfinished, record) VALUES ($1, $2, $3, $4)"};
inline constexpr Statement kSelectJob{"select_job",
                                      "SELECT record FROM jobs WHERE tenant = $1 AND job_id = $2"};
inline constexpr Statement kSelectJobForUpdate{
    "select_job_for_update",
    "SELECT record FROM jobs WHERE tenant = $1 AND job_id = $2 FOR UPDATE"};
inline constexpr Statement kSelectJobSkipLocked{
    "select_job_skip_locked",
    "SELECT record FROM jobs WHERE tenant = $1 AND job_id = $2 FOR UPDATE SKIP LOCKED"};
inline constexpr Statement kUpdateJob{
    "update_job", "UPDATE jobs SET unfinished = $3, record = $4 WHERE tenant = $1 AND job_id = $2"};
inline constexpr Statement kListJobsFirst{
    "list_jobs_first",
    "SELECT job_id, record FROM jobs WHERE tenant = $1 ORDER BY job_id DESC LIMIT $2"};
inline constexpr Statement kListJobsBefore{
    "list_jobs_before",
    "SELECT job_id, record FROM jobs WHERE tenant = $1 AND job_id < $2 "
    "ORDER BY job_id DESC LIMIT $3"};
inline constexpr Statement kListUnfinishedJobs{
    "list_unfinished_jobs",
    "SELECT tenant, job_id, record FROM jobs WHERE unfinished AND (job_id, tenant) > ($1, $2) "
    "ORDER BY job_id, tenant LIMIT $3"};
inline constexpr Statement kSelectJobRaw{
    "select_job_raw", "SELECT record FROM jobs WHERE tenant = $1 AND job_id = $2"};
inline constexpr Statement kUpdateJobRaw{
    "update_job_raw", "UPDATE jobs SET record = $3 WHERE tenant = $1 AND job_id = $2"};

}  // namespace postgres_internal
}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_POSTGRES_SCHEMA_H_
