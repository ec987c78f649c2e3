// train, watch, jobs and cancel.
#include <chrono>
#include <ostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "clients/maskctl/commands.h"
#include "clients/maskctl/format.h"
#include "clients/maskctl/progress.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace maskctl {
namespace {

// Most pages `jobs` follows before it stops (a guard against a server that
// keeps returning a token).
constexpr int kMaxPages = 100000;

// Reports a job that ended without success; returns the exit code.
int ReportFinalState(const CommandContext& ctx, const v1::TrainingJob& job) {
  if (job.state() == v1::SUCCEEDED) return kExitOk;
  *ctx.err << "maskctl: job " << job.job_id() << " " << v1::JobState_Name(job.state())
           << (job.error().empty() ? "" : ": ") << job.error() << "\n";
  return kExitRpcError;
}

// --progress=auto resolved: a bar on a terminal, plain lines elsewhere.
ProgressMode ResolveProgressMode(const CommandContext& ctx) {
  if (ctx.options.progress != ProgressMode::kAuto) return ctx.options.progress;
  return ctx.out_is_terminal ? ProgressMode::kBar : ProgressMode::kPlain;
}

}  // namespace

int WatchJob(const CommandContext& ctx, const std::string& job_id) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  const absl::Time deadline = ctx.options.watch_timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + ctx.options.watch_timeout;
  v1::TrainingJob last;
  std::string last_json;
  // JSON mode prints every changed message as it is; otherwise the printer
  // draws a bar or prints plain lines.
  ProgressPrinter printer(ctx.out, ResolveProgressMode(ctx),
                          ctx.out_is_terminal ? TerminalColumns(1) : 80);
  int reconnects = 0;
  while (true) {
    grpc::ClientContext context;
    client::PrepareStreamContext(ctx.options.connection, &context);
    if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
    v1::WatchTrainingJobRequest request;
    request.set_job_id(job_id);
    std::unique_ptr<grpc::ClientReader<v1::TrainingJob>> reader =
        stub->WatchTrainingJob(&context, request);
    v1::TrainingJob job;
    bool received = false;
    while (reader->Read(&job)) {
      received = true;
      if (ctx.options.json) {
        // Print only what changed (a stream may repeat a state).
        std::string bytes = job.SerializeAsString();
        if (bytes != last_json) PrintJsonLine(ctx, job);
        last_json = std::move(bytes);
      } else {
        printer.Update(job, absl::Now());
      }
      last = job;
    }
    grpc::Status status = reader->Finish();
    if (IsFinalJobState(last.state())) return ReportFinalState(ctx, last);
    const bool retryable = status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!retryable || reconnects >= ctx.options.watch_reconnects ||
        absl::Now() + absl::Seconds(1) >= deadline) {
      printer.Abandon();
      if (status.ok()) {
        status =
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended before the job finished");
      }
      return ReportRpcError(ctx, "watch", status);
    }
    if (received) reconnects = 0;
    ++reconnects;
    printer.Interrupt();
    *ctx.err << "maskctl: watch interrupted ("
             << (status.ok() ? "stream ended" : status.error_message()) << "); reconnecting\n";
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

