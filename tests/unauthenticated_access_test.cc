// A server without API keys over real sockets: it serves its own host's
// loopback, refuses a client that reaches it through another interface
// (PERMISSION_DENIED, naming the flags), and serves that client once
// --allow_unauthenticated is given. Skips when this host has no non-loopback
// IPv4 address to connect through.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>

#include "maskserve/v1/admin.grpc.pb.h"
#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

// An IPv4 address of this host that is not loopback, if there is one.
std::optional<std::string> NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    const in_addr address = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr;
    if ((ntohl(address.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &address, text, sizeof(text)) != nullptr) found = text;
  }
  freeifaddrs(list);
  return found;
}

grpc::Status GetModelInfo(const std::string& target) {
  auto stub =
      v1::Maskserve::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::ModelInfo info;
  return stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
}

grpc::Status Backup(const std::string& target, const std::string& dir) {
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CreateBackupRequest request;
  request.set_dir(dir);
  v1::CreateBackupResponse response;
  return stub->CreateBackup(&context, request, &response);
}

std::unique_ptr<MaskserveServer> StartOnAllInterfaces(bool allow_unauthenticated) {
  ServerOptions options = testing::TestServerOptions(testing::MakeTempDir("unauth"));
  options.address = "0.0.0.0:0";
  options.allow_unauthenticated = allow_unauthenticated;
  auto server = MaskserveServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(UnauthenticatedAccessTest, WithoutKeysOnlyLoopbackClientsAreServed) {
  const std::optional<std::string> host = NonLoopbackAddress();
  if (!host) GTEST_SKIP() << "this host has no non-loopback IPv4 address";
  std::unique_ptr<MaskserveServer> server = StartOnAllInterfaces(false);
  ASSERT_NE(server, nullptr);
  const std::string port = std::to_string(server->port());

  EXPECT_TRUE(GetModelInfo("127.0.0.1:" + port).ok());
  grpc::Status remote = GetModelInfo(*host + ":" + port);
  EXPECT_EQ(remote.error_code(), grpc::StatusCode::PERMISSION_DENIED) << remote.error_message();
  EXPECT_NE(remote.error_message().find("--api_keys_file"), std::string::npos);
  EXPECT_NE(remote.error_message().find("--allow_unauthenticated"), std::string::npos);
  // The admin service follows the same rule.
  const std::string backups = testing::MakeTempDir("unauth-backups");
  EXPECT_EQ(Backup(*host + ":" + port, backups + "/remote").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Backup("127.0.0.1:" + port, backups + "/local").ok());
}

TEST(UnauthenticatedAccessTest, AllowUnauthenticatedServesEveryHost) {
  const std::optional<std::string> host = NonLoopbackAddress();
  if (!host) GTEST_SKIP() << "this host has no non-loopback IPv4 address";
  std::unique_ptr<MaskserveServer> server = StartOnAllInterfaces(true);
  ASSERT_NE(server, nullptr);
  grpc::Status remote = GetModelInfo(*host + ":" + std::to_string(server->port()));
  EXPECT_TRUE(remote.ok()) << remote.error_message();
}

TEST(UnauthenticatedAccessTest, AllowUnauthenticatedWithKeysIsRefusedNamingTheFlag) {
  const std::string dir = testing::MakeTempDir("unauth-keys");
  std::ofstream(dir + "/keys") << "acme " << std::string(64, 'a') << "\n";
  ServerOptions options = testing::TestServerOptions(dir + "/data");
  options.api_keys_file = dir + "/keys";
  options.allow_unauthenticated = true;
  auto server = MaskserveServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message().rfind("allow_unauthenticated:", 0), 0u) << server.status();
}

}  // namespace
}  // namespace maskserve
