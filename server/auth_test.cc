// File: server/auth_test.cc
//
// Tests for server/auth.h: HashApiKey against known SHA-256 vectors,
// development mode, key files, FromHashes, and how `authorization: Bearer`
// metadata maps to tenants.

#include "server/auth.h"

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/server_context.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/testing/temp_dir.h"

namespace maskserve {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// sha256("abc"), FIPS 180-2 appendix B.1.
constexpr char kAbcHash[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// Writes `contents` to `name` under `dir` and returns the file's path.
std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
  return path;
}

// The tenant, or a description of the error (so EXPECT_EQ shows it).
std::string TenantOf(const absl::StatusOr<std::string>& result) {
  return result.ok() ? *result : "<error: " + result.status().ToString() + ">";
}

absl::StatusOr<std::string> Header(const Authenticator& auth, const std::string& value) {
  return auth.AuthenticateHeader(&value);
}

// acme owns key "abc"; globex owns "globex-key".
std::unique_ptr<Authenticator> TwoTenants() {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromHashes({{kAbcHash, "acme"}, {HashApiKey("globex-key"), "globex"}});
  if (!auth.ok()) {
    ADD_FAILURE() << auth.status();
    return nullptr;
  }
  return *std::move(auth);
}

TEST(HashApiKeyTest, MatchesSha256KnownVectors) {
  EXPECT_EQ(HashApiKey("abc"), kAbcHash);
  EXPECT_EQ(HashApiKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // 56 bytes: the padding spills into a second block.
  EXPECT_EQ(HashApiKey("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Exactly one block of data.
  EXPECT_EQ(HashApiKey(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(HashApiKeyTest, HashesTheKeyVerbatim) {
  EXPECT_NE(HashApiKey("abc "), kAbcHash);
  EXPECT_NE(HashApiKey("ABC"), kAbcHash);
  EXPECT_NE(HashApiKey(std::string("abc\0", 4)), kAbcHash);
}

TEST(AuthenticatorTest, DevelopmentModeMapsEveryHeaderToDefaultTenant) {
  EXPECT_STREQ(kDevelopmentTenant, "default");
  std::unique_ptr<Authenticator> auth = Authenticator::Development(Authenticator::Peers::kAny);
  ASSERT_NE(auth, nullptr);
  EXPECT_TRUE(auth->development());
  EXPECT_EQ(TenantOf(auth->AuthenticateHeader(nullptr)), "default");
  EXPECT_EQ(TenantOf(Header(*auth, "")), "default");
  EXPECT_EQ(TenantOf(Header(*auth, "Bearer ")), "default");
  EXPECT_EQ(TenantOf(Header(*auth, "Bearer abc")), "default");
  EXPECT_EQ(TenantOf(Header(*auth, "Basic dXNlcjpwYXNz")), "default");
}

TEST(IsLoopbackPeerTest, AcceptsOnlyLoopbackAndUnixSockets) {
  for (const char* peer :
       {"ipv4:127.0.0.1:50051", "ipv4:127.1.2.3:1", "ipv6:[::1]:50051", "ipv6:[::FFFF:127.0.0.1]:9",
        "ipv6:[0:0:0:0:0:0:0:1]:2", "unix:/tmp/maskserve.sock", "unix-abstract:maskserve"}) {
    EXPECT_TRUE(IsLoopbackPeer(peer)) << peer;
  }
  for (const char* peer :
       {"", "ipv4:10.0.0.7:50051", "ipv4:128.0.0.1:1", "ipv4:0.0.0.0:1", "ipv6:[::2]:1",
        "ipv6:[fe80::1]:1", "ipv6:[::ffff:10.0.0.1]:1", "ipv6:::1", "127.0.0.1:50051",
        "ipv4:1127.0.0.1:1", "dns:localhost:50051"}) {
    EXPECT_FALSE(IsLoopbackPeer(peer)) << peer;
  }
}

TEST(AuthenticatorTest, LoopbackOnlyDevelopmentModeRefusesOtherPeers) {
  std::unique_ptr<Authenticator> auth =
      Authenticator::Development(Authenticator::Peers::kLoopbackOnly);
  EXPECT_TRUE(auth->loopback_only());
  grpc::ServerContext no_peer;  // not a call: no peer address at all
  absl::StatusOr<std::string> tenant = auth->Authenticate(no_peer);
  EXPECT_EQ(tenant.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(tenant.status().message().find("--api_keys_file"), std::string::npos)
      << tenant.status();
  EXPECT_FALSE(Authenticator::Development(Authenticator::Peers::kAny)->loopback_only());
}

TEST(AuthenticatorTest, DevelopmentModeMapsEveryContextToDefaultTenant) {
  std::unique_ptr<Authenticator> auth = Authenticator::Development(Authenticator::Peers::kAny);
  grpc::ServerContext without_metadata;
  EXPECT_EQ(TenantOf(auth->Authenticate(without_metadata)), "default");

  grpc::ServerContext with_metadata;
  grpc::testing::ServerContextTestSpouse spouse(&with_metadata);
  spouse.AddClientMetadata("authorization", "Bearer some-unknown-key");
  EXPECT_EQ(TenantOf(auth->Authenticate(with_metadata)), "default");
}

TEST(AuthenticatorTest, FromHashesIsNotDevelopmentMode) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  EXPECT_FALSE(auth->development());
  EXPECT_EQ(auth->AuthenticateHeader(nullptr).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthenticatorTest, FromHashesWithNoKeysRejectsEveryone) {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromHashes({});
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->development());
  EXPECT_EQ(Header(**auth, "Bearer abc").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Header(**auth, "Bearer ").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthenticatorTest, FromHashesRejectsMalformedHashes) {
  const std::string abc_hash = kAbcHash;
  const std::string upper = absl::AsciiStrToUpper(abc_hash);
  std::string non_hex = abc_hash;
  non_hex[10] = 'g';
  for (const std::string& hash :
       {upper, non_hex, abc_hash.substr(1), abc_hash + "0", std::string(), std::string(64, ' ')}) {
    SCOPED_TRACE(hash);
    absl::StatusOr<std::unique_ptr<Authenticator>> auth =
        Authenticator::FromHashes({{hash, "acme"}});
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(auth.status().message(), HasSubstr("tenant 'acme'"));
    EXPECT_THAT(auth.status().message(), HasSubstr("64 lowercase hex digits"));
  }
}

TEST(AuthenticatorTest, FromHashesRejectsInvalidTenants) {
  for (const std::string& tenant : {std::string(), std::string("a/b"), std::string(".hidden"),
                                    std::string("white space"), std::string(129, 't')}) {
    SCOPED_TRACE(tenant);
    absl::StatusOr<std::unique_ptr<Authenticator>> auth =
        Authenticator::FromHashes({{kAbcHash, tenant}});
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(auth.status().message(), HasSubstr("tenant: must be"));
  }
  // The longest valid tenant is fine.
  EXPECT_TRUE(Authenticator::FromHashes({{kAbcHash, std::string(128, 't')}}).ok());
}

TEST(AuthenticatorTest, MissingHeaderIsUnauthenticated) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  absl::StatusOr<std::string> result = auth->AuthenticateHeader(nullptr);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr("missing 'Bearer <api key>'"));
}

TEST(AuthenticatorTest, EmptyHeaderIsUnauthenticated) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  absl::StatusOr<std::string> result = Header(*auth, "");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr("expected 'Bearer <api key>'"));
  EXPECT_THAT(result.status().message(), Not(HasSubstr("missing")));
}

TEST(AuthenticatorTest, WrongSchemeIsUnauthenticated) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  // "abc" is acme's key, so only the scheme is wrong in each of these.
  for (const char* header : {"abc", "Basic abc", "Token abc", "Bearerabc", "Bearer", "Bearer\tabc",
                             " Bearer abc", "Bear abc", "Bearer:abc"}) {
    SCOPED_TRACE(header);
    absl::StatusOr<std::string> result = Header(*auth, header);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(result.status().message(), HasSubstr("expected 'Bearer <api key>'"));
  }
}

TEST(AuthenticatorTest, BearerWithEmptyKeyIsUnauthenticated) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  for (const char* header : {"Bearer ", "bearer "}) {
    SCOPED_TRACE(header);
    absl::StatusOr<std::string> result = Header(*auth, header);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(result.status().message(), HasSubstr("expected 'Bearer <api key>'"));
  }
}

TEST(AuthenticatorTest, EmptyKeyIsRejectedEvenWhenItsHashIsRegistered) {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::FromHashes({{HashApiKey(""), "acme"}});
  ASSERT_TRUE(auth.ok()) << auth.status();
  absl::StatusOr<std::string> result = Header(**auth, "Bearer ");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr("expected 'Bearer <api key>'"));
}

TEST(AuthenticatorTest, UnknownKeyIsUnauthenticated) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  // The stored hash itself is not a credential.
  for (const std::string& header :
       {std::string("Bearer nope"), std::string("Bearer ") + kAbcHash, std::string("Bearer  ")}) {
    SCOPED_TRACE(header);
    absl::StatusOr<std::string> result = Header(*auth, header);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(result.status().message(), HasSubstr("unknown api key"));
  }
}

