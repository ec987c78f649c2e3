#include "server/engine/profile_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace maskserve {

ProfileTable::ProfileTable(Options options, Loader loader, VersionReader versions)
    : options_(options), loader_(std::move(loader)), versions_(std::move(versions)) {}

absl::StatusOr<ProfileHandle> ProfileTable::Get(const std::string& tenant,
                                                const std::string& profile_id) {
  const Key key(tenant, profile_id);
  // A load that raced with a hot swap or a delete is retried: the store then
  // answers with the newer version (or NOT_FOUND).
  for (int attempt = 0;; ++attempt) {
    Sighting seen;
    {
      absl::MutexLock lock(&mu_);
      seen.generation = generation_;
      seen.confirmed = confirmed_;
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        if (confirmed_ && it->second.confirmed_in == generation_) return it->second.profile;
        seen.resident = it->second.profile;
      }
    }
    if (seen.resident != nullptr) {
      // Changes may have been missed since it was loaded: ask the store.
      absl::StatusOr<uint64_t> current = ReadVersion(tenant, profile_id);
      if (!current.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "profile '", profile_id, "': cannot confirm that version ", seen.resident->version,
            " is still current (the store's change feed was interrupted and the store did not "
            "answer: ",
            current.status().message(), "); retry"));
      }
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(key);
      if (it != entries_.end() && it->second.profile == seen.resident) {
        if (*current == seen.resident->version) {
          ConfirmLocked(it->second, seen);
          return seen.resident;
        }
        // Replaced or deleted elsewhere: never serve it again.
        uint64_t& floor = min_version_[key];
        floor = std::max(floor, *current == 0 ? seen.resident->version + 1 : *current);
        RemoveLocked(it);
      }
    }
    absl::StatusOr<ProfileHandle> loaded = loader_(tenant, profile_id);
    if (!loaded.ok()) return loaded.status();
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.profile->version >= (*loaded)->version) {
      // Published or loaded meanwhile.
      if (it->second.profile->version == (*loaded)->version) ConfirmLocked(it->second, seen);
      return it->second.profile;
    }
    auto floor = min_version_.find(key);
    if (floor == min_version_.end() || (*loaded)->version >= floor->second) {
      // Current as of a read that began while the feed was up (if it was).
      const bool confirmed = seen.confirmed && seen.generation == generation_;
      InsertLocked(*loaded, confirmed ? generation_ : 0);
      return *loaded;
    }
    if (attempt == 2) {
      return absl::UnavailableError(
          absl::StrCat("profile '", profile_id, "' keeps changing while loading; retry"));
    }
  }
}

bool ProfileTable::Publish(ProfileHandle profile) {
  absl::MutexLock lock(&mu_);
  const Key key(profile->tenant, profile->profile_id);
  uint64_t& floor = min_version_[key];
  if (profile->version < floor) return false;
  floor = profile->version;
  // Just committed by this process: current now.
  return InsertLocked(std::move(profile), confirmed_ ? generation_ : 0);
}

void ProfileTable::Erase(const std::string& tenant, const std::string& profile_id,
                         uint64_t deleted_version) {
  absl::MutexLock lock(&mu_);
  const Key key(tenant, profile_id);
  uint64_t& floor = min_version_[key];
  floor = std::max(floor, deleted_version + 1);
  auto it = entries_.find(key);
  if (it != entries_.end() &&
      (deleted_version == 0 || it->second.profile->version <= deleted_version)) {
    RemoveLocked(it);
  }
}

void ProfileTable::ApplyChange(const ProfileChange& change) {
  if (change.deleted) {
    Erase(change.tenant, change.profile_id, change.version);
    return;
  }
  absl::MutexLock lock(&mu_);
  const Key key(change.tenant, change.profile_id);
  uint64_t& floor = min_version_[key];
  floor = std::max(floor, change.version);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.profile->version < change.version) RemoveLocked(it);
}

void ProfileTable::Unconfirm() {
  absl::MutexLock lock(&mu_);
  ++generation_;
  confirmed_ = false;
}

absl::Status ProfileTable::Revalidate() {
  uint64_t generation = 0;
  std::map<std::string, std::vector<ProfileHandle>> by_tenant;
  {
    absl::MutexLock lock(&mu_);
    generation = generation_;
    for (const auto& [key, entry] : entries_) by_tenant[key.first].push_back(entry.profile);
  }
  for (const auto& [tenant, handles] : by_tenant) {
    std::vector<std::string> ids;
    ids.reserve(handles.size());
    for (const ProfileHandle& handle : handles) ids.push_back(handle->profile_id);
    if (!versions_) return absl::InternalError("profile table: no version reader");
    absl::StatusOr<std::vector<uint64_t>> current = versions_(tenant, ids);
    if (!current.ok()) return current.status();
    if (current->size() != ids.size()) {
      return absl::InternalError("profile table: the store answered for other profiles");
    }
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < handles.size(); ++i) {
      const Key key(tenant, ids[i]);
      auto it = entries_.find(key);
      if (it == entries_.end() || it->second.profile != handles[i]) continue;
      const uint64_t version = handles[i]->version;
      if ((*current)[i] == version) {
        if (generation == generation_) it->second.confirmed_in = generation;
        continue;
      }
      uint64_t& floor = min_version_[key];
      floor = std::max(floor, (*current)[i] == 0 ? version + 1 : (*current)[i]);
      RemoveLocked(it);
    }
  }
  absl::MutexLock lock(&mu_);
  if (generation == generation_) confirmed_ = true;
  return absl::OkStatus();
}

bool ProfileTable::confirmed() const {
  absl::MutexLock lock(&mu_);
  return confirmed_;
}

absl::StatusOr<uint64_t> ProfileTable::ReadVersion(const std::string& tenant,
                                                   const std::string& profile_id) {
  if (!versions_) return absl::InternalError("profile table: no version reader");
  absl::StatusOr<std::vector<uint64_t>> versions = versions_(tenant, {profile_id});
  if (!versions.ok()) return versions.status();
  if (versions->size() != 1) return absl::InternalError("profile table: bad version read");
  return versions->front();
}

void ProfileTable::ConfirmLocked(Entry& entry, const Sighting& seen) {
  if (seen.confirmed && confirmed_ && seen.generation == generation_) {
    entry.confirmed_in = generation_;
  }
}

bool ProfileTable::InsertLocked(ProfileHandle profile, uint64_t confirmed_in) {
  const Key key(profile->tenant, profile->profile_id);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.profile->version > profile->version) return false;
    bytes_ += profile->bytes - it->second.profile->bytes;
    it->second.profile = std::move(profile);
    it->second.confirmed_in = confirmed_in;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  } else {
    lru_.push_front(key);
    bytes_ += profile->bytes;
    entries_.emplace(key, Entry{std::move(profile), lru_.begin(), confirmed_in});
  }
  EvictLocked();
  return true;
}

void ProfileTable::RemoveLocked(std::map<Key, Entry>::iterator it) {
  bytes_ -= it->second.profile->bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void ProfileTable::EvictLocked() {
  // Keep at least the most recently used entry even if it alone is over.
  while (bytes_ > options_.max_bytes && lru_.size() > 1) RemoveLocked(entries_.find(lru_.back()));
}

int64_t ProfileTable::resident_count() const {
  absl::MutexLock lock(&mu_);
  return int64_t(entries_.size());
}

int64_t ProfileTable::resident_bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace maskserve
