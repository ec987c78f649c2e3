#include "storage/store_meta.h"

#include <gtest/gtest.h>

#include "storage/store_keys.h"
#include "storage/testing/store_test_util.h"

namespace maskserve {
namespace {

storage::v1::StoreMeta Recorded(const std::string& backbone, std::vector<std::string> banks) {
  bool changed = false;
  return *ReconcileStoreMeta(std::nullopt, {backbone, banks, false}, absl::Now(), "d", &changed);
}

TEST(StoreMetaTest, NewStoreRecordsFingerprints) {
  bool changed = false;
  auto meta =
      ReconcileStoreMeta(std::nullopt, {"bb", {"k2", "k1"}, false}, absl::Now(), "d", &changed);
  ASSERT_OK(meta);
  EXPECT_TRUE(changed);
  EXPECT_EQ(meta->schema_version(), store_keys::kSchemaVersion);
  EXPECT_EQ(meta->backbone_fingerprint(), "bb");
  ASSERT_EQ(meta->bank_fingerprints_size(), 2);
  EXPECT_EQ(meta->bank_fingerprints(0), "k1");  // sorted
}

TEST(StoreMetaTest, SameOrUnspecifiedFingerprintsAreAccepted) {
  bool changed = true;
  auto existing = Recorded("bb", {"k1"});
  ASSERT_OK(ReconcileStoreMeta(existing, {"bb", {"k1"}, false}, absl::Now(), "d", &changed));
  EXPECT_FALSE(changed);
  ASSERT_OK(ReconcileStoreMeta(existing, {"", {}, false}, absl::Now(), "d", &changed));
  EXPECT_FALSE(changed);
  // An empty recorded fingerprint adopts the requested one.
  auto adopted =
      ReconcileStoreMeta(Recorded("", {}), {"bb", {"k1"}, false}, absl::Now(), "d", &changed);
  ASSERT_OK(adopted);
  EXPECT_TRUE(changed);
  EXPECT_EQ(adopted->backbone_fingerprint(), "bb");
}

TEST(StoreMetaTest, MismatchIsFailedPreconditionNamingBoth) {
  bool changed = false;
  auto existing = Recorded("bb-old", {"k-old"});
  EXPECT_THAT(
      ReconcileStoreMeta(existing, {"bb-new", {"k-old"}, false}, absl::Now(), "/data", &changed),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "store at /data was written for backbone fingerprint bb-old (this server "
               "loaded bb-new)"));
  EXPECT_THAT(
      ReconcileStoreMeta(existing, {"bb-old", {"k-new"}, false}, absl::Now(), "/data", &changed),
      StatusIs(absl::StatusCode::kFailedPrecondition, "bank fingerprints [k-old]"));
  EXPECT_THAT(
      ReconcileStoreMeta(existing, {"bb-old", {"k-new"}, false}, absl::Now(), "/data", &changed),
      StatusIs(absl::StatusCode::kFailedPrecondition, "migrate"));
}

TEST(StoreMetaTest, MigrationRecordsTheChange) {
  bool changed = false;
  auto meta = ReconcileStoreMeta(Recorded("bb-old", {"k-old"}), {"bb-new", {"k-new"}, true},
                                 absl::Now(), "d", &changed);
  ASSERT_OK(meta);
  EXPECT_TRUE(changed);
  EXPECT_EQ(meta->backbone_fingerprint(), "bb-new");
  EXPECT_EQ(meta->bank_fingerprints(0), "k-new");
  ASSERT_EQ(meta->migrations_size(), 1);
  EXPECT_EQ(meta->migrations(0).from_backbone_fingerprint(), "bb-old");
  EXPECT_EQ(meta->migrations(0).to_bank_fingerprints(0), "k-new");
}

TEST(StoreMetaTest, NewerSchemaIsRefused) {
  bool changed = false;
  auto existing = Recorded("bb", {});
  existing.set_schema_version(store_keys::kSchemaVersion + 1);
  EXPECT_THAT(ReconcileStoreMeta(existing, {"bb", {}, false}, absl::Now(), "d", &changed),
              StatusIs(absl::StatusCode::kFailedPrecondition, "newer"));
}

}  // namespace
}  // namespace maskserve
