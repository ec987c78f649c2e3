// File: storage/profile_changes.h
//
// The change feed of a profile store that several processes write (the
// PostgreSQL store shared by serving replicas and trainers): every
// publication and deletion committed by any process reaches every
// subscriber, so that each can swap or drop the copy it holds in memory.
//
// - ProfileChange is one committed change: the profile's new version, or
//   the version deleted. A store encodes it into a short text payload
//   (EncodeProfileChange; "1 p 7 1733212800000000 acme alice") that
//   DecodeProfileChange reads back; ids never hold spaces (storage/ids.h).
// - ProfileChangeSubscriber is what the feed calls, on the feed's own
//   thread, one call at a time:
//     OnProfileChanged      one change, in commit order per profile;
//     OnChangesInterrupted  the feed is lost: changes committed from now on
//                           may be missed until OnChangesResumed;
//     OnChangesResumed      the feed delivers every change committed from now
//                           on; anything committed while it was down may have
//                           been missed, so the subscriber revalidates what it
//                           holds (ProfileStore::GetProfileVersions) before
//                           returning. A non-OK return counts as another
//                           interruption: the feed reconnects and calls again.
//   A feed starts interrupted: OnChangesResumed is its first call once it is
//   connected.
// - ProfileChangeFeed is a running subscription; destroying it stops the
//   calls (no call is running or made afterwards).
//
//   absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> feed =
//       store.WatchProfileChanges(&subscriber);   // null: no other writers
//
// Thread safety: the codec is pure; a feed is thread-safe.
#ifndef MASKSERVE_STORAGE_PROFILE_CHANGES_H_
#define MASKSERVE_STORAGE_PROFILE_CHANGES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace maskserve {

struct ProfileChange {
  std::string tenant;
  std::string profile_id;
  // The new version, or (deleted) the version deleted.
  uint64_t version = 0;
  bool deleted = false;
  // When the writing process made the change, on its clock.
  absl::Time time = absl::UnixEpoch();
};

std::string EncodeProfileChange(const ProfileChange& change);
// INVALID_ARGUMENT for a payload EncodeProfileChange did not write.
absl::StatusOr<ProfileChange> DecodeProfileChange(std::string_view payload);

class ProfileChangeSubscriber {
 public:
  virtual ~ProfileChangeSubscriber() = default;
  virtual void OnProfileChanged(const ProfileChange& change) = 0;
  virtual void OnChangesInterrupted(const absl::Status& why) = 0;
  virtual absl::Status OnChangesResumed() = 0;
};

class ProfileChangeFeed {
 public:
  virtual ~ProfileChangeFeed() = default;
  // True between OnChangesResumed returning OK and the next interruption.
  virtual bool connected() const = 0;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_PROFILE_CHANGES_H_
