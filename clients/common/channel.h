// File: clients/common/channel.h
//
// How maskserve's C++ clients (maskctl, the load generator) connect: one
// ConnectionOptions struct describing the address, the API key and TLS, a
// factory for the channel, and the per-call context set-up (deadline and the
// `authorization: Bearer <key>` metadata the server expects), and the
// `x-maskserve-profile` routing header of profile-scoped calls.
//
// Example:
//   ConnectionOptions options;
//   options.address = "localhost:50051";
//   options.api_key = "secret";
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
//   if (!channel.ok()) ...;
//   grpc::ClientContext context;
//   PrepareUnaryContext(options, &context);
//   stub->GetModelInfo(&context, request, &info);
//
//   grpc::ClientContext predict_context;
//   PrepareUnaryContext(options, &predict_context);
//   SetProfileRoutingHeader(predict_request.profile_id(), &predict_context);
//   stub->Predict(&predict_context, predict_request, &predictions);
//
// Thread safety: free functions; ConnectionOptions is a plain value.
#ifndef MASKSERVE_CLIENTS_COMMON_CHANNEL_H_
#define MASKSERVE_CLIENTS_COMMON_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace maskserve {
namespace client {

// Where and how to reach a maskserve server.
struct ConnectionOptions {
  // host:port of the server.
  std::string address = "localhost:50051";
  // Sent as `authorization: Bearer <api_key>`; empty sends no metadata (the
  // server's development mode).
  std::string api_key;
  // Use TLS. Implied by any of the tls_* files below; with no CA file the
  // system's root certificates are trusted.
  bool tls = false;
  // PEM file of the CA(s) the server certificate must chain to.
  std::string tls_ca_file;
  // PEM client certificate chain and private key for mutual TLS; both or
  // neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Name to check in the server certificate instead of the address's host
  // (e.g. "localhost" when connecting to 127.0.0.1). Testing aid.
  std::string tls_server_name;
  // Deadline of each unary call, counted from PrepareUnaryContext().
  absl::Duration timeout = absl::Seconds(10);
};

// True when `options` asks for TLS in any way.
bool UsesTls(const ConnectionOptions& options);

// Creates a channel for `options`; `arguments` are extra channel arguments
// (the load generator uses them to keep channels on separate connections).
// Fails with INVALID_ARGUMENT naming the flag when a TLS file cannot be read
// or only one of the certificate and the key is given. Does not connect.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options, grpc::ChannelArguments arguments = grpc::ChannelArguments());

// Sets the deadline (now + options.timeout) and the authorization metadata.
void PrepareUnaryContext(const ConnectionOptions& options, grpc::ClientContext* context);

// Sets only the authorization metadata, for streams that may legitimately
// outlive the unary timeout (WatchTrainingJob).
void PrepareStreamContext(const ConnectionOptions& options, grpc::ClientContext* context);

// The metadata key naming the profile a call is about. A proxy in front of
// several replicas routes on it (nginx: `hash $http_x_maskserve_profile
// consistent;`), so that every call about one profile reaches the replica
// that holds it. Every profile-scoped call sends it: Predict, TrainProfile,
// GetProfile, DeleteProfile, ExportProfile, ImportProfile, and
// ListTrainingJobs when it filters by a profile. Calls that are not about
// one profile (GetModelInfo, ListProfiles, health, the job-id calls
// GetTrainingJob / WatchTrainingJob / CancelTrainingJob, Admin) send none.
inline constexpr char kProfileRoutingHeader[] = "x-maskserve-profile";

// True when `profile_id` follows the API's rule for profile ids (1..128
// bytes of [A-Za-z0-9._:@-], not starting with '.').
bool IsValidProfileId(absl::string_view profile_id);

// Adds `x-maskserve-profile: <profile_id>` to `context`. gRPC metadata values
// must be printable ASCII; valid profile ids always are. An invalid id (empty
// included) is not sent: the server rejects the call with INVALID_ARGUMENT
// naming the field anyway, wherever it is routed. Returns whether the header
// was added. Call it once per context, like PrepareUnaryContext().
bool SetProfileRoutingHeader(absl::string_view profile_id, grpc::ClientContext* context);

// The canonical name of a gRPC status code ("NOT_FOUND"); "UNKNOWN" for
// values outside the canonical range.
const char* StatusCodeName(grpc::StatusCode code);

// "<rpc> failed: <CODE>: <message>", the error line every client prints.
std::string FormatRpcError(const std::string& rpc, const grpc::Status& status);

}  // namespace client
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_COMMON_CHANNEL_H_
