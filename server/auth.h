// File: server/auth.h
//
// Maps API keys to tenants. Keys arrive as `authorization: Bearer <key>`
// metadata and are compared by their sha256, so the key file holds hashes
// only. Key file format, one key per line ('#' starts a comment):
//
//   <tenant> <sha256 hex of the key>
//   acme 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
//
// (`printf %s "$KEY" | sha256sum` prints the hash; scripts/make_api_key.sh
// makes a key and its line.) The admin key file (--admin_keys_file) has the
// same format, with an operator's name in place of the tenant.
//
// Without a key file the authenticator runs in development mode: every call
// belongs to the tenant "default", and only loopback clients are accepted
// unless the server was told otherwise (--allow_unauthenticated); the server
// logs this loudly at start-up.
//
// Thread safety: immutable after construction.
#ifndef MASKSERVE_SERVER_AUTH_H_
#define MASKSERVE_SERVER_AUTH_H_

#include <map>
#include <memory>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace maskserve {

inline constexpr char kDevelopmentTenant[] = "default";

// True for a gRPC peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000",
// "ipv6:[::ffff:127.0.0.1]:5000", "unix:/path") that is this host's loopback
// or a Unix socket.
bool IsLoopbackPeer(absl::string_view peer);

class Authenticator {
 public:
  // Which callers development mode accepts.
  enum class Peers { kLoopbackOnly, kAny };
  // Development mode: every caller is kDevelopmentTenant; with
  // kLoopbackOnly a caller from another host is PERMISSION_DENIED.
  static std::unique_ptr<Authenticator> Development(Peers peers);
  // Reads a key file; INVALID_ARGUMENT naming `flag`, the file and line on
  // bad content, NOT_FOUND when it cannot be read.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(
      const std::string& path, const std::string& flag = "api_keys_file");
  // From a map of sha256 hex (of a key) to its tenant.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromHashes(
      const std::map<std::string, std::string>& hash_to_tenant);

  bool development() const { return development_; }
  bool loopback_only() const { return development_ && loopback_only_; }

  // The caller's tenant. UNAUTHENTICATED when the metadata is missing or
  // malformed or the key is unknown; PERMISSION_DENIED for a remote caller
  // of a loopback-only development server.
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContext& context) const;
  // Same, from the raw `authorization` header value (tests, tools).
  absl::StatusOr<std::string> AuthenticateHeader(const std::string* authorization) const;

 private:
  bool development_ = false;
  bool loopback_only_ = false;
  std::map<std::string, std::string> tenant_by_hash_;
};

// sha256 hex of `key`.
std::string HashApiKey(const std::string& key);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_AUTH_H_
