// Online backup and restore end to end, against a real server and RocksDB
// store: train, back up through the Admin service while Predict calls keep
// running, change the store, stop, wipe the data directory, restore the
// backup (what `maskserve --restore_from` runs), start again, and get the
// very same predictions, with the later change gone. Also: who may call the
// Admin service, and the errors of bad backup paths.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "maskserve/v1/admin.grpc.pb.h"
#include "server/auth.h"
#include "storage/rocksdb_profile_store.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

namespace fs = std::filesystem;

constexpr char kTenantKey[] = "tenant-key-acme";
constexpr char kAdminKey[] = "admin-key-ops";

const std::vector<std::string> kTexts = {"a wonderful warm film", "dull and cold",
                                         "the band played all night", "meh"};

// Every probability of every text, per profile: what "identical" compares.
using Answers = std::map<std::string, std::vector<float>>;

class BackupIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("backup");
    data_dir_ = root_ + "/data";
    std::ofstream(root_ + "/api_keys") << "acme " << HashApiKey(kTenantKey) << "\n";
    std::ofstream(root_ + "/admin_keys") << "# operators\nops " << HashApiKey(kAdminKey) << "\n";
  }

  void StartServer() {
    ServerOptions options = testing::TestServerOptions(data_dir_);
    options.api_keys_file = root_ + "/api_keys";
    options.admin_keys_file = root_ + "/admin_keys";
    options.backup_root = root_ + "/backups";
    auto server = MaskserveServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = testing::Connect(server_->port());
    client_ = std::make_unique<testing::TestClient>(channel_, kTenantKey);
    admin_ = v1::Admin::NewStub(channel_);
  }

  grpc::Status Backup(const std::string& dir, const char* key, v1::CreateBackupResponse* response) {
    grpc::ClientContext context;
    if (key != nullptr) context.AddMetadata("authorization", std::string("Bearer ") + key);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::CreateBackupRequest request;
    request.set_dir(dir);
    return admin_->CreateBackup(&context, request, response);
  }

  Answers Predictions(const std::vector<std::string>& profiles) {
    Answers answers;
    for (const std::string& profile : profiles) {
      v1::PredictResponse response;
      grpc::Status status = client_->Predict(profile, kTexts, &response);
      EXPECT_TRUE(status.ok()) << profile << ": " << status.error_message();
      for (const v1::Prediction& p : response.predictions()) {
        answers[profile].insert(answers[profile].end(), p.probabilities().begin(),
                                p.probabilities().end());
      }
    }
    return answers;
  }

  std::string root_, data_dir_;
  std::unique_ptr<MaskserveServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<testing::TestClient> client_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(BackupIntegrationTest, BackupUnderLoadThenWipeAndRestoreGivesIdenticalPredictions) {
  StartServer();
  ASSERT_EQ(client_->Train("alice", v1::XPEFT_HARD, 40).state(), v1::SUCCEEDED);
  ASSERT_EQ(client_->Train("bob", v1::HEAD_ONLY, 40, 2).state(), v1::SUCCEEDED);
  const Answers before = Predictions({"alice", "bob"});
  ASSERT_EQ(before.at("alice").size(), kTexts.size() * 2);

  // Predict load from four threads for the whole backup.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      testing::TestClient client(channel_, kTenantKey);
      while (!stop.load()) {
        v1::PredictResponse response;
        const bool ok = client.Predict(t % 2 ? "alice" : "bob", kTexts, &response).ok();
        (ok ? served : failed)++;
      }
    });
  }
  while (served.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  v1::CreateBackupResponse backup;
  grpc::Status status = Backup("nightly/b1", kAdminKey, &backup);
  const int served_at_backup = served.load();
  while (served.load() < served_at_backup + 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (std::thread& thread : load) thread.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(failed.load(), 0) << "Predict calls failed during the backup";
  EXPECT_EQ(backup.dir(), fs::path(root_ + "/backups/nightly/b1").lexically_normal().string());
  EXPECT_GT(backup.files(), 0u);
  EXPECT_GT(backup.bytes(), 0u);
  EXPECT_EQ(backup.profiles(), 2u);
  EXPECT_TRUE(fs::exists(backup.dir() + "/CURRENT"));

  // Changes after the backup are not in it.
  ASSERT_EQ(client_->Train("carol", v1::HEAD_ONLY, 40, 3).state(), v1::SUCCEEDED);
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kTenantKey);
    v1::DeleteProfileRequest request;
    request.set_profile_id("bob");
    v1::DeleteProfileResponse response;
    ASSERT_TRUE(client_->stub().DeleteProfile(&context, request, &response).ok());
  }

  server_->Shutdown(absl::Seconds(2));
  server_.reset();
  fs::remove_all(data_dir_);
  ASSERT_TRUE(RocksDbProfileStore::RestoreCheckpoint(backup.dir(), data_dir_).ok());

  StartServer();
  EXPECT_EQ(Predictions({"alice", "bob"}), before);
  v1::PredictResponse missing;
  EXPECT_EQ(client_->Predict("carol", kTexts, &missing).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BackupIntegrationTest, OnlyAdminKeysMayBackUpAndBadPathsNameTheField) {
  StartServer();
  v1::CreateBackupResponse response;
  grpc::Status tenant = Backup("b", kTenantKey, &response);
  EXPECT_EQ(tenant.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(tenant.error_message().find("--admin_keys_file"), std::string::npos)
      << tenant.error_message();
  EXPECT_EQ(Backup("b", nullptr, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Backup("b", "not-a-key", &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // An admin key is not a tenant key.
  testing::TestClient admin_as_tenant(channel_, kAdminKey);
  v1::PredictResponse predicted;
  EXPECT_EQ(admin_as_tenant.Predict("alice", {"x"}, &predicted).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  for (const char* bad : {"", "../escape", "/tmp/outside-the-root"}) {
    grpc::Status status = Backup(bad, kAdminKey, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(status.error_message().rfind("dir:", 0), 0u) << status.error_message();
  }
  ASSERT_TRUE(Backup("b", kAdminKey, &response).ok());
  EXPECT_EQ(response.profiles(), 0u);
  grpc::Status again = Backup("b", kAdminKey, &response);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS) << again.error_message();
}

}  // namespace
}  // namespace maskserve