int RunTrain(const CommandContext& ctx) {
  const TrainOptions& options = ctx.options.train;
  const std::string& profile_id = ctx.args[0];
  const std::string& path = ctx.args[1];
  absl::StatusOr<std::vector<LabeledExample>> examples = ReadExamples(path, options.read);
  if (!examples.ok()) return ReportUsageError(ctx, std::string(examples.status().message()));

  const std::string source = path == "-" ? "<stdin>" : path;
  std::vector<std::string> labels = options.labels;
  if (labels.empty() && !options.shared_head.empty()) {
    // The server uses the shared head's labels and checks the examples.
  } else if (labels.empty()) {
    labels = InferLabels(*examples);
    if (labels.size() < 2) {
      return ReportUsageError(ctx, absl::StrCat(source, ": only the label '", labels[0],
                                                "' occurs; a profile needs at least two"));
    }
  } else {
    absl::Status status = CheckLabels(*examples, labels, source);
    if (!status.ok()) return ReportUsageError(ctx, std::string(status.message()));
  }

  v1::TrainProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_method(options.method);
  request.set_shared_head(options.shared_head);
  for (const std::string& label : labels) request.add_label_names(label);
  for (const LabeledExample& example : *examples) {
    v1::TrainingExample* out = request.add_examples();
    out->set_text(example.text);
    out->set_text_pair(example.text_pair);
    out->set_label(example.label);
  }
  *request.mutable_hyper_parameters() = options.hyper_parameters;
  if (options.validation_fraction) request.set_validation_fraction(*options.validation_fraction);
  request.set_seed(options.seed);
  if (ctx.options.expected_version) request.set_expected_version(*ctx.options.expected_version);
  request.set_description(options.description);

  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  client::SetProfileRoutingHeader(profile_id, &context);
  v1::TrainProfileResponse response;
  grpc::Status status = stub->TrainProfile(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, "train", status);
  if (ctx.options.json) {
    PrintJsonLine(ctx, response);
  } else {
    *ctx.out << response.job_id() << "\n" << std::flush;
  }
  if (!options.wait) return kExitOk;
  return WatchJob(ctx, response.job_id());
}

int RunWatch(const CommandContext& ctx) { return WatchJob(ctx, ctx.args[0]); }

int RunCancel(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  grpc::ClientContext context;
  PrepareUnary(ctx, &context);
  v1::CancelTrainingJobRequest request;
  request.set_job_id(ctx.args[0]);
  v1::TrainingJob job;
  grpc::Status status = stub->CancelTrainingJob(&context, request, &job);
  if (!status.ok()) return ReportRpcError(ctx, "cancel", status);
  if (ctx.options.json) {
    PrintJson(ctx, job);
  } else {
    *ctx.out << job.job_id() << "  " << JobProgressLine(job) << "\n";
  }
  return kExitOk;
}

int RunJobs(const CommandContext& ctx) {
  auto stub = v1::Maskserve::NewStub(ctx.channel);
  v1::ListTrainingJobsRequest request;
  if (!ctx.args.empty()) request.set_profile_id(ctx.args[0]);
  for (v1::JobState state : ctx.options.list.states) request.add_states(state);
  request.set_page_size(ctx.options.list.page_size);
  v1::ListTrainingJobsResponse all;
  for (int page = 0; page < kMaxPages; ++page) {
    grpc::ClientContext context;
    PrepareUnary(ctx, &context);
    // Filtered by a profile: routed like the profile's other calls (no
    // filter, no header).
    client::SetProfileRoutingHeader(request.profile_id(), &context);
    v1::ListTrainingJobsResponse response;
    grpc::Status status = stub->ListTrainingJobs(&context, request, &response);
    if (!status.ok()) return ReportRpcError(ctx, "jobs", status);
    for (v1::TrainingJob& job : *response.mutable_jobs()) *all.add_jobs() = std::move(job);
    if (response.next_page_token().empty() || response.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(response.next_page_token());
  }
  if (ctx.options.json) {
    PrintJson(ctx, all);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"JOB", "PROFILE", "METHOD", "STATE", "PROGRESS", "VAL_ACC", "CREATED"}};
  for (const v1::TrainingJob& job : all.jobs()) {
    rows.push_back({job.job_id(), job.profile_id(), v1::Method_Name(job.method()),
                    v1::JobState_Name(job.state()), JobProgress(job),
                    job.best_validation().num_examples() > 0
                        ? FormatFloat(job.best_validation().accuracy())
                        : "-",
                    FormatTimestamp(job.create_time())});
  }
  *ctx.out << FormatTable(rows) << all.jobs_size() << (all.jobs_size() == 1 ? " job" : " jobs")
           << "\n";
  return kExitOk;
}

}  // namespace maskctl
}  // namespace maskserve
