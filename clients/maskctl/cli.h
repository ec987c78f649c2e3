// File: clients/maskctl/cli.h
//
// What every maskctl command receives (CommandContext: options parsed from
// the flags, the channel, positional arguments and the streams to use) and
// the helpers that keep output and exit codes uniform across commands.
//
// Exit codes (stable, for scripts):
//   0  success
//   1  an RPC failed ("maskctl: <rpc> failed: <CODE>: <message>" on stderr),
//      or a watched training job ended FAILED or CANCELLED
//   2  usage error or invalid local input (flags, arguments, example file)
//   3  the server is not serving (health)
//   4  an output file could not be written (export, predict --output)
//
// Thread safety: a CommandContext is used by one command on one thread.
#ifndef MASKSERVE_CLIENTS_MASKCTL_CLI_H_
#define MASKSERVE_CLIENTS_MASKCTL_CLI_H_

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "clients/common/channel.h"
#include "clients/maskctl/example_reader.h"
#include "clients/maskctl/predict_io.h"
#include "clients/maskctl/progress.h"
#include "maskserve/v1/maskserve.pb.h"

namespace maskserve {
namespace maskctl {

constexpr int kExitOk = 0;
constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotServing = 3;
constexpr int kExitOutputError = 4;

// `train` options.
struct TrainOptions {
  v1::Method method = v1::XPEFT_HARD;
  // Label names in index order; empty = inferred in first-seen order, or
  // the shared head's labels when `shared_head` is set.
  std::vector<std::string> labels;
  // A shared head (ModelInfo.shared_heads) to reuse; empty = own head.
  std::string shared_head;
  ExampleReadOptions read;
  // Only the fields the user set; the server fills in the rest.
  v1::HyperParameters hyper_parameters;
  std::optional<float> validation_fraction;
  uint64_t seed = 0;
  std::string description;
  // Watch the job until it finishes.
  bool wait = false;
};

// `predict` options.
struct PredictOptions {
  // Best labels per input; 0 = server default (1).
  uint32_t top_k = 0;
  bool return_logits = false;
  // Each text is "text<TAB>text_pair".
  bool pairs = false;
  // Inputs sent per Predict call (stdin input is chunked); at most the
  // server's max_inputs_per_request.
  size_t inputs_per_call = 64;
  // File of texts ("-" = stdin); empty = the arguments, or stdin without any.
  std::string input;
  InputFormat input_format = InputFormat::kAuto;
  // JSONL input: the keys of the text and of the optional second text.
  std::string text_key = "text";
  std::string text_pair_key = "text_pair";
  OutputFormat output_format = OutputFormat::kTable;
  // Where the predictions go; empty or "-" = stdout.
  std::string output;
};

// `list` and `jobs` options.
struct ListOptions {
  // 0 = server default.
  uint32_t page_size = 0;
  // `jobs` only: keep jobs in these states (empty = all).
  std::vector<v1::JobState> states;
};

// Everything the flags say.
struct CliOptions {
  client::ConnectionOptions connection;
  // Print responses as JSON (pretty for one message, one compact line per
  // message for streams and chunked predictions).
  bool json = false;
  TrainOptions train;
  PredictOptions predict;
  ListOptions list;
  // `train`, `delete`: act only if the profile is at this version.
  std::optional<uint64_t> expected_version;
  // `import`: replace an existing profile.
  bool overwrite = false;
  // `watch` and `train --wait`: give up after this long.
  absl::Duration watch_timeout = absl::InfiniteDuration();
  // `watch`: reconnections tried when the stream breaks (UNAVAILABLE).
  int watch_reconnects = 5;
  // `watch` and `train --wait`: how progress is shown (progress.h).
  ProgressMode progress = ProgressMode::kAuto;
};

// What a command runs with.
struct CommandContext {
  CliOptions options;
  std::shared_ptr<grpc::Channel> channel;
  // Positional arguments after the command name.
  std::vector<std::string> args;
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  // Whether `out` is a terminal (--progress=auto draws a bar on it).
  bool out_is_terminal = false;
};

// Prints "maskctl: <rpc> failed: <CODE>: <message>" and returns kExitRpcError.
int ReportRpcError(const CommandContext& ctx, const std::string& rpc, const grpc::Status& status);

// Prints "maskctl: <message>" and returns kExitUsage.
int ReportUsageError(const CommandContext& ctx, const std::string& message);

// Prints `message` as indented JSON (proto field names) followed by a newline.
void PrintJson(const CommandContext& ctx, const google::protobuf::Message& message);

// Prints `message` as one line of compact JSON.
void PrintJsonLine(const CommandContext& ctx, const google::protobuf::Message& message);

// Prepares a unary call's context (deadline and API key). Profile-scoped
// calls add client::SetProfileRoutingHeader() (clients/common/channel.h).
void PrepareUnary(const CommandContext& ctx, grpc::ClientContext* context);

}  // namespace maskctl
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_MASKCTL_CLI_H_
