#include "server/engine/profile_table.h"

#include "absl/strings/str_cat.h"

namespace maskserve {

ProfileTable::ProfileTable(Options options, Loader loader)
    : options_(options), loader_(std::move(loader)) {}

absl::StatusOr<ProfileHandle> ProfileTable::Get(const std::string& tenant,
                                                const std::string& profile_id) {
  const Key key(tenant, profile_id);
  // A load that raced with a hot swap or a delete is retried: the store then
  // answers with the newer version (or NOT_FOUND).
  for (int attempt = 0;; ++attempt) {
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return it->second.profile;
      }
    }
    absl::StatusOr<ProfileHandle> loaded = loader_(tenant, profile_id);
    if (!loaded.ok()) return loaded.status();
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.profile->version >= (*loaded)->version) {
      return it->second.profile;  // published or loaded meanwhile
    }
    auto floor = min_version_.find(key);
    if (floor == min_version_.end() || (*loaded)->version >= floor->second) {
      InsertLocked(*loaded);
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
  return InsertLocked(std::move(profile));
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
    bytes_ -= it->second.profile->bytes;
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
}

bool ProfileTable::InsertLocked(ProfileHandle profile) {
  const Key key(profile->tenant, profile->profile_id);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.profile->version > profile->version) return false;
    bytes_ += profile->bytes - it->second.profile->bytes;
    it->second.profile = std::move(profile);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  } else {
    lru_.push_front(key);
    bytes_ += profile->bytes;
    entries_.emplace(key, Entry{std::move(profile), lru_.begin()});
  }
  EvictLocked();
  return true;
}

void ProfileTable::EvictLocked() {
  // Keep at least the most recently used entry even if it alone is over.
  while (bytes_ > options_.max_bytes && lru_.size() > 1) {
    auto it = entries_.find(lru_.back());
    bytes_ -= it->second.profile->bytes;
    entries_.erase(it);
    lru_.pop_back();
  }
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
