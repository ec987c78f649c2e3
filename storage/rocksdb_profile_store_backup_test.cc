// RocksDbProfileStore: online checkpoints, restore, and single-profile
// export/import.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "storage/profile_export.h"
#include "storage/testing/store_fixture.h"

namespace maskserve {
namespace {

using absl::StatusCode;

using StoreBackupTest = StoreFixture;

TEST_F(StoreBackupTest, CheckpointIsAConsistentOpenableCopyTakenOnline) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(store().PublishProfile("t", "p" + std::to_string(i), TestPublish("v1")));
  }
  // Keep writing while the checkpoint is taken.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      EXPECT_OK(store().PublishProfile("w", "p" + std::to_string(i % 50), TestPublish("w")));
    }
  });
  const std::string checkpoint = dir().path() + "/backups/cp1";
  ASSERT_OK(store().CreateCheckpoint(checkpoint));
  stop = true;
  writer.join();
  ASSERT_OK(store().PublishProfile("t", "after", TestPublish("later")));
  EXPECT_THAT(store().CreateCheckpoint(checkpoint), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().CreateCheckpoint(""), StatusIs(StatusCode::kInvalidArgument));

  // Open the checkpoint directly.
  RocksDbProfileStore::Options options = BaseOptions();
  options.data_dir = checkpoint;
  options.create_if_missing = false;
  {
    absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> copy = RocksDbProfileStore::Open(options);
    ASSERT_OK(copy);
    EXPECT_EQ(*(*copy)->CountProfiles("t"), 20u);
    EXPECT_THAT((*copy)->GetProfile("t", "after"), StatusIs(StatusCode::kNotFound));
    EXPECT_EQ((*copy)->GetProfile("t", "p7")->payload, "v1");
    // The copy's counters agree with its contents.
    EXPECT_EQ(*(*copy)->CountProfiles("w"), (*copy)->ListProfiles("w", {})->profiles.size());
  }

  // Restore into a new directory and open that.
  const std::string restored = dir().path() + "/restored";
  ASSERT_OK(RocksDbProfileStore::RestoreCheckpoint(checkpoint, restored));
  options.data_dir = restored;
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> back = RocksDbProfileStore::Open(options);
  ASSERT_OK(back);
  EXPECT_EQ(*(*back)->CountProfiles("t"), 20u);
  EXPECT_EQ((*back)->meta().bank_fingerprints(0), kTestBank);
  EXPECT_FALSE(std::filesystem::exists(restored + ".restore-tmp"));
}

TEST_F(StoreBackupTest, RestoreRefusesToOverwriteOrReadGarbage) {
  ASSERT_OK(store().PublishProfile("t", "p", TestPublish("v1")));
  const std::string checkpoint = dir().path() + "/cp";
  ASSERT_OK(store().CreateCheckpoint(checkpoint));
  EXPECT_THAT(RocksDbProfileStore::RestoreCheckpoint(checkpoint, data_dir()),
              StatusIs(StatusCode::kFailedPrecondition, "not empty"));
  std::filesystem::create_directories(dir().path() + "/junk");
  EXPECT_THAT(RocksDbProfileStore::RestoreCheckpoint(dir().path() + "/junk", dir().path() + "/x"),
              StatusIs(StatusCode::kNotFound, "no store checkpoint"));
  // An empty target directory (e.g. a volume's mount point, which cannot be
  // replaced) is restored in place, with no sibling staging directory.
  const std::string empty = dir().path() + "/empty";
  std::filesystem::create_directories(empty);
  EXPECT_OK(RocksDbProfileStore::RestoreCheckpoint(checkpoint, empty));
  EXPECT_FALSE(std::filesystem::exists(empty + ".restore-tmp"));
  EXPECT_FALSE(std::filesystem::exists(empty + "/.restore-tmp"));
  RocksDbProfileStore::Options options = BaseOptions();
  options.data_dir = empty;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> back = RocksDbProfileStore::Open(options);
  ASSERT_OK(back);
  EXPECT_EQ((*back)->GetProfile("t", "p")->payload, "v1");
  back->reset();
  // Now it is not empty; a leftover staging directory alone does not count.
  EXPECT_THAT(RocksDbProfileStore::RestoreCheckpoint(checkpoint, empty),
              StatusIs(StatusCode::kFailedPrecondition, "not empty"));
  const std::string interrupted = dir().path() + "/interrupted";
  std::filesystem::create_directories(interrupted + "/.restore-tmp/junk");
  EXPECT_OK(RocksDbProfileStore::RestoreCheckpoint(checkpoint, interrupted));
  EXPECT_FALSE(std::filesystem::exists(interrupted + "/.restore-tmp"));
  // A restore interrupted before CURRENT is never opened as a new, empty
  // store over the restored files.
  const std::string partial = dir().path() + "/partial";
  std::filesystem::create_directories(partial);
  for (const auto& entry : std::filesystem::directory_iterator(checkpoint)) {
    if (entry.path().filename() != "CURRENT") {
      std::filesystem::copy(entry.path(), std::filesystem::path(partial) / entry.path().filename());
    }
  }
  options.data_dir = partial;
  options.create_if_missing = true;
  EXPECT_THAT(RocksDbProfileStore::Open(options).status(),
              StatusIs(StatusCode::kFailedPrecondition, "no CURRENT file"));
  // A file where the directory should be is refused.
  std::ofstream(dir().path() + "/file") << "x";
  EXPECT_THAT(RocksDbProfileStore::RestoreCheckpoint(checkpoint, dir().path() + "/file"),
              StatusIs(StatusCode::kFailedPrecondition, "not a directory"));
}

