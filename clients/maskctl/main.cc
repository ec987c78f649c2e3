// maskctl: command-line client of maskserve.
//
//   maskctl [--address=host:port] [--api_key=KEY] [--json] [flags] COMMAND [ARGS]
//
// The flags are defined and read here only; they become a CliOptions that the
// commands (commands_*.cc) receive. See cli.h for the exit codes and
// commands.cc for the command list.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/maskctl/cli.h"
#include "clients/maskctl/commands.h"
#include "clients/maskctl/format.h"

// Connection.
ABSL_FLAG(std::string, address, "localhost:50051",
          "Server address host:port (default from env MASKSERVE_ADDRESS)");
ABSL_FLAG(std::string, api_key, "",
          "API key, sent as 'authorization: Bearer <key>' (default from env MASKSERVE_API_KEY)");
ABSL_FLAG(bool, tls, false, "Use TLS with the system's root certificates (implied by --tls_*)");
ABSL_FLAG(std::string, tls_ca, "", "PEM file of the CA that signed the server certificate");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate for mutual TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name expected in the server certificate, if not the address's host");
ABSL_FLAG(double, timeout_seconds, 10.0, "Deadline of each unary RPC");
ABSL_FLAG(bool, json, false, "Print responses as JSON");

// train.
ABSL_FLAG(std::string, method, "XPEFT_HARD",
          "train: XPEFT_HARD, XPEFT_SOFT, PROPETL_LAYER, PROPETL_HYBRID, HEAD_ONLY or ADAPTER");
ABSL_FLAG(std::string, labels, "",
          "train: comma-separated label names in index order (default: first-seen order; "
          "with --shared_head, the head's labels)");
ABSL_FLAG(std::string, shared_head, "",
          "train: reuse this shared classification head (listed by `info`) instead of "
          "training one; the profile then stores no head");
ABSL_FLAG(std::string, format, "auto", "train: examples format: auto, csv, tsv or jsonl");
ABSL_FLAG(std::string, text_column, "text", "train, predict: column / JSON key of the text");
ABSL_FLAG(std::string, text_pair_column, "text_pair",
          "train, predict: column / JSON key of the optional second text");
ABSL_FLAG(std::string, label_column, "label", "train: column / JSON key of the label");
ABSL_FLAG(uint64_t, limit, 0, "train: use only the first N examples (0 = all)");
ABSL_FLAG(bool, wait, false, "train: watch the job until it finishes");
ABSL_FLAG(std::optional<uint32_t>, epochs, std::nullopt,
          "train: passes over the data [enough for 80 steps, 3..40; see README]");
ABSL_FLAG(std::optional<uint32_t>, batch_size, std::nullopt, "train: examples per step [8]");
ABSL_FLAG(std::optional<float>, mask_learning_rate, std::nullopt, "train: mask learning rate");
ABSL_FLAG(std::optional<float>, head_learning_rate, std::nullopt,
          "train: head / adapter learning rate [1e-2]");
ABSL_FLAG(std::optional<float>, weight_decay, std::nullopt, "train: AdamW weight decay [0.01]");
ABSL_FLAG(std::optional<float>, warmup_fraction, std::nullopt, "train: warm-up fraction [0.1]");
ABSL_FLAG(std::optional<uint32_t>, max_sequence_length, std::nullopt,
          "train: tokens per sequence [128]");
ABSL_FLAG(std::optional<uint32_t>, early_stopping_patience, std::nullopt,
          "train: epochs without improvement before stopping; 0 = never [5]");
ABSL_FLAG(std::optional<uint32_t>, xpeft_top_k, std::nullopt, "train: X-PEFT k of N");
ABSL_FLAG(std::optional<float>, gumbel_noise_start, std::nullopt, "train: X-PEFT hard nu start");
ABSL_FLAG(std::optional<float>, gumbel_noise_end, std::nullopt, "train: X-PEFT hard nu end");
ABSL_FLAG(std::optional<float>, temperature_start, std::nullopt, "train: X-PEFT hard tau start");
ABSL_FLAG(std::optional<float>, temperature_end, std::nullopt, "train: X-PEFT hard tau end");
ABSL_FLAG(std::optional<float>, propetl_keep_fraction, std::nullopt,
          "train: ProPETL fraction of weights kept");
