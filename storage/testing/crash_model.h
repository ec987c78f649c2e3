// File: storage/testing/crash_model.h
//
// What the crash test knows the store must contain: the acknowledged
// operations reported by writer processes (storage/testing/crash_workload.h
// has the line protocol), and what each reopen observed. Verify() checks a
// reopened store against it (the checks are listed in crash_harness.h).
//
//   CrashModel model(tenants, profiles);
//   model.Apply("P tenant-0 profile.3 7");
//   absl::Status ok = model.Verify(store, round, &stats);
//
// Thread safety: one thread.
#ifndef MASKSERVE_STORAGE_TESTING_CRASH_MODEL_H_
#define MASKSERVE_STORAGE_TESTING_CRASH_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/testing/crash_harness.h"

namespace maskserve {

class CrashModel {
 public:
  CrashModel(int tenants, int profiles) : tenants_(tenants), profiles_(profiles) {}

  // Records one acknowledged operation; INTERNAL for a malformed line.
  absl::Status Apply(std::string_view line, CrashTestStats* stats);

  // Checks `store` (reopened after a kill) and remembers what it observed.
  absl::Status Verify(RocksDbProfileStore& store, int round, CrashTestStats* stats);

 private:
  using Key = std::pair<std::string, std::string>;  // tenant, profile id
  // Order of a key's states: version v live = 2v, v deleted = 2v + 1.
  struct ProfileModel {
    uint64_t acked = 0;     // latest acknowledged state
    uint64_t observed = 0;  // state seen at the last reopen
    uint64_t acked_ops = 0;
  };
  struct JobModel {
    std::string tenant;
    std::string profile_id;
    int examples = -1;  // -1: creation not seen (reported by a killed writer)
    enum { kOpen, kSucceeded, kFailed } acked = kOpen;
    uint64_t published_version = 0;
    // Verified in a final state: re-checked only every kSettledRecheck rounds
    // (final states never change) so that long soaks stay linear.
    bool settled = false;
  };
  static constexpr int kSettledRecheck = 25;

  absl::Status VerifyProfiles(RocksDbProfileStore& store, int round, CrashTestStats* stats);
  absl::Status VerifyJobs(RocksDbProfileStore& store, int round, CrashTestStats* stats);

  const int tenants_;
  const int profiles_;
  std::map<Key, ProfileModel> profiles_model_;
  std::map<std::string, JobModel> jobs_;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_CRASH_MODEL_H_
