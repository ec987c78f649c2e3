#include "storage/testing/crash_workload.h"

#include <random>

#include "maskserve/storage/v1/records.pb.h"
#include "storage/record_codec.h"
#include "storage/store_keys.h"

namespace maskserve {
namespace crash_workload {
namespace {

uint64_t Hash(std::string_view tenant, std::string_view profile_id, uint64_t version) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<uint8_t>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(tenant);
  mix(profile_id);
  mix(std::to_string(version));
  return h;
}

}  // namespace

std::string Tenant(int index) { return "tenant-" + std::to_string(index); }
std::string ProfileId(int index) { return "profile." + std::to_string(index); }

std::string Payload(std::string_view tenant, std::string_view profile_id, uint64_t version) {
  std::mt19937_64 rng(Hash(tenant, profile_id, version));
  std::string payload(200 + rng() % 3800, '\0');
  for (char& c : payload) c = static_cast<char>(rng());
  return payload;
}

std::string Description(std::string_view tenant, std::string_view profile_id, uint64_t version) {
  return std::string(tenant) + "/" + std::string(profile_id) + "@" + std::to_string(version);
}

PublishProfileRequest Publish(std::string_view tenant, std::string_view profile_id,
                              uint64_t version) {
  PublishProfileRequest request;
  request.profile.set_method(v1::XPEFT_HARD);
  request.profile.add_label_names("negative");
  request.profile.add_label_names("positive");
  request.profile.set_bank_fingerprint(kBank);
  request.profile.set_description(Description(tenant, profile_id, version));
  request.payload = Payload(tenant, profile_id, version);
  return request;
}

v1::TrainProfileRequest TrainRequest(std::string_view profile_id, int examples) {
  v1::TrainProfileRequest request;
  request.set_profile_id(std::string(profile_id));
  request.set_method(v1::XPEFT_HARD);
  request.add_label_names("negative");
  request.add_label_names("positive");
  for (int i = 0; i < examples; ++i) {
    v1::TrainingExample* example = request.add_examples();
    example->set_text("example text number " + std::to_string(i));
    example->set_label(i % 2 ? "positive" : "negative");
  }
  return request;
}

RocksDbProfileStore::Options StoreOptions(const std::string& data_dir) {
  RocksDbProfileStore::Options options;
  options.data_dir = data_dir;
  options.backbone_fingerprint = kBackbone;
  options.bank_fingerprints = {kBank};
  options.block_cache_bytes = 8 << 20;
  // Small memtables so that flushes (and their crash windows) happen too.
  options.write_buffer_bytes = 1 << 20;
  options.sync_writes = true;
  return options;
}

absl::StatusOr<KeyState> ReadKeyState(RocksDbProfileStore& store, std::string_view tenant,
                                      std::string_view profile_id) {
  absl::StatusOr<std::string> raw = store.GetRawForTest(RocksDbProfileStore::Family::kProfiles,
                                                        store_keys::ProfileKey(tenant, profile_id));
  if (!raw.ok()) {
    if (raw.status().code() == absl::StatusCode::kNotFound) return KeyState{};
    return raw.status();
  }
  storage::v1::ProfileRecord record;
  absl::Status decoded = DecodeRecord(kProfileTag, *raw, kProfileRecordVersion, &record);
  if (!decoded.ok()) return decoded;
  return KeyState{record.profile().version(), !record.deleted()};
}

}  // namespace crash_workload
}  // namespace maskserve
