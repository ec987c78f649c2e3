#include "clients/loadgen/profile_setup.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/loadgen/text_source.h"
#include "maskserve/v1/maskserve.grpc.pb.h"

namespace maskserve {
namespace loadgen {
namespace {

absl::Status RpcError(const std::string& rpc, const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      client::FormatRpcError(rpc, status));
}

v1::TrainProfileRequest TrainRequest(const std::string& profile_id, const SetupOptions& setup,
                                     uint64_t seed) {
  std::mt19937_64 rng(seed);
  v1::TrainProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_method(setup.method);
  request.add_label_names("neg");
  request.add_label_names("pos");
  for (int i = 0; i < std::max(2, setup.examples); ++i) {
    v1::TrainingExample* example = request.add_examples();
    const bool positive = i % 2 == 1;
    example->set_text(
        absl::StrCat(positive ? "great amazing " : "terrible boring ", RandomText(rng, 6)));
    example->set_label(positive ? "pos" : "neg");
  }
  request.mutable_hyper_parameters()->set_epochs(setup.epochs);
  request.set_validation_fraction(0);
  request.set_seed(seed);
  request.set_description("maskserve_loadgen synthetic profile");
  return request;
}

}  // namespace

absl::Status SetupProfiles(const LoadOptions& load, const SetupOptions& setup,
                           const std::shared_ptr<grpc::Channel>& channel, std::ostream& log) {
  auto stub = v1::Maskserve::NewStub(channel);
  const absl::Time deadline = absl::Now() + setup.timeout;
  std::vector<std::string> jobs;
  int existing = 0;
  for (int i = 0; i < load.profiles; ++i) {
    const std::string id = ProfileId(load, i);
    if (!setup.retrain) {
      grpc::ClientContext context;
      client::PrepareUnaryContext(load.connection, &context);
      client::SetProfileRoutingHeader(id, &context);
      v1::GetProfileRequest get;
      get.set_profile_id(id);
      v1::Profile profile;
      grpc::Status status = stub->GetProfile(&context, get, &profile);
      if (status.ok()) {
        ++existing;
        continue;
      }
      if (status.error_code() != grpc::StatusCode::NOT_FOUND) return RpcError("GetProfile", status);
    }
    const v1::TrainProfileRequest request = TrainRequest(id, setup, load.seed * 7919 + uint64_t(i));
    while (true) {
      grpc::ClientContext context;
      client::PrepareUnaryContext(load.connection, &context);
      client::SetProfileRoutingHeader(request.profile_id(), &context);
      v1::TrainProfileResponse response;
      grpc::Status status = stub->TrainProfile(&context, request, &response);
      if (status.ok()) {
        jobs.push_back(response.job_id());
        break;
      }
      const bool transient = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
      if (!transient || absl::Now() >= deadline) return RpcError("TrainProfile", status);
      absl::SleepFor(absl::Milliseconds(500));
    }
  }
  log << "setup: " << existing << " profiles exist, " << jobs.size() << " training jobs submitted\n"
      << std::flush;

  size_t done = 0;
  absl::Time last_report = absl::Now();
  // Jobs finish roughly in order, so poll the oldest unfinished one.
  while (done < jobs.size()) {
    grpc::ClientContext context;
    client::PrepareUnaryContext(load.connection, &context);
    v1::GetTrainingJobRequest request;
    request.set_job_id(jobs[done]);
    v1::TrainingJob job;
    grpc::Status status = stub->GetTrainingJob(&context, request, &job);
    if (!status.ok()) return RpcError("GetTrainingJob", status);
    if (job.state() == v1::SUCCEEDED) {
      ++done;
      continue;
    }
    if (job.state() == v1::FAILED || job.state() == v1::CANCELLED) {
      return absl::AbortedError(absl::StrCat("setup: job ", job.job_id(), " for ", job.profile_id(),
                                             " ", v1::JobState_Name(job.state()), ": ",
                                             job.error()));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("setup: ", done, " of ", jobs.size(), " jobs done before the timeout"));
    }
    if (absl::Now() - last_report > absl::Seconds(5)) {
      log << "setup: " << done << "/" << jobs.size() << " jobs done\n" << std::flush;
      last_report = absl::Now();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  log << "setup: all " << load.profiles << " profiles ready\n" << std::flush;
  return absl::OkStatus();
}

}  // namespace loadgen
}  // namespace maskserve
