// File: server/engine/profile_table.h
//
// The resident profile table: decoded profiles whose rows are resident in
// the device pool (core/peft/profile_pool.h), kept in memory (LRU, bounded
// in bytes), loaded from the store on a miss. A request takes
// a ProfileHandle, a shared_ptr to one immutable profile version, and keeps
// it for its whole life (as TF Serving's ServableHandle), so a hot swap or a
// delete never changes a request that was already admitted: the old version
// is freed when its last handle drops.
//
//   ProfileTable table(options, loader);
//   absl::StatusOr<ProfileHandle> h = table.Get("acme", "alice");
//   table.Publish(new_version);        // hot swap: later Gets see it
//   table.Erase("acme", "alice", 7);   // after deleting version 7
//
// Versions only move forward: Publish() of an older version than the one
// resident is ignored, and a load that raced with a newer Publish() or an
// Erase() does not reinstate a stale version.
//
// Thread safety: thread-safe; the loader runs outside the lock.
#ifndef MASKSERVE_SERVER_ENGINE_PROFILE_TABLE_H_
#define MASKSERVE_SERVER_ENGINE_PROFILE_TABLE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace maskserve {

class PooledProfile;  // core/peft/profile_pool.h

// One immutable, servable profile version.
struct ResidentProfile {
  std::string tenant;
  std::string profile_id;
  uint64_t version = 0;
  // Its rows in the device pool (freed with the last handle).
  std::shared_ptr<const PooledProfile> pooled;
  // Memory it holds (device rows and its encoding).
  int64_t bytes = 0;
  // The adapter bottleneck b its sequences run with; 0 without an adapter.
  // Profiles of two different non-zero shapes never share a batch.
  int64_t batch_shape = 0;
};

using ProfileHandle = std::shared_ptr<const ResidentProfile>;

class ProfileTable {
 public:
  struct Options {
    // Resident profiles are evicted (least recently used first) beyond this
    // many bytes [1 GiB].
    int64_t max_bytes = int64_t{1} << 30;
  };
  // Reads, decodes and composes a profile's current version from the store.
  using Loader = std::function<absl::StatusOr<ProfileHandle>(const std::string& tenant,
                                                             const std::string& profile_id)>;

  ProfileTable(Options options, Loader loader);

  // The resident version, or the store's current one (then resident).
  absl::StatusOr<ProfileHandle> Get(const std::string& tenant, const std::string& profile_id);
  // Makes `profile` the resident version unless a newer one is known.
  // Returns true when it replaced or added an entry.
  bool Publish(ProfileHandle profile);
  // Drops the entry after `deleted_version` was deleted from the store.
  // Version 0 (the store deleted a corrupt record whose version it could not
  // read) drops whatever version is resident.
  void Erase(const std::string& tenant, const std::string& profile_id, uint64_t deleted_version);

  int64_t resident_count() const;
  int64_t resident_bytes() const;

 private:
  using Key = std::pair<std::string, std::string>;
  struct Entry {
    ProfileHandle profile;
    std::list<Key>::iterator lru;  // position in lru_
  };

  bool InsertLocked(ProfileHandle profile) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Loader loader_;
  mutable absl::Mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<Key> lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used
  // Lowest version a key may be (re)loaded at: bumped by Publish and Erase
  // so that a slow load cannot reinstate an older version.
  std::map<Key, uint64_t> min_version_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_PROFILE_TABLE_H_