TEST_F(StoreBackupTest, ExportImportRoundTripsBetweenStores) {
  PublishProfileRequest request = TestPublish(std::string(3388, '\x7f'));
  request.profile.mutable_metrics()->set_accuracy(0.91f);
  request.profile.set_training_job_id("01ARZ3NDEKTSV4RRFFQ69G5FAV");
  ASSERT_OK(store().PublishProfile("t", "src", request));
  ASSERT_OK(store().PublishProfile("t", "src", request));
  absl::StatusOr<ExportedProfile> exported = store().ExportProfile("t", "src");
  ASSERT_OK(exported);
  EXPECT_EQ(exported->version, 2u);

  // Another server (a second store) with the same bank.
  RocksDbProfileStore::Options options = BaseOptions();
  options.data_dir = dir().path() + "/other";
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> other = RocksDbProfileStore::Open(options);
  ASSERT_OK(other);
  absl::StatusOr<v1::Profile> imported =
      (*other)->ImportProfile("u", "dst", exported->data, ImportProfileOptions{});
  ASSERT_OK(imported);
  EXPECT_EQ(imported->profile_id(), "dst");
  EXPECT_EQ(imported->version(), 1u);
  EXPECT_TRUE(imported->training_job_id().empty());
  absl::StatusOr<StoredProfile> got = (*other)->GetProfile("u", "dst");
  ASSERT_OK(got);
  EXPECT_EQ(got->payload, std::string(3388, '\x7f'));
  EXPECT_FLOAT_EQ(got->profile.metrics().accuracy(), 0.91f);
  EXPECT_EQ(got->profile.label_names_size(), 2);
  EXPECT_EQ(got->profile.bank_fingerprint(), kTestBank);

  EXPECT_THAT((*other)->ImportProfile("u", "dst", exported->data, {}),
              StatusIs(StatusCode::kAlreadyExists, "overwrite"));
  ImportProfileOptions overwrite;
  overwrite.overwrite = true;
  imported = (*other)->ImportProfile("u", "dst", exported->data, overwrite);
  ASSERT_OK(imported);
  EXPECT_EQ(imported->version(), 2u);
}

TEST_F(StoreBackupTest, ImportRejectsBadBytesAndForeignBanks) {
  ASSERT_OK(store().PublishProfile("t", "src", TestPublish("payload")));
  std::string data = store().ExportProfile("t", "src")->data;
  std::string flipped = data;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_THAT(store().ImportProfile("t", "x", flipped, {}),
              StatusIs(StatusCode::kInvalidArgument, "data: checksum mismatch"));
  EXPECT_THAT(store().ImportProfile("t", "x", data.substr(0, data.size() - 3), {}),
              StatusIs(StatusCode::kInvalidArgument, "data: "));
  EXPECT_THAT(store().ImportProfile("t", "x", "", {}),
              StatusIs(StatusCode::kInvalidArgument, "data: not a maskserve profile export"));
  StoredProfile foreign;
  foreign.profile = TestPublish("").profile;
  foreign.profile.set_bank_fingerprint("some-other-bank");
  EXPECT_THAT(store().ImportProfile("t", "x", EncodeProfileExport(foreign, absl::Now()), {}),
              StatusIs(StatusCode::kFailedPrecondition, "profile.bank_fingerprint"));
  EXPECT_THAT(store().GetProfile("t", "x"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(*store().CountProfiles("t"), 1u);
}

}  // namespace
}  // namespace maskserve
