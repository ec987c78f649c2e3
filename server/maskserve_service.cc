#include "server/maskserve_service.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/auth.h"
#include "server/predict_batcher.h"
#include "server/profile_table.h"
#include "server/request_validation.h"
#include "server/resident_profile.h"
#include "server/status_util.h"
#include "server/training_manager.h"
#include "storage/ids.h"
#include "storage/job_id.h"
#include "storage/profile_export.h"
#include "storage/profile_store.h"

namespace maskserve {

namespace {

// Longest a Predict waits when the client set no deadline.
constexpr absl::Duration kDefaultPredictTimeout = absl::Seconds(30);

absl::Time Deadline(const grpc::ServerContext& context, absl::Duration fallback) {
  const absl::Time client = absl::FromChrono(context.deadline());
  return std::min(client, absl::Now() + fallback);
}

void FillPrediction(const at::Tensor& logits, const std::vector<std::string>& labels,
                    uint32_t top_k, bool return_logits, v1::Prediction* out) {
  at::Tensor probs = at::softmax(logits.to(at::kFloat), 0).contiguous();
  const float* p = probs.data_ptr<float>();
  const int64_t n = probs.numel();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [p](int64_t a, int64_t b) { return p[a] > p[b]; });
  out->set_label(labels[size_t(order[0])]);
  out->set_label_index(uint32_t(order[0]));
  for (int64_t i = 0; i < n; ++i) out->add_probabilities(p[i]);
  const int64_t k = std::min<int64_t>(n, std::max<uint32_t>(1, top_k));
  for (int64_t i = 0; i < k; ++i) {
    v1::LabelScore* score = out->add_top();
    score->set_label(labels[size_t(order[size_t(i)])]);
    score->set_index(uint32_t(order[size_t(i)]));
    score->set_probability(p[order[size_t(i)]]);
  }
  if (return_logits) {
    at::Tensor l = logits.to(at::kFloat).contiguous();
    for (int64_t i = 0; i < n; ++i) out->add_logits(l.data_ptr<float>()[i]);
  }
}

absl::Status ValidJobId(const std::string& job_id) {
  absl::Status s = ValidateJobId(job_id);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("job_id: ", s.message()));
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
    status =
        tenant.ok() ? CatchEngineErrors([&] { return body(*deps, *tenant); }) : tenant.status();
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
  return Serve(Rpc::kPredict, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) {
                 return DoPredict(deps, tenant, context, *request, response);
               });
}

absl::Status MaskserveService::DoPredict(const ServiceDependencies& deps, const std::string& tenant,
                                         grpc::ServerContext* context,
                                         const v1::PredictRequest& request,
                                         v1::PredictResponse* response) {
  MASKSERVE_RETURN_IF_ERROR(ValidatePredictRequest(request, deps.limits));
  absl::StatusOr<ProfileHandle> profile = deps.profiles->Get(tenant, request.profile_id());
  if (!profile.ok()) return profile.status();

  EncodeOptions encode;
  encode.max_length = std::min<int64_t>(deps.limits.max_sequence_length,
                                        deps.backbone.model->config().max_position_embeddings);
  std::vector<Encoding> inputs;
  inputs.reserve(size_t(request.inputs_size()));
  for (const v1::TextInput& input : request.inputs()) {
    inputs.push_back(
        input.text_pair().empty()
            ? deps.backbone.tokenizer->Encode(input.text(), encode)
            : deps.backbone.tokenizer->EncodePair(input.text(), input.text_pair(), encode));
  }
  const absl::Time deadline = Deadline(*context, kDefaultPredictTimeout);
  auto task = std::make_shared<PredictTask>(tenant, *profile, std::move(inputs), deadline);
  MASKSERVE_RETURN_IF_ERROR(deps.batcher->Schedule(task));
  absl::StatusOr<std::vector<at::Tensor>> logits =
      task->Wait(deadline, [context] { return context->IsCancelled(); });
  if (!logits.ok()) return logits.status();

  const ComposedProfile& composed = *(*profile)->composed;
  response->set_profile_id(request.profile_id());
  response->set_profile_version((*profile)->version);
  for (const std::string& label : composed.labels) response->add_label_names(label);
  for (const at::Tensor& l : *logits) {
    FillPrediction(l, composed.labels, request.top_k(), request.return_logits(),
                   response->add_predictions());
  }
  return absl::OkStatus();
}

