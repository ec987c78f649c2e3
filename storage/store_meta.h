// File: storage/store_meta.h
//
// Decides, when a store is opened, whether its recorded schema and
// fingerprints fit the process opening it (SPEC section 3: a profile written
// for one bank is never served with another).
//
// - A new store records the schema version and the given fingerprints.
// - A store with a newer schema is FAILED_PRECONDITION (upgrade maskserve).
// - An empty requested fingerprint accepts whatever is recorded; an empty
//   recorded one adopts the requested one.
// - Different fingerprints are FAILED_PRECONDITION with both values in the
//   message, unless `migrate`: then the new ones are recorded together with a
//   FingerprintMigration entry. Bank fingerprints compare as sets.
//
//   bool changed = false;
//   absl::StatusOr<storage::v1::StoreMeta> meta =
//       ReconcileStoreMeta(existing, request, absl::Now(), dir, &changed);
//   if (meta.ok() && changed) { /* write it */ }
//
// Thread safety: pure function.
#ifndef MASKSERVE_STORAGE_STORE_META_H_
#define MASKSERVE_STORAGE_STORE_META_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "maskserve/storage/v1/records.pb.h"

namespace maskserve {

struct FingerprintRequest {
  std::string backbone;
  std::vector<std::string> banks;
  bool migrate = false;
};

// `existing` is nullopt for a new store; `data_dir` only names the store in
// messages. Sets `*changed` when the result differs from `existing`.
absl::StatusOr<storage::v1::StoreMeta> ReconcileStoreMeta(
    const std::optional<storage::v1::StoreMeta>& existing, const FingerprintRequest& request,
    absl::Time now, std::string_view data_dir, bool* changed);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_STORE_META_H_
