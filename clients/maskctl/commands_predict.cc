// predict.
//
// Texts come from the arguments, or are streamed from --input (a file, or
// "-" for stdin; stdin also when there are no texts). Streamed inputs are
// sent in requests of at most --inputs_per_call inputs (capped by the
// server's max_inputs_per_request) and kMaxRequestTextBytes of text, and
// each response is written before the next request is read, so memory
// stays bounded by one request. A regular file is checked in full before
// the first request, so that a bad line fails the command before any output;
// stdin and pipes are checked as they are read.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/maskctl/commands.h"
#include "clients/maskctl/format.h"
#include "clients/maskctl/predict_io.h"
#include "core/base/utf8.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace maskctl {
namespace {

// Text bytes per request, whatever the input count (well under the server's
// and gRPC's message limits).
constexpr size_t kMaxRequestTextBytes = 1 << 20;

// The server's input limits, from GetModelInfo; zeros when it does not say.
struct ServerLimits {
  size_t max_inputs_per_request = 0;
  size_t max_text_bytes = 0;
};

ServerLimits FetchLimits(const CommandContext& ctx, v1::Maskserve::Stub* stub) {
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  v1::ModelInfo info;
  ServerLimits limits;
  if (stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok()) {
    limits.max_inputs_per_request = info.limits().max_inputs_per_request();
    limits.max_text_bytes = info.limits().max_text_bytes();
  }
  return limits;
}

// `status` with the source line of the input it names ("inputs[3]...") added.
grpc::Status WithInputLine(const grpc::Status& status, const std::vector<PredictInput>& batch,
                           const std::string& source) {
  const std::string& message = status.error_message();
  size_t index = 0;
  const size_t close = message.find(']');
  if (!absl::StartsWith(message, "inputs[") || close == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(message).substr(7, close - 7), &index) ||
      index >= batch.size()) {
    return status;
  }
  const PredictInput& input = batch[index];
  const std::string where = input.line > 0 ? absl::StrCat(source, ": line ", input.line)
                                           : absl::StrCat("text ", input.id);
  return grpc::Status(status.error_code(), absl::StrCat(message, " (", where, ")"));
}

// Sends `batch` and writes the answer; returns an exit code.
int PredictBatch(const CommandContext& ctx, v1::Maskserve::Stub* stub,
                 const std::vector<PredictInput>& batch, const std::string& source,
                 PredictionWriter* writer, std::ostream* out) {
  const PredictOptions& options = ctx.options.predict;
  v1::PredictRequest request;
  request.set_profile_id(ctx.args[0]);
  request.set_top_k(options.top_k);
  request.set_return_logits(options.return_logits);
  for (const PredictInput& input : batch) {
    v1::TextInput* text = request.add_inputs();
    text->set_text(input.text);
    text->set_text_pair(input.text_pair);
  }
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  client::SetProfileRoutingHeader(request.profile_id(), &context);
  v1::PredictResponse response;
  grpc::Status status = stub->Predict(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, "predict", WithInputLine(status, batch, source));
  if (ctx.options.json && options.output_format == OutputFormat::kTable) {
    CommandContext json_ctx = ctx;
    json_ctx.out = out;
    PrintJsonLine(json_ctx, response);
  } else {
    writer->Write(batch, response);
  }
  return out->good() ? kExitOk : kExitOutputError;
}

}  // namespace

