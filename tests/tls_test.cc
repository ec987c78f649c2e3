// TLS and mutual TLS with throwaway certificates made by openssl at test
// time: a CA, a server certificate for 127.0.0.1 and a client certificate.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/testing/test_server.h"

namespace maskserve {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl not found";
    dir_ = testing::MakeTempDir("tls");
    const std::string script =
        "set -e; cd '" + dir_ +
        "';"
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext;"
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out "
        "ca.pem;"
        "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out "
        "server.csr;"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "  -extfile san.ext -out server.pem;"
        "openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key -out client.csr;"
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out "
        "client.pem";
    ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << "openssl failed";
  }

  std::unique_ptr<MaskserveServer> Start(bool mutual) {
    ServerOptions options = testing::TestServerOptions(dir_ + "/data");
    options.tls.cert_file = dir_ + "/server.pem";
    options.tls.key_file = dir_ + "/server.key";
    if (mutual) options.tls.client_ca_file = dir_ + "/ca.pem";
    auto server = MaskserveServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  grpc::Status Call(int port, bool with_client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Slurp(dir_ + "/ca.pem");
    if (with_client_cert) {
      ssl.pem_private_key = Slurp(dir_ + "/client.key");
      ssl.pem_cert_chain = Slurp(dir_ + "/client.pem");
    }
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(ssl));
    auto stub = v1::Maskserve::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ModelInfo info;
    return stub->GetModelInfo(&context, {}, &info);
  }

  std::string dir_;
};

TEST_F(TlsTest, ServesOverTlsAndRefusesPlaintext) {
  auto server = Start(false);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Call(server->port(), false).ok());
  testing::TestClient plaintext(testing::Connect(server->port()), "");
  v1::ModelInfo info;
  EXPECT_FALSE(plaintext.stub()
                   .GetModelInfo(plaintext.Context(std::chrono::seconds(3)).get(), {}, &info)
                   .ok());
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificate) {
  auto server = Start(true);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Call(server->port(), true).ok());
  EXPECT_FALSE(Call(server->port(), false).ok());
}

TEST_F(TlsTest, HalfConfiguredTlsIsRejectedNamingTheFlag) {
  ServerOptions options = testing::TestServerOptions(dir_ + "/data2");
  options.tls.cert_file = dir_ + "/server.pem";
  auto server = MaskserveServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("tls_key"), absl::string_view::npos);
}

}  // namespace
}  // namespace maskserve