TEST(AuthenticatorTest, ValidKeyMapsToItsTenant) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(TenantOf(Header(*auth, "Bearer abc")), "acme");
  EXPECT_EQ(TenantOf(Header(*auth, "Bearer globex-key")), "globex");
}

TEST(AuthenticatorTest, TenantsNeverMapToEachOther) {
  const std::string acme_key = "acme-secret-1";
  const std::string globex_key = "globex-secret-1";
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromHashes(
      {{HashApiKey(acme_key), "acme"}, {HashApiKey(globex_key), "globex"}});
  ASSERT_TRUE(auth.ok()) << auth.status();
  for (int i = 0; i < 3; ++i) {  // Repeated calls give the same answer.
    EXPECT_EQ(TenantOf(Header(**auth, "Bearer " + acme_key)), "acme");
    EXPECT_EQ(TenantOf(Header(**auth, "Bearer " + globex_key)), "globex");
  }
  // Near misses of one tenant's key match no tenant.
  for (const std::string& key : {std::string("acme-secret-"), std::string("acme-secret-2"),
                                 std::string("globex-secret-1x"), std::string("ACME-SECRET-1")}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(Header(**auth, "Bearer " + key).status().code(), absl::StatusCode::kUnauthenticated);
  }
}

TEST(AuthenticatorTest, OneTenantMayHaveSeveralKeys) {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromHashes(
      {{HashApiKey("old"), "acme"}, {HashApiKey("new"), "acme"}, {HashApiKey("x"), "globex"}});
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer old")), "acme");
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer new")), "acme");
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer x")), "globex");
}