ABSL_FLAG(std::string, head_precision, "",
          "train: how the head's weight is stored: fp16 (2 bytes per weight) or int8 (1 byte "
          "per weight plus a scale per label) [fp16]");
ABSL_FLAG(
    std::optional<float>, validation_fraction, std::nullopt,
    "train: fraction held out for validation, in [0, 0.5] [0.2 from 100 examples on, else 0]");
ABSL_FLAG(uint64_t, seed, 0, "train: random seed");
ABSL_FLAG(std::string, description, "", "train: free-form description stored with the profile");
ABSL_FLAG(std::optional<uint64_t>, expected_version, std::nullopt,
          "train, delete: act only if the profile is at this version (0 = must not exist)");

// watch.
ABSL_FLAG(double, watch_timeout_seconds, 0,
          "watch, train --wait: give up after this long (0 = never)");
ABSL_FLAG(std::string, progress, "auto",
          "watch, train --wait: auto (a bar on a terminal, else plain lines), bar, plain or "
          "none (only the final line)");

// predict.
ABSL_FLAG(uint32_t, top_k, 0, "predict: best labels per input (0 = 1)");
ABSL_FLAG(bool, return_logits, false, "predict: also return logits (with --json)");
ABSL_FLAG(bool, pairs, false, "predict: each text is 'text<TAB>text_pair'");
ABSL_FLAG(uint32_t, inputs_per_call, 64,
          "predict: inputs sent per Predict call (at most the server's limit)");
ABSL_FLAG(std::string, input, "",
          "predict: file of texts ('-' = stdin): one text a line, or JSON lines "
          "{\"id\": ..., \"text\": ...}");
ABSL_FLAG(std::string, input_format, "auto",
          "predict: auto (jsonl for .jsonl/.json or a first line starting with '{'), text or "
          "jsonl");
ABSL_FLAG(std::string, output_format, "table",
          "predict: table (label, probability, text), csv or jsonl");
ABSL_FLAG(std::string, output, "", "predict: write the predictions to this file ('-' = stdout)");

// list, jobs.
ABSL_FLAG(uint32_t, page_size, 0, "list, jobs: entries per page (0 = server default)");
ABSL_FLAG(std::string, states, "", "jobs: comma-separated states to show, e.g. RUNNING,QUEUED");

// import.
ABSL_FLAG(bool, overwrite, false, "import: replace an existing profile as a new version");

namespace maskserve {
namespace maskctl {
namespace {

// absl::ParseCommandLine exits with status 1 on a bad flag, which scripts
// would read as "RPC failed". Check every flag first so that usage errors
// exit 2. Returns an error message, empty when the flags are fine, and the
// names of the flags given in `given`.
std::string CheckFlags(int argc, char** argv, std::set<std::string>* given) {
  // Handled by absl itself (help output, flag files) and not looked up here.
  static const std::set<absl::string_view> kAbslBuiltins = {
      "help",    "helpfull",        "helpshort", "helppackage", "helpon",     "helpmatch",
      "version", "only_check_args", "flagfile",  "fromenv",     "tryfromenv", "undefok"};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t eq = arg.find('=');
    const absl::string_view name = arg.substr(0, eq);
    if (kAbslBuiltins.count(name) > 0) continue;
    given->insert(std::string(name));
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && eq == absl::string_view::npos) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) return absl::StrCat("unknown flag --", name);
    if (eq == absl::string_view::npos) {
      if (flag->IsOfType<bool>()) continue;
      if (i + 1 >= argc) return absl::StrCat("missing value for --", name);
      ++i;  // absl takes the next argument as the value
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(arg.substr(eq + 1), &error)) {
      return absl::StrCat("bad value for --", name, ": ", error);
    }
  }
  return "";
}

