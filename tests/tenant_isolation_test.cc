// Tenants: API keys map to tenants, and one tenant can neither read, list,
// train, export nor delete another's profiles or jobs.
#include <fstream>

#include <gtest/gtest.h>

#include "server/auth.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

using testing::Connect;
using testing::MakeTempDir;
using testing::TestClient;
using testing::TestServerOptions;

class TenantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = MakeTempDir("tenants");
    const std::string keys = dir + "/keys";
    {
      std::ofstream out(keys);
      out << "# tenant  sha256(key)\n";
      out << "acme " << HashApiKey("acme-secret") << "\n";
      out << "globex " << HashApiKey("globex-secret") << "\n";
    }
    ServerOptions options = TestServerOptions(dir + "/data");
    options.api_keys_file = keys;
    auto server = MaskserveServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    acme_ = std::make_unique<TestClient>(Connect(server_->port()), "acme-secret");
    globex_ = std::make_unique<TestClient>(Connect(server_->port()), "globex-secret");
  }

  std::unique_ptr<MaskserveServer> server_;
  std::unique_ptr<TestClient> acme_, globex_;
};

TEST_F(TenantTest, MissingOrUnknownKeysAreRefused) {
  TestClient anonymous(Connect(server_->port()), "");
  TestClient wrong(Connect(server_->port()), "guess");
  v1::ModelInfo info;
  EXPECT_EQ(anonymous.stub().GetModelInfo(anonymous.Context().get(), {}, &info).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.stub().GetModelInfo(wrong.Context().get(), {}, &info).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(acme_->stub().GetModelInfo(acme_->Context().get(), {}, &info).ok());
}

TEST_F(TenantTest, TenantsCannotSeeOrTouchEachOthersProfilesAndJobs) {
  v1::TrainingJob job = acme_->Train("shared-name", v1::HEAD_ONLY, 20);
  ASSERT_EQ(job.state(), v1::SUCCEEDED);

  v1::PredictResponse response;
  EXPECT_EQ(globex_->Predict("shared-name", {"x"}, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetProfileRequest get;
  get.set_profile_id("shared-name");
  v1::Profile profile;
  EXPECT_EQ(globex_->stub().GetProfile(globex_->Context().get(), get, &profile).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ExportProfileRequest exp;
  exp.set_profile_id("shared-name");
  v1::ExportProfileResponse exported;
  EXPECT_EQ(globex_->stub().ExportProfile(globex_->Context().get(), exp, &exported).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::DeleteProfileRequest del;
  del.set_profile_id("shared-name");
  v1::DeleteProfileResponse deleted;
  EXPECT_EQ(globex_->stub().DeleteProfile(globex_->Context().get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListProfilesResponse listed;
  ASSERT_TRUE(globex_->stub().ListProfiles(globex_->Context().get(), {}, &listed).ok());
  EXPECT_EQ(listed.profiles_size(), 0);
  EXPECT_EQ(listed.total_count(), 0u);

  v1::GetTrainingJobRequest get_job;
  get_job.set_job_id(job.job_id());
  v1::TrainingJob other;
  EXPECT_EQ(globex_->stub().GetTrainingJob(globex_->Context().get(), get_job, &other).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListTrainingJobsResponse jobs;
  ASSERT_TRUE(globex_->stub().ListTrainingJobs(globex_->Context().get(), {}, &jobs).ok());
  EXPECT_EQ(jobs.jobs_size(), 0);

  // The same id is independent per tenant, and acme still has its profile.
  ASSERT_EQ(globex_->Train("shared-name", v1::HEAD_ONLY, 20, 7).state(), v1::SUCCEEDED);
  ASSERT_TRUE(acme_->Predict("shared-name", {"x"}, &response).ok());
  EXPECT_EQ(response.profile_version(), 1u);
  ASSERT_TRUE(acme_->stub().ListProfiles(acme_->Context().get(), {}, &listed).ok());
  EXPECT_EQ(listed.total_count(), 1u);
}

TEST(AuthTest, KeyFileErrorsNameTheLine) {
  const std::string dir = MakeTempDir("auth");
  {
    std::ofstream out(dir + "/keys");
    out << "acme " << HashApiKey("k") << "\n"
        << "broken-line\n";
  }
  auto auth = Authenticator::FromFile(dir + "/keys");
  ASSERT_FALSE(auth.ok());
  EXPECT_NE(auth.status().message().find(":2:"), absl::string_view::npos) << auth.status();
  EXPECT_EQ(Authenticator::FromFile(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace maskserve