TEST(AuthenticatorTest, SchemeIsCaseInsensitive) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  for (const char* scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    SCOPED_TRACE(scheme);
    EXPECT_EQ(TenantOf(Header(*auth, absl::StrCat(scheme, " abc"))), "acme");
  }
}

TEST(AuthenticatorTest, KeyIsEverythingAfterTheFirstSpace) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);
  // No trimming and no case folding of the key.
  for (const char* header : {"Bearer  abc", "Bearer abc ", "Bearer abc\n", "Bearer ABC"}) {
    SCOPED_TRACE(header);
    absl::StatusOr<std::string> result = Header(*auth, header);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(result.status().message(), HasSubstr("unknown api key"));
  }
  // A key that itself starts with a space is usable.
  absl::StatusOr<std::unique_ptr<Authenticator>> spaced =
      Authenticator::FromHashes({{HashApiKey(" abc"), "spaced"}});
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(TenantOf(Header(**spaced, "Bearer  abc")), "spaced");
  EXPECT_EQ(Header(**spaced, "Bearer abc").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthenticatorTest, AuthenticateReadsAuthorizationMetadata) {
  std::unique_ptr<Authenticator> auth = TwoTenants();
  ASSERT_NE(auth, nullptr);

  grpc::ServerContext without_metadata;
  absl::StatusOr<std::string> missing = auth->Authenticate(without_metadata);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing"));

  grpc::ServerContext other_metadata;
  grpc::testing::ServerContextTestSpouse other_spouse(&other_metadata);
  other_spouse.AddClientMetadata("x-api-key", "abc");
  absl::StatusOr<std::string> other = auth->Authenticate(other_metadata);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(other.status().message(), HasSubstr("missing"));

  grpc::ServerContext acme;
  grpc::testing::ServerContextTestSpouse acme_spouse(&acme);
  acme_spouse.AddClientMetadata("authorization", "Bearer abc");
  EXPECT_EQ(TenantOf(auth->Authenticate(acme)), "acme");

  grpc::ServerContext globex;
  grpc::testing::ServerContextTestSpouse globex_spouse(&globex);
  globex_spouse.AddClientMetadata("authorization", "Bearer globex-key");
  EXPECT_EQ(TenantOf(auth->Authenticate(globex)), "globex");

  grpc::ServerContext unknown;
  grpc::testing::ServerContextTestSpouse unknown_spouse(&unknown);
  unknown_spouse.AddClientMetadata("authorization", "Bearer nope");
  absl::StatusOr<std::string> rejected = auth->Authenticate(unknown);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(rejected.status().message(), HasSubstr("unknown api key"));
}

