// AdminService's rules without a server: who may call it (AdminCaller) and
// where a backup may go (ResolveBackupDir). The RPC itself, against a real
// server and store, is in tests/backup_integration_test.cc.
#include "server/admin_service.h"

#include <gtest/gtest.h>

#include <grpcpp/test/server_context_test_spouse.h>

#include <map>
#include <memory>
#include <string>

#include "server/auth.h"

namespace maskserve {
namespace {

constexpr char kTenantKey[] = "tenant-key";
constexpr char kAdminKey[] = "admin-key";

std::unique_ptr<Authenticator> Keys(const std::string& key, const std::string& name) {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromHashes({{HashApiKey(key), name}});
  EXPECT_TRUE(auth.ok()) << auth.status();
  return *std::move(auth);
}

absl::StatusCode CallerCode(const AdminDependencies& deps, const char* key) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  if (key != nullptr) spouse.AddClientMetadata("authorization", std::string("Bearer ") + key);
  return AdminCaller(deps, context).status().code();
}

TEST(AdminCallerTest, WithAdminKeysOnlyAdminKeysPass) {
  std::unique_ptr<Authenticator> tenants = Keys(kTenantKey, "acme");
  std::unique_ptr<Authenticator> admins = Keys(kAdminKey, "ops");
  AdminDependencies deps;
  deps.tenant_auth = tenants.get();
  deps.admin_auth = admins.get();
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  spouse.AddClientMetadata("authorization", std::string("Bearer ") + kAdminKey);
  absl::StatusOr<std::string> caller = AdminCaller(deps, context);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(*caller, "ops");
  EXPECT_EQ(CallerCode(deps, kTenantKey), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CallerCode(deps, "guess"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CallerCode(deps, nullptr), absl::StatusCode::kUnauthenticated);
}

TEST(AdminCallerTest, TenantKeysWithoutAdminKeysTurnTheServiceOff) {
  std::unique_ptr<Authenticator> tenants = Keys(kTenantKey, "acme");
  AdminDependencies deps;
  deps.tenant_auth = tenants.get();
  EXPECT_EQ(CallerCode(deps, kTenantKey), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CallerCode(deps, nullptr), absl::StatusCode::kPermissionDenied);
}

TEST(AdminCallerTest, DevelopmentModeFollowsTheTenantAuthenticator) {
  std::unique_ptr<Authenticator> open = Authenticator::Development(Authenticator::Peers::kAny);
  AdminDependencies deps;
  deps.tenant_auth = open.get();
  EXPECT_EQ(CallerCode(deps, nullptr), absl::StatusCode::kOk);
  // A loopback-only development server refuses what is not loopback (a
  // test context has no peer at all).
  std::unique_ptr<Authenticator> local =
      Authenticator::Development(Authenticator::Peers::kLoopbackOnly);
  deps.tenant_auth = local.get();
  EXPECT_EQ(CallerCode(deps, nullptr), absl::StatusCode::kPermissionDenied);
}

std::string Resolve(const std::string& dir, const std::string& root = "",
                    const std::string& data = "/var/lib/maskserve") {
  absl::StatusOr<std::string> resolved = ResolveBackupDir(dir, root, data);
  return resolved.ok() ? *resolved : "error: " + std::string(resolved.status().message());
}

TEST(ResolveBackupDirTest, AbsolutePathsWithoutARoot) {
  EXPECT_EQ(Resolve("/backups/2026-12-03"), "/backups/2026-12-03");
  EXPECT_EQ(Resolve("/backups//nightly/./b1/"), "/backups/nightly/b1");
  EXPECT_EQ(Resolve(""), "error: dir: required");
  EXPECT_EQ(Resolve("nightly").rfind("error: dir: 'nightly' is relative", 0), 0u);
  EXPECT_EQ(Resolve("/backups/../etc").rfind("error: dir: may not contain '..'", 0), 0u);
  EXPECT_EQ(Resolve("/").rfind("error: dir:", 0), 0u);
}

TEST(ResolveBackupDirTest, RelativePathsUnderTheRoot) {
  EXPECT_EQ(Resolve("nightly/b1", "/backups"), "/backups/nightly/b1");
  EXPECT_EQ(Resolve("/backups/b2", "/backups/"), "/backups/b2");
  EXPECT_EQ(Resolve("/tmp/b3", "/backups").rfind("error: dir: '/tmp/b3' is not under", 0), 0u);
  EXPECT_EQ(Resolve("/backups", "/backups").rfind("error: dir:", 0), 0u);
  EXPECT_EQ(Resolve("/backupsX/b", "/backups").rfind("error: dir:", 0), 0u);
}

TEST(ResolveBackupDirTest, NeverInsideOrAroundTheDataDirectory) {
  EXPECT_EQ(Resolve("/var/lib/maskserve/backup").rfind("error: dir:", 0), 0u);
  EXPECT_EQ(Resolve("/var/lib/maskserve").rfind("error: dir:", 0), 0u);
  EXPECT_EQ(Resolve("/var/lib").rfind("error: dir:", 0), 0u);
  EXPECT_EQ(Resolve("/var/lib/maskserve-backup"), "/var/lib/maskserve-backup");
}

}  // namespace
}  // namespace maskserve
