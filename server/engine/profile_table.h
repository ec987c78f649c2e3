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
//   table.ApplyChange(change);         // another replica published or deleted
//
// Versions only move forward: Publish() of an older version than the one
// resident is ignored, and a load that raced with a newer Publish() or an
// Erase() does not reinstate a stale version.
//
// Other writers (replicas sharing a PostgreSQL store): their changes arrive
// through the store's change feed (storage/profile_changes.h) as
// ApplyChange(), which drops a resident copy older than the change and
// keeps it from being loaded again. While the feed is down the table cannot
// know what it missed: Unconfirm() marks every resident copy unconfirmed,
// and an unconfirmed copy is served only after the store says it is still
// the current version (one version read per request; an unreachable store
// fails the request with UNAVAILABLE rather than risk a stale answer).
// Revalidate(), once the feed is back, confirms or drops the whole resident
// set in a few batched reads; the table then serves from memory again.
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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/profile_changes.h"

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
  // The store's current versions of one tenant's profiles (0: none), in
  // order (ProfileStore::GetProfileVersions).
  using VersionReader = std::function<absl::StatusOr<std::vector<uint64_t>>(
      const std::string& tenant, const std::vector<std::string>& profile_ids)>;

  // `versions` may be null when nothing calls Unconfirm().
  ProfileTable(Options options, Loader loader, VersionReader versions = nullptr);

  // The resident version, or the store's current one (then resident).
  absl::StatusOr<ProfileHandle> Get(const std::string& tenant, const std::string& profile_id);
  // Makes `profile` the resident version unless a newer one is known.
  // Returns true when it replaced or added an entry.
  bool Publish(ProfileHandle profile);
  // Drops the entry after `deleted_version` was deleted from the store.
  // Version 0 (the store deleted a corrupt record whose version it could not
  // read) drops whatever version is resident.
  void Erase(const std::string& tenant, const std::string& profile_id, uint64_t deleted_version);
  // Another process published `change.version` (drops an older resident
  // copy) or deleted it (as Erase).
  void ApplyChange(const ProfileChange& change);

  // Changes may have been missed from now on: every resident copy must be
  // confirmed with the store before it is served again.
  void Unconfirm();
  // Reads the store's versions of the resident set and keeps what is
  // current, drops what is not; then serves from memory again (unless
  // Unconfirm() was called meanwhile). On a read error, the table stays
  // unconfirmed and the error is returned.
  absl::Status Revalidate();
  // False between Unconfirm() and the next successful Revalidate().
  bool confirmed() const;

  int64_t resident_count() const;
  int64_t resident_bytes() const;

 private:
  using Key = std::pair<std::string, std::string>;
  struct Entry {
    ProfileHandle profile;
    std::list<Key>::iterator lru;  // position in lru_
    // The generation_ in which it was confirmed current (0: never).
    uint64_t confirmed_in = 0;
  };
  // What Get() saw of the table before it went to the store.
  struct Sighting {
    ProfileHandle resident;  // an unconfirmed resident copy, or null
    uint64_t generation = 0;
    bool confirmed = false;  // the table was confirmed then
  };

  // The current version of one profile from the store (0: none).
  absl::StatusOr<uint64_t> ReadVersion(const std::string& tenant, const std::string& profile_id);
  // Stamps `entry` confirmed if the table is confirmed in `seen`'s generation.
  void ConfirmLocked(Entry& entry, const Sighting& seen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool InsertLocked(ProfileHandle profile, uint64_t confirmed_in)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(std::map<Key, Entry>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Loader loader_;
  const VersionReader versions_;
  mutable absl::Mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<Key> lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used
  // Lowest version a key may be (re)loaded at: bumped by Publish and Erase
  // so that a slow load cannot reinstate an older version.
  std::map<Key, uint64_t> min_version_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped by Unconfirm(); an entry is served from memory only while
  // confirmed_ and confirmed in this generation.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  bool confirmed_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_PROFILE_TABLE_H_