TEST(AuthenticatorTest, FromFileParsesKeysCommentsAndBlankLines) {
  TempDir dir("auth_test");
  const std::string path =
      WriteFile(dir, "keys",
                absl::StrCat("# maskserve api keys\n",                           //
                             "\n",                                               //
                             "acme ", kAbcHash, "\n",                            //
                             "   \t  \n",                                        //
                             "   # an indented comment\n",                       //
                             "  globex\t\t", HashApiKey("globex-key"), "   \n",  //
                             "acme ", HashApiKey("acme-second-key"), "\r\n",     //
                             "initech ", HashApiKey("initech-key")));  // No final newline.
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->development());
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer abc")), "acme");
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer globex-key")), "globex");
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer acme-second-key")), "acme");
  EXPECT_EQ(TenantOf(Header(**auth, "Bearer initech-key")), "initech");
  EXPECT_EQ(Header(**auth, "Bearer nope").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->AuthenticateHeader(nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthenticatorTest, FromFileRejectsLinesWithoutTwoFields) {
  TempDir dir("auth_test");
  const std::string good = absl::StrCat("acme ", kAbcHash, "\n");
  // Each bad line is line 4, after a comment, a blank line and a good line.
  for (const std::string& bad :
       {std::string("acme"), std::string(kAbcHash), absl::StrCat("acme ", kAbcHash, " extra"),
        "globex " + HashApiKey("g") + " # a trailing comment"}) {
    SCOPED_TRACE(bad);
    const std::string path = WriteFile(dir, "keys", "# keys\n\n" + good + bad + "\n");
    absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromFile(path);
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(auth.status().message(), HasSubstr(path + ":4:"));
    EXPECT_THAT(auth.status().message(), HasSubstr("expected '<tenant> <sha256 hex of key>'"));
  }
}

TEST(AuthenticatorTest, FromFileRejectsDuplicateHashes) {
  TempDir dir("auth_test");
  const std::string path = WriteFile(dir, "keys",
                                     absl::StrCat("acme ", kAbcHash, "\n",                       //
                                                  "globex ", HashApiKey("globex-key"), "\n",     //
                                                  "# the same key again, for another tenant\n",  //
                                                  "initech ", kAbcHash, "\n"));
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(auth.status().message(), HasSubstr(path + ":4:"));
  EXPECT_THAT(auth.status().message(), HasSubstr("duplicate key hash"));

  // Also for the same tenant twice.
  const std::string same_tenant =
      WriteFile(dir, "same_tenant", absl::StrCat("acme ", kAbcHash, "\nacme ", kAbcHash, "\n"));
  auth = Authenticator::FromFile(same_tenant);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(auth.status().message(), HasSubstr(same_tenant + ":2:"));
  EXPECT_THAT(auth.status().message(), HasSubstr("duplicate key hash"));
}

TEST(AuthenticatorTest, FromFileRejectsBadHashesAndTenants) {
  TempDir dir("auth_test");
  const std::string bad_hash =
      WriteFile(dir, "bad_hash", absl::StrCat("acme ", absl::AsciiStrToUpper(kAbcHash), "\n"));
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromFile(bad_hash);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(auth.status().message(), HasSubstr(bad_hash + ":1:"));  // the line, too
  EXPECT_THAT(auth.status().message(), HasSubstr("tenant 'acme'"));
  EXPECT_THAT(auth.status().message(), HasSubstr("64 lowercase hex digits"));

  const std::string short_hash = WriteFile(dir, "short_hash", "acme 0123abcd\n");
  auth = Authenticator::FromFile(short_hash);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(auth.status().message(), HasSubstr(short_hash));
  EXPECT_THAT(auth.status().message(), HasSubstr("64 lowercase hex digits"));

  const std::string bad_tenant =
      WriteFile(dir, "bad_tenant", absl::StrCat("# keys\n\nacme/eu ", kAbcHash, "\n"));
  auth = Authenticator::FromFile(bad_tenant);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(auth.status().message(), HasSubstr(bad_tenant + ":3:"));
  EXPECT_THAT(auth.status().message(), HasSubstr("tenant: must be"));
}

TEST(AuthenticatorTest, FromFileWithoutKeysIsInvalid) {
  TempDir dir("auth_test");
  for (const std::string& contents :
       {std::string(), std::string("\n\n"), std::string("# no keys yet\n  # none at all\n")}) {
    SCOPED_TRACE(contents);
    const std::string path = WriteFile(dir, "keys", contents);
    absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromFile(path);
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(auth.status().message(), HasSubstr(path));
    EXPECT_THAT(auth.status().message(), HasSubstr("no keys"));
  }
}

TEST(AuthenticatorTest, FromFileMissingIsNotFound) {
  TempDir dir("auth_test");
  const std::string path = dir.path() + "/does_not_exist";
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(auth.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace maskserve
