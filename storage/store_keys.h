// File: storage/store_keys.h
//
// The key layout of the RocksDB profile store (schema version 1). Tenants,
// profile ids and job ids never contain '/', so "<tenant>/" is a prefix that
// holds exactly one tenant's keys, sorted by id.
//
//   column family  key                       value
//   profiles       <tenant>/<profile_id>     ProfileRecord (live or tombstone)
//   jobs           j/<tenant>/<job_id>       JobRecord
//   jobs           u/<job_id>                tenant (unfinished-job index)
//   meta           store                     StoreMeta
//   meta           count/<tenant>            live profile count (counter)
//
// Callers validate the components first (storage/ids.h, storage/job_id.h).
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_STORE_KEYS_H_
#define MASKSERVE_STORAGE_STORE_KEYS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace maskserve {
namespace store_keys {

inline constexpr char kProfilesFamily[] = "profiles";
inline constexpr char kJobsFamily[] = "jobs";
inline constexpr char kMetaFamily[] = "meta";

inline constexpr uint32_t kSchemaVersion = 1;
inline constexpr std::string_view kStoreMetaKey = "store";
inline constexpr std::string_view kUnfinishedPrefix = "u/";
inline constexpr std::string_view kCounterPrefix = "count/";
// Written and deleted by CheckWritable()'s probe in every family; '\0'
// sorts before every tenant and id.
inline constexpr std::string_view kHealthProbeKey{"\0health-probe", 13};

// The smallest key greater than every key starting with `prefix` when the
// prefix ends in '/' (0x2f): the same prefix ending in '0' (0x30).
inline std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

// Concatenation without Abseil (see storage/absl_compat.h).
inline std::string Join(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out.append(part);
  return out;
}

inline std::string ProfilePrefix(std::string_view tenant) { return Join({tenant, "/"}); }
inline std::string ProfileKey(std::string_view tenant, std::string_view profile_id) {
  return Join({tenant, "/", profile_id});
}

inline std::string JobPrefix(std::string_view tenant) { return Join({"j/", tenant, "/"}); }
inline std::string JobKey(std::string_view tenant, std::string_view job_id) {
  return Join({"j/", tenant, "/", job_id});
}
inline std::string UnfinishedJobKey(std::string_view job_id) {
  return Join({kUnfinishedPrefix, job_id});
}

inline std::string CounterKey(std::string_view tenant) { return Join({kCounterPrefix, tenant}); }

}  // namespace store_keys
}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_STORE_KEYS_H_