// Turns the parsed flags into CliOptions; returns an error message on
// invalid combinations.
std::string OptionsFromFlags(CliOptions* options) {
  client::ConnectionOptions& c = options->connection;
  c.address = absl::GetFlag(FLAGS_address);
  c.api_key = absl::GetFlag(FLAGS_api_key);
  c.tls = absl::GetFlag(FLAGS_tls);
  c.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  c.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  c.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  c.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  const double timeout = absl::GetFlag(FLAGS_timeout_seconds);
  if (!(timeout > 0)) return "timeout_seconds: must be positive";
  c.timeout = absl::Seconds(timeout);
  options->json = absl::GetFlag(FLAGS_json);

  TrainOptions& train = options->train;
  absl::StatusOr<v1::Method> method = ParseMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return std::string(method.status().message());
  train.method = *method;
  train.shared_head = absl::GetFlag(FLAGS_shared_head);
  if (!absl::GetFlag(FLAGS_labels).empty()) {
    absl::StatusOr<std::vector<std::string>> labels = ParseLabelList(absl::GetFlag(FLAGS_labels));
    if (!labels.ok()) return std::string(labels.status().message());
    train.labels = *std::move(labels);
  }
  absl::StatusOr<ExampleFormat> format = ParseExampleFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return std::string(format.status().message());
  train.read.format = *format;
  train.read.text_column = absl::GetFlag(FLAGS_text_column);
  train.read.text_pair_column = absl::GetFlag(FLAGS_text_pair_column);
  train.read.label_column = absl::GetFlag(FLAGS_label_column);
  train.read.limit = absl::GetFlag(FLAGS_limit);
  train.wait = absl::GetFlag(FLAGS_wait);
  v1::HyperParameters& h = train.hyper_parameters;
  if (auto v = absl::GetFlag(FLAGS_epochs)) h.set_epochs(*v);
  if (auto v = absl::GetFlag(FLAGS_batch_size)) h.set_batch_size(*v);
  if (auto v = absl::GetFlag(FLAGS_mask_learning_rate)) h.set_mask_learning_rate(*v);
  if (auto v = absl::GetFlag(FLAGS_head_learning_rate)) h.set_head_learning_rate(*v);
  if (auto v = absl::GetFlag(FLAGS_weight_decay)) h.set_weight_decay(*v);
  if (auto v = absl::GetFlag(FLAGS_warmup_fraction)) h.set_warmup_fraction(*v);
  if (auto v = absl::GetFlag(FLAGS_max_sequence_length)) h.set_max_sequence_length(*v);
  if (auto v = absl::GetFlag(FLAGS_early_stopping_patience)) h.set_early_stopping_patience(*v);
  if (auto v = absl::GetFlag(FLAGS_xpeft_top_k)) h.set_xpeft_top_k(*v);
  if (auto v = absl::GetFlag(FLAGS_gumbel_noise_start)) h.set_gumbel_noise_start(*v);
  if (auto v = absl::GetFlag(FLAGS_gumbel_noise_end)) h.set_gumbel_noise_end(*v);
  if (auto v = absl::GetFlag(FLAGS_temperature_start)) h.set_temperature_start(*v);
  if (auto v = absl::GetFlag(FLAGS_temperature_end)) h.set_temperature_end(*v);
  if (auto v = absl::GetFlag(FLAGS_propetl_keep_fraction)) h.set_propetl_keep_fraction(*v);
  absl::StatusOr<v1::HeadPrecision> head_precision =
      ParseHeadPrecision(absl::GetFlag(FLAGS_head_precision));
  if (!head_precision.ok()) return std::string(head_precision.status().message());
  h.set_head_precision(*head_precision);
  train.validation_fraction = absl::GetFlag(FLAGS_validation_fraction);
  train.seed = absl::GetFlag(FLAGS_seed);
  train.description = absl::GetFlag(FLAGS_description);
  options->expected_version = absl::GetFlag(FLAGS_expected_version);

  const double watch_timeout = absl::GetFlag(FLAGS_watch_timeout_seconds);
  if (watch_timeout < 0) return "watch_timeout_seconds: must not be negative";
  options->watch_timeout =
      watch_timeout == 0 ? absl::InfiniteDuration() : absl::Seconds(watch_timeout);

  PredictOptions& predict = options->predict;
  predict.top_k = absl::GetFlag(FLAGS_top_k);
  predict.return_logits = absl::GetFlag(FLAGS_return_logits);
  predict.pairs = absl::GetFlag(FLAGS_pairs);
  predict.inputs_per_call = absl::GetFlag(FLAGS_inputs_per_call);
  if (predict.inputs_per_call == 0) return "inputs_per_call: must be positive";
  predict.input = absl::GetFlag(FLAGS_input);
  absl::StatusOr<InputFormat> input_format = ParseInputFormat(absl::GetFlag(FLAGS_input_format));
  if (!input_format.ok()) return std::string(input_format.status().message());
  predict.input_format = *input_format;
  predict.text_key = absl::GetFlag(FLAGS_text_column);
  predict.text_pair_key = absl::GetFlag(FLAGS_text_pair_column);
  absl::StatusOr<OutputFormat> output_format =
      ParseOutputFormat(absl::GetFlag(FLAGS_output_format));
  if (!output_format.ok()) return std::string(output_format.status().message());
  predict.output_format = *output_format;
  predict.output = absl::GetFlag(FLAGS_output);
  absl::StatusOr<ProgressMode> progress = ParseProgressMode(absl::GetFlag(FLAGS_progress));
  if (!progress.ok()) return std::string(progress.status().message());
  options->progress = *progress;

  options->list.page_size = absl::GetFlag(FLAGS_page_size);
  absl::StatusOr<std::vector<v1::JobState>> states = ParseJobStates(absl::GetFlag(FLAGS_states));
  if (!states.ok()) return std::string(states.status().message());
  options->list.states = *std::move(states);
  options->overwrite = absl::GetFlag(FLAGS_overwrite);
  return "";
}

