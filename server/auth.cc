#include "server/auth.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/sha256.h"
#include "storage/ids.h"

namespace maskserve {

std::string HashApiKey(const std::string& key) {
  Sha256 hash;
  hash.Update(key);
  return hash.HexDigest();
}

bool IsLoopbackPeer(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "unix:") || absl::StartsWith(peer, "unix-abstract:")) return true;
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    const size_t colon = peer.rfind(':');
    const absl::string_view host = colon == absl::string_view::npos ? peer : peer.substr(0, colon);
    return absl::StartsWith(host, "127.");  // 127.0.0.0/8
  }
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    const size_t close = peer.find(']');
    if (peer.empty() || peer[0] != '[' || close == absl::string_view::npos) return false;
    const std::string host = absl::AsciiStrToLower(peer.substr(1, close - 1));
    if (host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
    // An IPv4 loopback address mapped into IPv6.
    return absl::StartsWith(host, "::ffff:127.");
  }
  return false;
}

std::unique_ptr<Authenticator> Authenticator::Development(Peers peers) {
  auto auth = std::unique_ptr<Authenticator>(new Authenticator());
  auth->development_ = true;
  auth->loopback_only_ = peers == Peers::kLoopbackOnly;
  return auth;
}

namespace {

// A valid tenant and a sha256 hex digest.
absl::Status CheckKeyEntry(const std::string& hash, const std::string& tenant) {
  absl::Status valid = ValidateTenant(tenant);
  if (!valid.ok()) return valid;
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("api key hash for tenant '", tenant, "': expected 64 lowercase hex digits"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromHashes(
    const std::map<std::string, std::string>& hash_to_tenant) {
  auto auth = std::unique_ptr<Authenticator>(new Authenticator());
  for (const auto& [hash, tenant] : hash_to_tenant) {
    absl::Status valid = CheckKeyEntry(hash, tenant);
    if (!valid.ok()) return valid;
    auth->tenant_by_hash_[hash] = tenant;
  }
  return auth;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(const std::string& path,
                                                                       const std::string& flag) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read '", path, "'"));
  std::map<std::string, std::string> hashes;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> fields =
        absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", path, ":", number, ": expected '<tenant> <sha256 hex of key>'"));
    }
    absl::Status valid = CheckKeyEntry(fields[1], fields[0]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", path, ":", number, ": ", valid.message()));
    }
    if (hashes.count(fields[1])) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", path, ":", number, ": duplicate key hash"));
    }
    hashes[fields[1]] = fields[0];
  }
  auto auth = FromHashes(hashes);
  if (!auth.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, ": ", auth.status().message()));
  }
  if ((*auth)->tenant_by_hash_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, ": no keys"));
  }
  return auth;
}

absl::StatusOr<std::string> Authenticator::AuthenticateHeader(
    const std::string* authorization) const {
  if (development_) return std::string(kDevelopmentTenant);
  if (authorization == nullptr) {
    return absl::UnauthenticatedError("authorization: missing 'Bearer <api key>' metadata");
  }
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWithIgnoreCase(*authorization, kBearer) ||
      authorization->size() == kBearer.size()) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <api key>'");
  }
  auto it = tenant_by_hash_.find(HashApiKey(authorization->substr(kBearer.size())));
  if (it == tenant_by_hash_.end()) {
    // The caller could not be identified: UNAUTHENTICATED, not
    // PERMISSION_DENIED (gRPC's rule for the two codes).
    return absl::UnauthenticatedError("authorization: unknown api key");
  }
  return it->second;
}

absl::StatusOr<std::string> Authenticator::Authenticate(const grpc::ServerContext& context) const {
  if (development_) {
    if (loopback_only_ && !IsLoopbackPeer(context.peer())) {
      return absl::PermissionDeniedError(absl::StrCat(
          "authorization: this server has no API keys (development mode) and accepts only "
          "loopback clients, not ",
          context.peer(),
          "; start it with --api_keys_file (or --allow_unauthenticated to accept anyone)"));
    }
    return std::string(kDevelopmentTenant);
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return AuthenticateHeader(nullptr);
  std::string value(it->second.data(), it->second.size());
  return AuthenticateHeader(&value);
}

}  // namespace maskserve
