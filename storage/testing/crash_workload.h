// File: storage/testing/crash_workload.h
//
// The workload of the crash test, shared by the writer process (which gets
// killed) and the verifier (which checks what survived).
//
// Every profile version's content is a pure function of (tenant, profile id,
// version), so the verifier can check any record it finds, acknowledged or
// not, byte for byte. The writer learns the next version before publishing
// (compare-and-set on the current one), so it always knows what to write.
//
// The writer reports each acknowledged operation as one line on stdout,
// written with a single write(2) (atomic on a pipe):
//   READY                                   store opened
//   P <tenant> <profile> <version> [<job>]  publish acknowledged
//   D <tenant> <profile> <version>          delete acknowledged
//   J <tenant> <job> <profile> <examples>   job creation acknowledged
//   F <tenant> <job>                        job FAILED acknowledged
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_TESTING_CRASH_WORKLOAD_H_
#define MASKSERVE_STORAGE_TESTING_CRASH_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/profile_store.h"
#include "storage/rocksdb_profile_store.h"

namespace maskserve {
namespace crash_workload {

inline constexpr char kBank[] = "crash-test-bank";
inline constexpr char kBackbone[] = "crash-test-backbone";

std::string Tenant(int index);
std::string ProfileId(int index);

// The payload and description of a version (payload 200..4000 bytes).
std::string Payload(std::string_view tenant, std::string_view profile_id, uint64_t version);
std::string Description(std::string_view tenant, std::string_view profile_id, uint64_t version);
PublishProfileRequest Publish(std::string_view tenant, std::string_view profile_id,
                              uint64_t version);

// A training request with `examples` examples.
v1::TrainProfileRequest TrainRequest(std::string_view profile_id, int examples);

// Store options both sides use.
RocksDbProfileStore::Options StoreOptions(const std::string& data_dir);

// What a profile key holds, read through the raw test hook: the last version
// (live or tombstone; 0 if absent) and whether it is live. DATA_LOSS if the
// record is unreadable.
struct KeyState {
  uint64_t version = 0;
  bool live = false;
};
absl::StatusOr<KeyState> ReadKeyState(RocksDbProfileStore& store, std::string_view tenant,
                                      std::string_view profile_id);

}  // namespace crash_workload
}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_CRASH_WORKLOAD_H_