int RunPredict(const CommandContext& ctx) {
  const PredictOptions& options = ctx.options.predict;
  const std::vector<std::string> args(ctx.args.begin() + 1, ctx.args.end());
  const bool args_are_stdin = args.size() == 1 && args[0] == "-";
  if (!options.input.empty() && !args.empty() && !args_are_stdin) {
    return ReportUsageError(ctx, "predict: give the texts as arguments or with --input, not both");
  }
  if (ctx.options.json && options.output_format != OutputFormat::kTable) {
    return ReportUsageError(
        ctx, "predict: --json prints the raw responses; leave it out with --output_format");
  }
  // Where the texts come from: the arguments, or a stream.
  const bool from_args = options.input.empty() && !args.empty() && !args_are_stdin;
  const std::string path = options.input.empty() ? "-" : options.input;
  const std::string source = path == "-" ? "<stdin>" : path;
  std::vector<PredictInput> arg_inputs;
  if (from_args) {
    for (size_t i = 0; i < args.size(); ++i) {
      const size_t bad = InvalidUtf8At(args[i]);
      if (bad != std::string::npos) {
        return ReportUsageError(
            ctx, absl::StrCat("predict: text ", i + 1, ": invalid UTF-8 at byte ", bad));
      }
      PredictInput input;
      input.id = absl::StrCat(i + 1);
      input.id_is_number = true;
      const size_t tab = options.pairs ? args[i].find('\t') : std::string::npos;
      input.text = args[i].substr(0, tab);
      if (tab != std::string::npos) input.text_pair = args[i].substr(tab + 1);
      arg_inputs.push_back(std::move(input));
    }
  }

  auto stub = v1::Maskserve::NewStub(ctx.channel);
  size_t per_call = options.inputs_per_call == 0 ? 64 : options.inputs_per_call;
  InputReadOptions read;
  read.format = options.input_format;
  read.pairs = options.pairs;
  read.text_key = options.text_key;
  read.text_pair_key = options.text_pair_key;
  std::ifstream file;
  std::istream* in = ctx.in;
  if (!from_args) {
    const ServerLimits limits = FetchLimits(ctx, stub.get());
    if (limits.max_inputs_per_request > 0 && per_call > limits.max_inputs_per_request) {
      per_call = limits.max_inputs_per_request;
    }
    read.max_text_bytes = limits.max_text_bytes;
    if (path != "-") {
      file.open(path, std::ios::binary);
      if (!file) {
        return ReportUsageError(
            ctx, absl::StrCat("predict: cannot read '", path, "': ", std::strerror(errno)));
      }
      // A regular file is checked in full before anything is sent (a pipe
      // such as <(...) can be read only once: it is checked as it is read).
      struct stat info {};
      if (stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
        InputReader check(&file, source, read);
        PredictInput input;
        while (true) {
          absl::StatusOr<bool> more = check.Next(&input);
          if (!more.ok()) return ReportUsageError(ctx, std::string(more.status().message()));
          if (!*more) break;
        }
        file.clear();
        file.seekg(0);
      }
    }
    in = path == "-" ? ctx.in : &file;
  }

  std::ofstream output_file;
  std::ostream* out = ctx.out;
  if (!options.output.empty() && options.output != "-") {
    output_file.open(options.output, std::ios::binary | std::ios::trunc);
    if (!output_file) {
      *ctx.err << "maskctl: predict: cannot write '" << options.output
               << "': " << std::strerror(errno) << "\n";
      return kExitOutputError;
    }
    out = &output_file;
  }
  const std::string output_name = out == ctx.out ? "stdout" : "'" + options.output + "'";
  PredictWriteOptions write;
  write.format = options.output_format;
  write.top_k = options.top_k;
  write.pairs = options.pairs;
  PredictionWriter writer(out, write);

  InputReader reader(in, source, read);
  size_t next_arg = 0;
  size_t sent = 0;
  std::optional<PredictInput> pending;  // read but not fitting the last request
  std::vector<PredictInput> batch;
  while (true) {
    batch.clear();
    size_t bytes = 0;
    while (batch.size() < per_call) {
      PredictInput input;
      if (pending) {
        input = *std::move(pending);
        pending.reset();
      } else if (from_args) {
        if (next_arg == arg_inputs.size()) break;
        input = std::move(arg_inputs[next_arg++]);
      } else {
        absl::StatusOr<bool> more = reader.Next(&input);
        if (!more.ok()) return ReportUsageError(ctx, std::string(more.status().message()));
        if (!*more) break;
      }
      const size_t size = input.text.size() + input.text_pair.size();
      if (!batch.empty() && bytes + size > kMaxRequestTextBytes) {
        pending = std::move(input);
        break;
      }
      bytes += size;
      batch.push_back(std::move(input));
    }
    if (batch.empty()) break;
    const int code = PredictBatch(ctx, stub.get(), batch, source, &writer, out);
    if (code == kExitOutputError) {
      *ctx.err << "maskctl: predict: cannot write to " << output_name << "\n";
    }
    if (code != kExitOk) return code;
    sent += batch.size();
  }
  if (sent == 0) {
    return ReportUsageError(ctx,
                            absl::StrCat("predict: no texts (give them as arguments, or lines in ",
                                         from_args ? "stdin" : source, ")"));
  }
  out->flush();
  if (!out->good()) {
    *ctx.err << "maskctl: predict: cannot write to " << output_name << "\n";
    return kExitOutputError;
  }
  return kExitOk;
}

}  // namespace maskctl
}  // namespace maskserve
