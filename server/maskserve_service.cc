#include "server/maskserve_service.h"

#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "server/auth.h"
#include "server/engine/engine.h"
#include "server/engine/engine_errors.h"
#include "server/status_util.h"

namespace maskserve {

namespace {

PredictCall ToPredictCall(const v1::PredictRequest& request, grpc::ServerContext* context) {
  PredictCall call;
  call.profile_id = request.profile_id();
  call.inputs.reserve(size_t(request.inputs_size()));
  for (const v1::TextInput& input : request.inputs()) {
    call.inputs.push_back({input.text(), input.text_pair()});
  }
  call.top_k = request.top_k();
  call.return_logits = request.return_logits();
  call.deadline = absl::FromChrono(context->deadline());
  call.cancelled = [context] { return context->IsCancelled(); };
  return call;
}

void ToResponse(PredictResult result, v1::PredictResponse* response) {
  response->set_profile_id(std::move(result.profile_id));
  response->set_profile_version(result.profile_version);
  for (std::string& label : result.label_names) response->add_label_names(std::move(label));
  for (Prediction& p : result.predictions) {
    v1::Prediction* out = response->add_predictions();
    out->set_label(std::move(p.label));
    out->set_label_index(p.label_index);
    for (float probability : p.probabilities) out->add_probabilities(probability);
    for (LabelScore& score : p.top) {
      v1::LabelScore* top = out->add_top();
      top->set_label(std::move(score.label));
      top->set_index(score.index);
      top->set_probability(score.probability);
    }
    for (float logit : p.logits) out->add_logits(logit);
  }
}

PageRequest ToPage(uint32_t page_size, const std::string& page_token) {
  return PageRequest{page_size, page_token};
}

}  // namespace

void MaskserveService::Ready(std::shared_ptr<const ServiceDependencies> deps) {
  std::atomic_store(&deps_, std::move(deps));
}

template <typename Body>
grpc::Status MaskserveService::Serve(Rpc rpc, grpc::ServerContext* context, Body&& body) {
  const absl::Time start = absl::Now();
  std::shared_ptr<const ServiceDependencies> deps = std::atomic_load(&deps_);
  absl::Status status;
  if (deps == nullptr) {
    status = absl::UnavailableError("the server is loading; retry shortly");
  } else if (draining_.load()) {
    status = absl::UnavailableError("the server is shutting down");
  } else {
    absl::StatusOr<std::string> tenant = deps->auth->Authenticate(*context);
    // The engine returns statuses; the catch is the last resort for what
    // escapes anyway (e.g. std::bad_alloc): INTERNAL, never gRPC's UNKNOWN.
    status = tenant.ok() ? CatchEngineErrors([&] { return body(*deps->engine, *tenant); })
                         : tenant.status();
  }
  grpc::Status result = ToGrpcStatus(status);
  if (deps != nullptr && deps->metrics != nullptr) {
    deps->metrics->RecordRequest(rpc, result.error_code(),
                                 absl::ToDoubleSeconds(absl::Now() - start));
  }
  return result;
}

grpc::Status MaskserveService::Predict(grpc::ServerContext* context,
                                       const v1::PredictRequest* request,
                                       v1::PredictResponse* response) {
  return Serve(Rpc::kPredict, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<PredictResult> result = engine.Predict(tenant, ToPredictCall(*request, context));
    if (!result.ok()) return result.status();
    ToResponse(*std::move(result), response);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::TrainProfile(grpc::ServerContext* context,
                                            const v1::TrainProfileRequest* request,
                                            v1::TrainProfileResponse* response) {
  return Serve(Rpc::kTrainProfile, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<v1::TrainingJob> job = engine.SubmitTraining(tenant, *request);
    if (!job.ok()) return job.status();
    response->set_job_id(job->job_id());
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::GetTrainingJob(grpc::ServerContext* context,
                                              const v1::GetTrainingJobRequest* request,
                                              v1::TrainingJob* response) {
  return Serve(Rpc::kGetTrainingJob, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<v1::TrainingJob> job = engine.GetJob(tenant, request->job_id());
    if (!job.ok()) return job.status();
    *response = *std::move(job);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::WatchTrainingJob(grpc::ServerContext* context,
                                                const v1::WatchTrainingJobRequest* request,
                                                grpc::ServerWriter<v1::TrainingJob>* writer) {
  return Serve(Rpc::kWatchTrainingJob, context, [&](Engine& engine, const std::string& tenant) {
    absl::Status watched = engine.WatchJob(
        tenant, request->job_id(), [&](const v1::TrainingJob& job) { return writer->Write(job); },
        [&] { return context->IsCancelled() || draining_.load(); });
    if (!watched.ok() && draining_.load()) {
      return absl::UnavailableError("the server is shutting down; watch the job again later");
    }
    return watched;
  });
}

grpc::Status MaskserveService::CancelTrainingJob(grpc::ServerContext* context,
                                                 const v1::CancelTrainingJobRequest* request,
                                                 v1::TrainingJob* response) {
  return Serve(Rpc::kCancelTrainingJob, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<v1::TrainingJob> job = engine.CancelJob(tenant, request->job_id());
    if (!job.ok()) return job.status();
    *response = *std::move(job);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::ListTrainingJobs(grpc::ServerContext* context,
                                                const v1::ListTrainingJobsRequest* request,
                                                v1::ListTrainingJobsResponse* response) {
  return Serve(Rpc::kListTrainingJobs, context, [&](Engine& engine, const std::string& tenant) {
    JobFilter filter;
    filter.profile_id = request->profile_id();
    for (int state : request->states()) filter.states.push_back(v1::JobState(state));
    absl::StatusOr<ListJobsResult> jobs =
        engine.ListJobs(tenant, filter, ToPage(request->page_size(), request->page_token()));
    if (!jobs.ok()) return jobs.status();
    for (v1::TrainingJob& job : jobs->jobs) *response->add_jobs() = std::move(job);
    response->set_next_page_token(jobs->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::GetProfile(grpc::ServerContext* context,
                                          const v1::GetProfileRequest* request,
                                          v1::Profile* response) {
  return Serve(Rpc::kGetProfile, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<v1::Profile> profile = engine.GetProfile(tenant, request->profile_id());
    if (!profile.ok()) return profile.status();
    *response = *std::move(profile);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::ListProfiles(grpc::ServerContext* context,
                                            const v1::ListProfilesRequest* request,
                                            v1::ListProfilesResponse* response) {
  return Serve(Rpc::kListProfiles, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<ListProfilesResult> listed =
        engine.ListProfiles(tenant, ToPage(request->page_size(), request->page_token()));
    if (!listed.ok()) return listed.status();
    for (v1::Profile& p : listed->profiles) *response->add_profiles() = std::move(p);
    response->set_next_page_token(listed->next_page_token);
    response->set_total_count(listed->total_count);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::DeleteProfile(grpc::ServerContext* context,
                                             const v1::DeleteProfileRequest* request,
                                             v1::DeleteProfileResponse* response) {
  return Serve(Rpc::kDeleteProfile, context, [&](Engine& engine, const std::string& tenant) {
    std::optional<uint64_t> expected;
    if (request->has_expected_version()) expected = request->expected_version();
    absl::StatusOr<uint64_t> deleted =
        engine.DeleteProfile(tenant, request->profile_id(), expected);
    if (!deleted.ok()) return deleted.status();
    response->set_deleted_version(*deleted);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::ExportProfile(grpc::ServerContext* context,
                                             const v1::ExportProfileRequest* request,
                                             v1::ExportProfileResponse* response) {
  return Serve(Rpc::kExportProfile, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<ExportedProfile> exported = engine.ExportProfile(tenant, request->profile_id());
    if (!exported.ok()) return exported.status();
    response->set_data(std::move(exported->data));
    response->set_version(exported->version);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::ImportProfile(grpc::ServerContext* context,
                                             const v1::ImportProfileRequest* request,
                                             v1::Profile* response) {
  return Serve(Rpc::kImportProfile, context, [&](Engine& engine, const std::string& tenant) {
    absl::StatusOr<v1::Profile> imported =
        engine.ImportProfile(tenant, request->profile_id(), request->data(), request->overwrite());
    if (!imported.ok()) return imported.status();
    *response = *std::move(imported);
    return absl::OkStatus();
  });
}

grpc::Status MaskserveService::GetModelInfo(grpc::ServerContext* context,
                                            const v1::GetModelInfoRequest* request,
                                            v1::ModelInfo* response) {
  return Serve(Rpc::kGetModelInfo, context, [&](Engine& engine, const std::string&) {
    *response = engine.model_info();
    return absl::OkStatus();
  });
}

}  // namespace maskserve