grpc::Status MaskserveService::TrainProfile(grpc::ServerContext* context,
                                            const v1::TrainProfileRequest* request,
                                            v1::TrainProfileResponse* response) {
  return Serve(
      Rpc::kTrainProfile, context,
      [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
        // With a shared head, train the request with the head's labels filled in.
        v1::TrainProfileRequest with_head;
        if (!request->shared_head().empty()) {
          with_head = *request;
          MASKSERVE_RETURN_IF_ERROR(ResolveSharedHead(deps.banks.heads.get(), &with_head));
          request = &with_head;
        }
        MASKSERVE_RETURN_IF_ERROR(ValidateTrainRequest(*request, deps.limits));
        const Method method = static_cast<Method>(request->method());
        if (IsXpeft(method) && deps.banks.adapters == nullptr) {
          return absl::FailedPreconditionError(absl::StrCat(
              "method: ", MethodName(method), " needs an X-PEFT adapter bank; none is loaded"));
        }
        if (IsPropetl(method) && deps.banks.prototype == nullptr) {
          return absl::FailedPreconditionError(absl::StrCat(
              "method: ", MethodName(method), " needs a ProPETL prototype; none is loaded"));
        }
        if (IsXpeft(method) && request->hyper_parameters().has_xpeft_top_k()) {
          const uint32_t k = request->hyper_parameters().xpeft_top_k();
          const int64_t n = deps.banks.adapters->config().num_adapters;
          if (k < 1 || int64_t(k) > n) {
            return absl::InvalidArgumentError(
                absl::StrCat("hyper_parameters.xpeft_top_k: must be in 1..", n, " (the bank's N)"));
          }
        }
        if (request->has_expected_version()) {
          absl::StatusOr<StoredProfile> current =
              deps.store->GetProfile(tenant, request->profile_id());
          const uint64_t version = current.ok() ? current->profile.version() : 0;
          if (!current.ok() && current.status().code() != absl::StatusCode::kNotFound) {
            return current.status();
          }
          if (version != request->expected_version()) {
            return absl::FailedPreconditionError(
                absl::StrCat("expected_version: profile '", request->profile_id(),
                             "' is at version ", version, ", not ", request->expected_version()));
          }
        }
        absl::StatusOr<v1::TrainingJob> job = deps.trainer->Submit(tenant, *request);
        if (!job.ok()) return job.status();
        response->set_job_id(job->job_id());
        return absl::OkStatus();
      });
}

grpc::Status MaskserveService::GetTrainingJob(grpc::ServerContext* context,
                                              const v1::GetTrainingJobRequest* request,
                                              v1::TrainingJob* response) {
  return Serve(Rpc::kGetTrainingJob, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
                 MASKSERVE_RETURN_IF_ERROR(ValidJobId(request->job_id()));
                 absl::StatusOr<v1::TrainingJob> job = deps.trainer->Get(tenant, request->job_id());
                 if (!job.ok()) return job.status();
                 *response = *job;
                 return absl::OkStatus();
               });
}

grpc::Status MaskserveService::WatchTrainingJob(grpc::ServerContext* context,
                                                const v1::WatchTrainingJobRequest* request,
                                                grpc::ServerWriter<v1::TrainingJob>* writer) {
  return Serve(
      Rpc::kWatchTrainingJob, context,
      [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
        MASKSERVE_RETURN_IF_ERROR(ValidJobId(request->job_id()));
        absl::Status watched = deps.trainer->Watch(
            tenant, request->job_id(),
            [&](const v1::TrainingJob& job) { return writer->Write(job); },
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
  return Serve(Rpc::kCancelTrainingJob, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
                 MASKSERVE_RETURN_IF_ERROR(ValidJobId(request->job_id()));
                 absl::StatusOr<v1::TrainingJob> job =
                     deps.trainer->Cancel(tenant, request->job_id());
                 if (!job.ok()) return job.status();
                 *response = *job;
                 return absl::OkStatus();
               });
}

grpc::Status MaskserveService::ListTrainingJobs(grpc::ServerContext* context,
                                                const v1::ListTrainingJobsRequest* request,
                                                v1::ListTrainingJobsResponse* response) {
  return Serve(Rpc::kListTrainingJobs, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
                 JobFilter filter;
                 if (!request->profile_id().empty()) {
                   MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request->profile_id()));
                   filter.profile_id = request->profile_id();
                 }
                 for (int state : request->states()) filter.states.push_back(v1::JobState(state));
                 PageRequest page{request->page_size(), request->page_token()};
                 absl::StatusOr<ListJobsResult> jobs = deps.store->ListJobs(tenant, filter, page);
                 if (!jobs.ok()) return jobs.status();
                 for (const v1::TrainingJob& stored : jobs->jobs) {
                   // Running jobs have fresher progress in memory than in the store.
                   absl::StatusOr<v1::TrainingJob> live =
                       deps.trainer->Get(tenant, stored.job_id());
                   *response->add_jobs() = live.ok() ? *live : stored;
                 }
                 response->set_next_page_token(jobs->next_page_token);
                 return absl::OkStatus();
               });
}

