// maskctl: command-line client of maskserve.
//
//   maskctl [--address=host:port] [--json] [--timeout_seconds=N] COMMAND
//
// Commands:
//   health   exit 0 when the server reports SERVING, 3 when NOT_SERVING
//   info     backbone, banks and limits of the server
//
// Exit codes (stable, for scripts): 0 success; 1 the RPC failed (the gRPC
// status code and message are printed to stderr); 2 usage error; 3 the server
// is not serving.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

ABSL_FLAG(std::string, address, "localhost:50051", "Server address (host:port); env MASKSERVE_ADDRESS");
ABSL_FLAG(bool, json, false, "Print responses as JSON");
ABSL_FLAG(double, timeout_seconds, 10.0, "Deadline of each RPC");

namespace maskserve {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotServing = 3;

const char* const kUsage =
    "maskctl [flags] COMMAND\n\n"
    "Commands:\n"
    "  health   check that the server is SERVING (exit 3 when not)\n"
    "  info     show the backbone, banks and limits\n\n"
    "Exit codes: 0 ok, 1 RPC failed, 2 usage, 3 not serving.";

// What every command gets: the channel and the parsed positional arguments.
struct CommandContext {
  std::shared_ptr<grpc::Channel> channel;
  std::vector<std::string> args;
};

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds))));
}

int ReportRpcError(const std::string& rpc, const grpc::Status& status) {
  static const char* const kCodeNames[] = {
      "OK",           "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",    "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  int code = static_cast<int>(status.error_code());
  const char* name = code >= 0 && code <= 16 ? kCodeNames[code] : "UNKNOWN";
  std::cerr << "maskctl: " << rpc << " failed: " << name << ": " << status.error_message()
            << "\n";
  return kExitRpcError;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

int Health(const CommandContext& ctx) {
  auto stub = grpc::health::v1::Health::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(ctx.args.empty() ? "" : ctx.args[0]);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return ReportRpcError("health", status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(response);
  } else {
    std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
              << "\n";
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                                : kExitNotServing;
}

int Info(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return ReportRpcError("info", status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(info);
    return kExitOk;
  }
  const v1::BackboneInfo& b = info.backbone();
  std::cout << "server      maskserve " << info.server_version() << "\n"
            << "backbone    " << b.name() << ": L=" << b.num_layers() << " d=" << b.hidden_size()
            << " heads=" << b.num_attention_heads() << " ffn=" << b.intermediate_size()
            << " vocab=" << b.vocab_size() << " (" << b.device() << ", " << b.dtype() << ")\n";
  if (!b.fingerprint().empty()) std::cout << "            fingerprint " << b.fingerprint() << "\n";
  for (const v1::BankInfo& bank : info.banks()) {
    std::cout << "bank        " << v1::BankKind_Name(bank.kind()) << ": N=" << bank.num_adapters()
              << " b=" << bank.bottleneck() << " k=" << bank.top_k()
              << (bank.warm() ? " warm" : " random") << " fingerprint " << bank.fingerprint()
              << "\n";
  }
  if (info.banks().empty()) std::cout << "bank        (none loaded)\n";
  const v1::Limits& l = info.limits();
  std::cout << "limits      inputs/request=" << l.max_inputs_per_request()
            << " text_bytes=" << l.max_text_bytes() << " examples/job=" << l.max_examples_per_job()
            << " labels=" << l.max_labels() << " seq_len=" << l.max_sequence_length()
            << " profiles/tenant=" << l.max_profiles_per_tenant() << "\n";
  return kExitOk;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  if (const char* env = std::getenv("MASKSERVE_ADDRESS")) absl::SetFlag(&FLAGS_address, env);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::cerr << kUsage << "\n";
    return kExitUsage;
  }
  const std::map<std::string, std::function<int(const CommandContext&)>> commands = {
      {"health", Health},
      {"info", Info},
  };
  auto command = commands.find(positional[1]);
  if (command == commands.end()) {
    std::cerr << "maskctl: unknown command '" << positional[1] << "'\n\n" << kUsage << "\n";
    return kExitUsage;
  }
  CommandContext ctx;
  ctx.channel = grpc::CreateChannel(absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials());
  ctx.args.assign(positional.begin() + 2, positional.end());
  return command->second(ctx);
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) { return maskserve::Run(argc, argv); }