int Main(int argc, char** argv) {
  const std::string usage = UsageText();
  absl::SetProgramUsageMessage(usage);
  std::set<std::string> given;
  if (std::string error = CheckFlags(argc, argv, &given); !error.empty()) {
    std::cerr << "maskctl: " << error << "\n\n" << usage << "\n";
    return kExitUsage;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // The environment fills in what the command line did not say (applied
  // after parsing so that --helpfull never prints the API key).
  if (const char* env = std::getenv("MASKSERVE_ADDRESS");
      env != nullptr && *env != '\0' && given.count("address") == 0) {
    absl::SetFlag(&FLAGS_address, env);
  }
  if (const char* env = std::getenv("MASKSERVE_API_KEY");
      env != nullptr && *env != '\0' && given.count("api_key") == 0) {
    absl::SetFlag(&FLAGS_api_key, env);
  }
  if (positional.size() < 2) {
    std::cerr << usage << "\n";
    return kExitUsage;
  }
  CommandContext ctx;
  if (std::string error = OptionsFromFlags(&ctx.options); !error.empty()) {
    std::cerr << "maskctl: " << error << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::MakeChannel(ctx.options.connection);
  if (!channel.ok()) {
    std::cerr << "maskctl: " << channel.status().message() << "\n";
    return kExitUsage;
  }
  ctx.channel = *std::move(channel);
  ctx.args.assign(positional.begin() + 2, positional.end());
  ctx.in = &std::cin;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.out_is_terminal = isatty(STDOUT_FILENO) == 1;
  return RunCommand(positional[1], ctx);
}

}  // namespace
}  // namespace maskctl
}  // namespace maskserve

int main(int argc, char** argv) { return maskserve::maskctl::Main(argc, argv); }