grpc::Status MaskserveService::GetProfile(grpc::ServerContext* context,
                                          const v1::GetProfileRequest* request,
                                          v1::Profile* response) {
  return Serve(Rpc::kGetProfile, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
                 MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request->profile_id()));
                 absl::StatusOr<StoredProfile> stored =
                     deps.store->GetProfile(tenant, request->profile_id());
                 if (!stored.ok()) return stored.status();
                 *response = stored->profile;
                 return absl::OkStatus();
               });
}

grpc::Status MaskserveService::ListProfiles(grpc::ServerContext* context,
                                            const v1::ListProfilesRequest* request,
                                            v1::ListProfilesResponse* response) {
  return Serve(Rpc::kListProfiles, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
                 PageRequest page{request->page_size(), request->page_token()};
                 absl::StatusOr<ListProfilesResult> listed = deps.store->ListProfiles(tenant, page);
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
  return Serve(
      Rpc::kDeleteProfile, context,
      [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
        MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request->profile_id()));
        if (deps.trainer->HasUnfinishedJob(tenant, request->profile_id())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "profile_id: '", request->profile_id(), "' is still training; cancel its job first"));
        }
        std::optional<uint64_t> expected;
        if (request->has_expected_version()) expected = request->expected_version();
        absl::StatusOr<uint64_t> deleted =
            deps.store->DeleteProfile(tenant, request->profile_id(), expected);
        if (!deleted.ok()) return deleted.status();
        deps.profiles->Erase(tenant, request->profile_id(), *deleted);
        response->set_deleted_version(*deleted);
        return absl::OkStatus();
      });
}

grpc::Status MaskserveService::ExportProfile(grpc::ServerContext* context,
                                             const v1::ExportProfileRequest* request,
                                             v1::ExportProfileResponse* response) {
  return Serve(Rpc::kExportProfile, context,
               [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
                 MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request->profile_id()));
                 absl::StatusOr<ExportedProfile> exported =
                     deps.store->ExportProfile(tenant, request->profile_id());
                 if (!exported.ok()) return exported.status();
                 response->set_data(std::move(exported->data));
                 response->set_version(exported->version);
                 return absl::OkStatus();
               });
}

grpc::Status MaskserveService::ImportProfile(grpc::ServerContext* context,
                                             const v1::ImportProfileRequest* request,
                                             v1::Profile* response) {
  return Serve(
      Rpc::kImportProfile, context,
      [&](const ServiceDependencies& deps, const std::string& tenant) -> absl::Status {
        MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(request->profile_id()));
        if (request->data().empty()) return absl::InvalidArgumentError("data: empty");
        if (deps.trainer->HasUnfinishedJob(tenant, request->profile_id())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "profile_id: '", request->profile_id(), "' is still training; cancel its job first"));
        }
        absl::StatusOr<StoredProfile> decoded = DecodeProfileExport(request->data());
        if (!decoded.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("data: ", decoded.status().message()));
        }
        // Refuse what this server could not serve before storing it.
        absl::StatusOr<ProfileHandle> check = MakeResidentProfile(
            tenant, request->profile_id(), 0, decoded->payload, deps.backbone, deps.banks);
        if (!check.ok()) {
          if (check.status().code() == absl::StatusCode::kDataLoss) {
            return absl::InvalidArgumentError(absl::StrCat("data: ", check.status().message()));
          }
          return check.status();
        }
        ImportProfileOptions options;
        options.overwrite = request->overwrite();
        absl::StatusOr<v1::Profile> imported =
            deps.store->ImportProfile(tenant, request->profile_id(), request->data(), options);
        if (!imported.ok()) return imported.status();
        absl::StatusOr<ProfileHandle> handle =
            MakeResidentProfile(tenant, request->profile_id(), imported->version(),
                                decoded->payload, deps.backbone, deps.banks);
        if (handle.ok()) deps.profiles->Publish(*handle);
        *response = *imported;
        return absl::OkStatus();
      });
}

grpc::Status MaskserveService::GetModelInfo(grpc::ServerContext* context,
                                            const v1::GetModelInfoRequest* request,
                                            v1::ModelInfo* response) {
  return Serve(Rpc::kGetModelInfo, context,
               [&](const ServiceDependencies& deps, const std::string&) {
                 *response = deps.model_info;
                 return absl::OkStatus();
               });
}

}  // namespace maskserve
