#include "clients/common/channel.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace maskserve {
namespace client {
namespace {

// Reads a whole PEM file; `flag` names the option in errors.
absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (content.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": '", path, "' is empty"));
  }
  return content.str();
}

}  // namespace

bool UsesTls(const ConnectionOptions& options) {
  return options.tls || !options.tls_ca_file.empty() || !options.tls_cert_file.empty() ||
         !options.tls_key_file.empty() || !options.tls_server_name.empty();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options,
                                                           grpc::ChannelArguments arguments) {
  if (options.address.empty()) return absl::InvalidArgumentError("address: empty");
  if (!UsesTls(options)) {
    return grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(),
                                     arguments);
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert, tls_key: give both for mutual TLS, or neither");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("tls_ca", options.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("tls_cert", options.tls_cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("tls_key", options.tls_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  if (!options.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl), arguments);
}

void PrepareStreamContext(const ConnectionOptions& options, grpc::ClientContext* context) {
  if (!options.api_key.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.api_key);
  }
}

void PrepareUnaryContext(const ConnectionOptions& options, grpc::ClientContext* context) {
  PrepareStreamContext(options, context);
  if (options.timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  }
}

bool IsValidProfileId(absl::string_view profile_id) {
  if (profile_id.empty() || profile_id.size() > 128 || profile_id[0] == '.') return false;
  for (char c : profile_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool SetProfileRoutingHeader(absl::string_view profile_id, grpc::ClientContext* context) {
  if (!IsValidProfileId(profile_id)) return false;
  context->AddMetadata(kProfileRoutingHeader, std::string(profile_id));
  return true;
}

const char* StatusCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  const int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(sizeof(kNames) / sizeof(kNames[0])) ? kNames[index]
                                                                                    : "UNKNOWN";
}

std::string FormatRpcError(const std::string& rpc, const grpc::Status& status) {
  return absl::StrCat(rpc, " failed: ", StatusCodeName(status.error_code()), ": ",
                      status.error_message());
}

}  // namespace client
}  // namespace maskserve
