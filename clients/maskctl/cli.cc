#include "clients/maskctl/cli.h"

#include <ostream>

#include <google/protobuf/util/json_util.h>

namespace maskserve {
namespace maskctl {
namespace {

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

}  // namespace

int ReportRpcError(const CommandContext& ctx, const std::string& rpc, const grpc::Status& status) {
  *ctx.err << "maskctl: " << client::FormatRpcError(rpc, status) << "\n";
  return kExitRpcError;
}

int ReportUsageError(const CommandContext& ctx, const std::string& message) {
  *ctx.err << "maskctl: " << message << "\n";
  return kExitUsage;
}

void PrintJson(const CommandContext& ctx, const google::protobuf::Message& message) {
  *ctx.out << ToJson(message, true) << "\n";
}

void PrintJsonLine(const CommandContext& ctx, const google::protobuf::Message& message) {
  *ctx.out << ToJson(message, false) << "\n" << std::flush;
}

void PrepareUnary(const CommandContext& ctx, grpc::ClientContext* context) {
  client::PrepareUnaryContext(ctx.options.connection, context);
}

}  // namespace maskctl
}  // namespace maskserve
