#include "clients/testing/fake_maskserve_service.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/base/error.h"
#include "core/profile/profile_data.h"
#include "core/profile/shared_head_choice.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proto/job_state.h"

namespace maskserve {
namespace testing {
namespace {

constexpr char kExportMagic[] = "MSFAKE1";
constexpr uint32_t kMaxInputs = 256;
constexpr uint32_t kMaxTextBytes = 16 * 1024;
constexpr uint32_t kMaxExamples = 10000;
constexpr uint32_t kMaxLabels = 64;
constexpr char kBankFingerprint[] = "fake-bank-0000";
// Spelled here independently of clients/common/channel.h, so that the
// client tests also check the clients' spelling.
constexpr char kRoutingHeader[] = "x-maskserve-profile";

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

google::protobuf::Timestamp Now() {
  google::protobuf::Timestamp t;
  const absl::Time now = absl::Now();
  t.set_seconds(absl::ToUnixSeconds(now));
  t.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(t.seconds()))));
  return t;
}

grpc::Status ValidateProfileId(const std::string& id, const std::string& field = "profile_id") {
  if (id.empty() || id.size() > 128) return Invalid(field + ": must be 1..128 bytes");
  if (id[0] == '.') return Invalid(field + ": must not start with '.'");
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) return Invalid(field + ": invalid character in '" + id + "'");
  }
  return grpc::Status::OK;
}

grpc::Status NotFoundProfile(const std::string& id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "profile '" + id + "' not found");
}

void AppendLengthPrefixed(const std::string& bytes, std::string* out) {
  absl::StrAppend(out, bytes.size(), ":", bytes);
}

bool ReadLengthPrefixed(absl::string_view* in, std::string* bytes) {
  const size_t colon = in->find(':');
  size_t size = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(in->substr(0, colon), &size) ||
      in->size() - colon - 1 < size) {
    return false;
  }
  *bytes = std::string(in->substr(colon + 1, size));
  in->remove_prefix(colon + 1 + size);
  return true;
}

void FillSize(v1::Profile* profile) {
  v1::ProfileSize* size = profile->mutable_size();
  size->set_mask_bytes(profile->method() == v1::HEAD_ONLY ? 0 : 26);  // 2*ceil(100/8)*L, L=1
  size->set_head_bytes(
      profile->shared_head().empty() ? uint64_t(profile->label_names_size()) * 128 * 2 : 0);
  size->set_metadata_bytes(64 + profile->description().size());
  size->set_total_bytes(size->mask_bytes() + size->head_bytes() + size->metadata_bytes());
}

// Checks request->shared_head against `heads` with the real server's rule
// (core/profile/shared_head_choice.h); fills in the head's labels when
// label_names is empty.
grpc::Status ResolveSharedHead(const std::vector<v1::SharedHeadInfo>& heads,
                               v1::TrainProfileRequest* request) {
  const std::string& name = request->shared_head();
  const std::vector<std::string> labels(request->label_names().begin(),
                                        request->label_names().end());
  std::vector<std::string> loaded;
  const v1::SharedHeadInfo* head = nullptr;
  std::vector<std::string> head_labels;
  for (const v1::SharedHeadInfo& h : heads) {
    loaded.push_back(h.name());
    if (h.name() == name) head = &h;
  }
  if (head != nullptr) head_labels.assign(head->label_names().begin(), head->label_names().end());
  try {
    CheckSharedHeadChoice(name, static_cast<Method>(request->method()),
                          head != nullptr ? &head_labels : nullptr, labels, loaded);
  } catch (const EngineError& e) {
    return Invalid(e.what());
  }
  if (labels.empty()) *request->mutable_label_names() = head->label_names();
  return grpc::Status::OK;
}

// The values of the routing header in `context`.
std::vector<std::string> RoutingHeaderValues(const grpc::ServerContext& context) {
  std::vector<std::string> values;
  auto range = context.client_metadata().equal_range(kRoutingHeader);
  for (auto it = range.first; it != range.second; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  return values;
}

grpc::Status RoutingError(const std::string& message) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat(kRoutingHeader, ": ", message));
}

// grpc.health.v1.Health with Check only, refusing calls that carry the
// routing header (health is not profile-scoped). "" is SERVING; other
// service names are NOT_FOUND.
class RoutingCheckingHealthService final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!RoutingHeaderValues(*context).empty()) {
      return RoutingError("sent on Health.Check, which is not profile-scoped");
    }
    if (!request->service().empty()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "unknown service '" + request->service() + "'");
    }
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

}  // namespace

std::vector<v1::SharedHeadInfo> DefaultFakeSharedHeads() {
  v1::SharedHeadInfo sentiment;
  sentiment.set_name("sentiment");
  sentiment.add_label_names("neg");
  sentiment.add_label_names("pos");
  sentiment.set_fingerprint("fake-head-0000");
  return {sentiment};
}

FakeMaskserveService::FakeMaskserveService(Options options) : options_(std::move(options)) {
  trainer_ = std::thread([this] { TrainerLoop(); });
}

FakeMaskserveService::~FakeMaskserveService() { Stop(); }

void FakeMaskserveService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    Changed();
  }
  if (trainer_.joinable()) trainer_.join();
}

void FakeMaskserveService::Changed() { ++revision_; }

absl::StatusOr<std::string> FakeMaskserveService::Authenticate(
    const grpc::ServerContext& context) const {
  if (options_.api_keys.empty()) return std::string("default");
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("authorization: missing 'Bearer <api key>' metadata");
  }
  const std::string value(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  if (value.compare(0, prefix.size(), prefix) != 0) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <api key>'");
  }
  const std::string key = value.substr(prefix.size());
  if (std::find(options_.api_keys.begin(), options_.api_keys.end(), key) ==
      options_.api_keys.end()) {
    return absl::UnauthenticatedError("authorization: unknown api key");
  }
  return key;
}

#define FAKE_AUTHENTICATE(context, tenant)                            \
  absl::StatusOr<std::string> tenant##_or = Authenticate(*(context)); \
  if (!tenant##_or.ok()) return ToGrpc(tenant##_or.status());         \
  const std::string tenant = *tenant##_or

grpc::Status FakeMaskserveService::CheckRoutingHeader(const grpc::ServerContext& context,
                                                      const char* rpc,
                                                      const std::string* profile_id) const {
  if (!options_.require_routing_header) return grpc::Status::OK;
  const std::vector<std::string> values = RoutingHeaderValues(context);
  if (profile_id == nullptr) {
    if (values.empty()) return grpc::Status::OK;
    return RoutingError(
        absl::StrCat("sent ('", values[0], "') on ", rpc, ", which is not profile-scoped"));
  }
  if (values.size() > 1) {
    return RoutingError(absl::StrCat("sent ", values.size(), " times on ", rpc, "; send it once"));
  }
  if (values.empty()) {
    // Clients cannot send an invalid id; the call fails its own validation.
    if (!ValidateProfileId(*profile_id).ok()) return grpc::Status::OK;
    return RoutingError(absl::StrCat("missing on ", rpc, " for profile_id '", *profile_id,
                                     "' (the fake requires it: require_routing_header)"));
  }
  if (values[0] != *profile_id) {
    return RoutingError(
        absl::StrCat("'", values[0], "' differs from the profile_id '", *profile_id, "' of ", rpc));
  }
  return grpc::Status::OK;
}

// Returns the routing header check's error, if any (after FAKE_AUTHENTICATE).
#define FAKE_CHECK_ROUTING(context, rpc, profile_id)                        \
  do {                                                                      \
    grpc::Status routing = CheckRoutingHeader(*(context), rpc, profile_id); \
    if (!routing.ok()) return routing;                                      \
  } while (false)

grpc::Status FakeMaskserveService::Predict(grpc::ServerContext* context,
                                           const v1::PredictRequest* request,
                                           v1::PredictResponse* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "Predict", &request->profile_id());
  grpc::Status status = ValidateProfileId(request->profile_id());
  if (!status.ok()) return status;
  if (request->inputs_size() == 0) return Invalid("inputs: at least one input is needed");
  if (uint32_t(request->inputs_size()) > kMaxInputs) {
    return Invalid(absl::StrCat("inputs: at most ", kMaxInputs, " per request"));
  }
  for (int i = 0; i < request->inputs_size(); ++i) {
    const std::string& text = request->inputs(i).text();
    if (text.empty()) return Invalid(absl::StrCat("inputs[", i, "].text: empty"));
    if (text.size() > kMaxTextBytes) return Invalid(absl::StrCat("inputs[", i, "].text: too long"));
  }
  if (options_.predict_delay > absl::ZeroDuration()) absl::SleepFor(options_.predict_delay);
  absl::MutexLock lock(&mu_);
  auto& profiles = tenants_[tenant].profiles;
  auto it = profiles.find(request->profile_id());
  if (it == profiles.end()) return NotFoundProfile(request->profile_id());
  const StoredProfile& stored = it->second;
  const auto& labels = stored.profile.label_names();
  const int n = labels.size();
  response->set_profile_id(request->profile_id());
  response->set_profile_version(stored.profile.version());
  for (const std::string& label : labels) response->add_label_names(label);
  for (const v1::TextInput& input : request->inputs()) {
    int best = int(std::hash<std::string>()(input.text()) % size_t(n));
    float best_probability = 0.6f;
    auto known = stored.label_by_text.find(input.text());
    if (known != stored.label_by_text.end()) {
      best = int(std::find(labels.begin(), labels.end(), known->second) - labels.begin());
      best_probability = 0.9f;
    }
    v1::Prediction* p = response->add_predictions();
    std::vector<float> probabilities(static_cast<size_t>(n),
                                     (1.0f - best_probability) / float(n - 1));
    probabilities[size_t(best)] = best_probability;
    p->set_label(labels[best]);
    p->set_label_index(uint32_t(best));
    for (float probability : probabilities) p->add_probabilities(probability);
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[size_t(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return probabilities[size_t(a)] > probabilities[size_t(b)];
    });
    const int k = std::min(n, std::max(1, int(request->top_k())));
    for (int i = 0; i < k; ++i) {
      v1::LabelScore* score = p->add_top();
      score->set_label(labels[order[size_t(i)]]);
      score->set_index(uint32_t(order[size_t(i)]));
      score->set_probability(probabilities[size_t(order[size_t(i)])]);
    }
    if (request->return_logits()) {
      for (float probability : probabilities) p->add_logits(std::log(probability));
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::TrainProfile(grpc::ServerContext* context,
                                                const v1::TrainProfileRequest* request,
                                                v1::TrainProfileResponse* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "TrainProfile", &request->profile_id());
  grpc::Status status = ValidateProfileId(request->profile_id());
  if (!status.ok()) return status;
  if (request->method() == v1::METHOD_UNSPECIFIED || !v1::Method_IsValid(request->method())) {
    return Invalid("method: unspecified or unknown");
  }
  v1::TrainProfileRequest with_head;  // with the shared head's labels filled in
  if (!request->shared_head().empty()) {
    with_head = *request;
    status = ResolveSharedHead(options_.shared_heads, &with_head);
    if (!status.ok()) return status;
    request = &with_head;
  }
  if (request->label_names_size() < 2 || uint32_t(request->label_names_size()) > kMaxLabels) {
    return Invalid(absl::StrCat("label_names: need 2..", kMaxLabels, " labels"));
  }
  std::set<std::string> labels;
  for (int i = 0; i < request->label_names_size(); ++i) {
    const std::string& label = request->label_names(i);
    if (label.empty()) return Invalid(absl::StrCat("label_names[", i, "]: empty"));
    if (!labels.insert(label).second) {
      return Invalid(absl::StrCat("label_names[", i, "]: duplicate '", label, "'"));
    }
  }
  if (request->examples_size() == 0 || uint32_t(request->examples_size()) > kMaxExamples) {
    return Invalid(absl::StrCat("examples: need 1..", kMaxExamples, " examples"));
  }
  for (int i = 0; i < request->examples_size(); ++i) {
    const v1::TrainingExample& example = request->examples(i);
    if (example.text().empty()) return Invalid(absl::StrCat("examples[", i, "].text: empty"));
    if (labels.count(example.label()) == 0) {
      return Invalid(
          absl::StrCat("examples[", i, "].label: unknown label '", example.label(), "'"));
    }
  }
  if (request->has_validation_fraction() &&
      !(request->validation_fraction() >= 0 && request->validation_fraction() <= 0.5f)) {
    return Invalid("validation_fraction: must be in [0, 0.5]");
  }
  const v1::HyperParameters& hyper = request->hyper_parameters();
  if (hyper.has_epochs() && (hyper.epochs() == 0 || hyper.epochs() > 1000)) {
    return Invalid("hyper_parameters.epochs: must be in 1..1000");
  }
  if (hyper.has_batch_size() && hyper.batch_size() == 0) {
    return Invalid("hyper_parameters.batch_size: must be positive");
  }
  absl::MutexLock lock(&mu_);
  if (request->has_expected_version()) {
    auto& profiles = tenants_[tenant].profiles;
    auto it = profiles.find(request->profile_id());
    const uint64_t current = it == profiles.end() ? 0 : it->second.profile.version();
    if (current != request->expected_version()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("expected_version: profile '", request->profile_id(),
                                       "' is at version ", current));
    }
  }
  const uint64_t sequence = next_job_++;
  const std::string job_id = absl::StrFormat("job-%08d", sequence);
  Job& job = jobs_[job_id];
  job.tenant = tenant;
  job.request = *request;
  job.sequence = sequence;
  v1::TrainingJob& j = job.job;
  j.set_job_id(job_id);
  j.set_profile_id(request->profile_id());
  j.set_method(request->method());
  j.set_shared_head(request->shared_head());
  j.set_state(v1::QUEUED);
  j.set_num_examples(uint32_t(request->examples_size()));
  *j.mutable_hyper_parameters() = hyper;
  if (!hyper.has_epochs()) j.mutable_hyper_parameters()->set_epochs(options_.default_epochs);
  if (!hyper.has_batch_size()) j.mutable_hyper_parameters()->set_batch_size(16);
  *j.mutable_create_time() = Now();
  queue_.push_back(job_id);
  Changed();
  response->set_job_id(job_id);
  return grpc::Status::OK;
}

void FakeMaskserveService::TrainerLoop() {
  while (true) {
    std::string job_id;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      job_id = queue_.front();
      queue_.pop_front();
    }
    RunJob(job_id);
  }
}

void FakeMaskserveService::RunJob(const std::string& job_id) {
  uint32_t epochs = 0;
  uint64_t steps_per_epoch = 0;
  {
    absl::MutexLock lock(&mu_);
    Job& job = jobs_[job_id];
    if (job.cancel_requested) return;  // cancelled while queued
    v1::TrainingJob& j = job.job;
    epochs = j.hyper_parameters().epochs();
    const uint32_t batch = std::max<uint32_t>(1, j.hyper_parameters().batch_size());
    steps_per_epoch = (uint64_t(job.request.examples_size()) + batch - 1) / batch;
    j.set_state(v1::RUNNING);
    j.set_total_epochs(epochs);
    j.set_total_steps(steps_per_epoch * epochs);
    *j.mutable_start_time() = Now();
    Changed();
  }
  for (uint32_t epoch = 1; epoch <= epochs; ++epoch) {
    for (uint64_t step = 0; step < steps_per_epoch; ++step) {
      absl::SleepFor(options_.step_delay);
      absl::MutexLock lock(&mu_);
      Job& job = jobs_[job_id];
      if (stopping_) return;
      if (job.cancel_requested) {
        job.job.set_state(v1::CANCELLED);
        job.job.set_error("cancelled by request");
        *job.job.mutable_end_time() = Now();
        Changed();
        return;
      }
      job.job.set_epoch(epoch);
      job.job.set_step(job.job.step() + 1);
      job.job.set_train_loss(float(1.0 / (1.0 + double(job.job.step()))));
      Changed();
    }
    absl::MutexLock lock(&mu_);
    Job& job = jobs_[job_id];
    v1::EvalMetrics* validation = job.job.mutable_validation();
    validation->set_num_examples(std::max<uint32_t>(1, uint32_t(job.request.examples_size() / 5)));
    validation->set_accuracy(std::min(1.0f, 0.5f + 0.5f * float(epoch) / float(epochs)));
    validation->set_macro_f1(validation->accuracy());
    validation->set_loss(job.job.train_loss());
    *job.job.mutable_best_validation() = *validation;
    Changed();
  }
  absl::MutexLock lock(&mu_);
  Job& job = jobs_[job_id];
  *job.job.mutable_end_time() = Now();
  for (const v1::TrainingExample& example : job.request.examples()) {
    if (example.text() == "FAIL") {
      job.job.set_state(v1::FAILED);
      job.job.set_error("training diverged (the fake fails on the text 'FAIL')");
      Changed();
      return;
    }
  }
  StoredProfile& stored = tenants_[job.tenant].profiles[job.request.profile_id()];
  v1::Profile& p = stored.profile;
  const bool created = p.version() == 0;
  p.set_profile_id(job.request.profile_id());
  p.set_version(p.version() + 1);
  p.set_method(job.request.method());
  *p.mutable_label_names() = job.request.label_names();
  *p.mutable_metrics() = job.job.best_validation();
  p.set_training_job_id(job_id);
  p.set_bank_fingerprint(kBankFingerprint);
  p.set_shared_head(job.request.shared_head());
  p.set_description(job.request.description());
  if (created) *p.mutable_create_time() = Now();
  *p.mutable_update_time() = Now();
  FillSize(&p);
  stored.label_by_text.clear();
  for (const v1::TrainingExample& example : job.request.examples()) {
    stored.label_by_text[example.text()] = example.label();
  }
  job.job.set_state(v1::SUCCEEDED);
  job.job.set_published_version(p.version());
  job.request.clear_examples();  // the store keeps examples only until done
  Changed();
}

grpc::Status FakeMaskserveService::GetTrainingJob(grpc::ServerContext* context,
                                                  const v1::GetTrainingJobRequest* request,
                                                  v1::TrainingJob* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "GetTrainingJob", nullptr);
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(request->job_id());
  if (it == jobs_.end() || it->second.tenant != tenant) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "job '" + request->job_id() + "' not found");
  }
  *response = it->second.job;
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::WatchTrainingJob(grpc::ServerContext* context,
                                                    const v1::WatchTrainingJobRequest* request,
                                                    grpc::ServerWriter<v1::TrainingJob>* writer) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "WatchTrainingJob", nullptr);
  uint64_t seen = 0;
  std::string last;
  while (true) {
    v1::TrainingJob job;
    {
      absl::MutexLock lock(&mu_);
      auto it = jobs_.find(request->job_id());
      if (it == jobs_.end() || it->second.tenant != tenant) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            "job '" + request->job_id() + "' not found");
      }
      auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return revision_ != seen || stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(100));
      seen = revision_;
      if (stopping_) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
      }
      job = jobs_[request->job_id()].job;
    }
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    std::string bytes = job.SerializeAsString();
    if (bytes != last) {
      if (!writer->Write(job)) return grpc::Status::OK;
      last = std::move(bytes);
    }
    if (IsFinalJobState(job.state())) return grpc::Status::OK;
  }
}

grpc::Status FakeMaskserveService::CancelTrainingJob(grpc::ServerContext* context,
                                                     const v1::CancelTrainingJobRequest* request,
                                                     v1::TrainingJob* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "CancelTrainingJob", nullptr);
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(request->job_id());
  if (it == jobs_.end() || it->second.tenant != tenant) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "job '" + request->job_id() + "' not found");
  }
  Job& job = it->second;
  if (IsFinalJobState(job.job.state())) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("job '", request->job_id(), "' already ", v1::JobState_Name(job.job.state())));
  }
  job.cancel_requested = true;
  if (job.job.state() == v1::QUEUED) {
    job.job.set_state(v1::CANCELLED);
    job.job.set_error("cancelled by request");
    *job.job.mutable_end_time() = Now();
    queue_.erase(std::remove(queue_.begin(), queue_.end(), request->job_id()), queue_.end());
    Changed();
  }
  *response = job.job;
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::ListTrainingJobs(grpc::ServerContext* context,
                                                    const v1::ListTrainingJobsRequest* request,
                                                    v1::ListTrainingJobsResponse* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "ListTrainingJobs",
                     request->profile_id().empty() ? nullptr : &request->profile_id());
  if (request->page_size() > 1000) return Invalid("page_size: must be at most 1000");
  const uint32_t page_size = request->page_size() == 0 ? 100 : request->page_size();
  uint64_t before = UINT64_MAX;
  if (!request->page_token().empty() &&
      (request->page_token().rfind("seq:", 0) != 0 ||
       !absl::SimpleAtoi(request->page_token().substr(4), &before))) {
    return Invalid("page_token: malformed");
  }
  const std::set<int> states(request->states().begin(), request->states().end());
  absl::MutexLock lock(&mu_);
  std::vector<const Job*> matching;
  for (const auto& [id, job] : jobs_) {
    if (job.tenant != tenant || job.sequence >= before) continue;
    if (!request->profile_id().empty() && job.job.profile_id() != request->profile_id()) continue;
    if (!states.empty() && states.count(job.job.state()) == 0) continue;
    matching.push_back(&job);
  }
  std::sort(matching.begin(), matching.end(),
            [](const Job* a, const Job* b) { return a->sequence > b->sequence; });
  for (size_t i = 0; i < matching.size() && i < page_size; ++i) {
    *response->add_jobs() = matching[i]->job;
  }
  if (matching.size() > page_size) {
    response->set_next_page_token(absl::StrCat("seq:", matching[page_size - 1]->sequence));
  }
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::GetProfile(grpc::ServerContext* context,
                                              const v1::GetProfileRequest* request,
                                              v1::Profile* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "GetProfile", &request->profile_id());
  grpc::Status status = ValidateProfileId(request->profile_id());
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto& profiles = tenants_[tenant].profiles;
  auto it = profiles.find(request->profile_id());
  if (it == profiles.end()) return NotFoundProfile(request->profile_id());
  *response = it->second.profile;
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::ListProfiles(grpc::ServerContext* context,
                                                const v1::ListProfilesRequest* request,
                                                v1::ListProfilesResponse* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "ListProfiles", nullptr);
  if (request->page_size() > 1000) return Invalid("page_size: must be at most 1000");
  const uint32_t page_size = request->page_size() == 0 ? 100 : request->page_size();
  std::string after;
  if (!request->page_token().empty()) {
    if (request->page_token().rfind("after:", 0) != 0) return Invalid("page_token: malformed");
    after = request->page_token().substr(6);
  }
  absl::MutexLock lock(&mu_);
  const auto& profiles = tenants_[tenant].profiles;
  response->set_total_count(profiles.size());
  auto it = after.empty() ? profiles.begin() : profiles.upper_bound(after);
  for (; it != profiles.end() && uint32_t(response->profiles_size()) < page_size; ++it) {
    *response->add_profiles() = it->second.profile;
  }
  if (it != profiles.end()) {
    response->set_next_page_token("after:" + response->profiles().rbegin()->profile_id());
  }
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::DeleteProfile(grpc::ServerContext* context,
                                                 const v1::DeleteProfileRequest* request,
                                                 v1::DeleteProfileResponse* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "DeleteProfile", &request->profile_id());
  grpc::Status status = ValidateProfileId(request->profile_id());
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto& profiles = tenants_[tenant].profiles;
  auto it = profiles.find(request->profile_id());
  if (it == profiles.end()) return NotFoundProfile(request->profile_id());
  if (request->has_expected_version() &&
      request->expected_version() != it->second.profile.version()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("expected_version: profile '", request->profile_id(),
                                     "' is at version ", it->second.profile.version()));
  }
  response->set_deleted_version(it->second.profile.version());
  profiles.erase(it);
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::ExportProfile(grpc::ServerContext* context,
                                                 const v1::ExportProfileRequest* request,
                                                 v1::ExportProfileResponse* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "ExportProfile", &request->profile_id());
  grpc::Status status = ValidateProfileId(request->profile_id());
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto& profiles = tenants_[tenant].profiles;
  auto it = profiles.find(request->profile_id());
  if (it == profiles.end()) return NotFoundProfile(request->profile_id());
  std::string data = kExportMagic;
  AppendLengthPrefixed(it->second.profile.SerializeAsString(), &data);
  for (const auto& [text, label] : it->second.label_by_text) {
    AppendLengthPrefixed(text, &data);
    AppendLengthPrefixed(label, &data);
  }
  response->set_data(std::move(data));
  response->set_version(it->second.profile.version());
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::ImportProfile(grpc::ServerContext* context,
                                                 const v1::ImportProfileRequest* request,
                                                 v1::Profile* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "ImportProfile", &request->profile_id());
  grpc::Status status = ValidateProfileId(request->profile_id());
  if (!status.ok()) return status;
  absl::string_view data = request->data();
  StoredProfile imported;
  std::string bytes;
  if (data.substr(0, sizeof(kExportMagic) - 1) != kExportMagic) {
    return Invalid("data: not an exported profile");
  }
  data.remove_prefix(sizeof(kExportMagic) - 1);
  if (!ReadLengthPrefixed(&data, &bytes) || !imported.profile.ParseFromString(bytes)) {
    return Invalid("data: truncated or corrupt");
  }
  while (!data.empty()) {
    std::string text, label;
    if (!ReadLengthPrefixed(&data, &text) || !ReadLengthPrefixed(&data, &label)) {
      return Invalid("data: truncated or corrupt");
    }
    imported.label_by_text[text] = label;
  }
  if (imported.profile.bank_fingerprint() != kBankFingerprint) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "data: exported for bank " + imported.profile.bank_fingerprint());
  }
  const std::string& head = imported.profile.shared_head();
  if (!head.empty() &&
      std::none_of(options_.shared_heads.begin(), options_.shared_heads.end(),
                   [&](const v1::SharedHeadInfo& h) { return h.name() == head; })) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        "data: profile uses shared head '" + head + "', which this server has not loaded");
  }
  absl::MutexLock lock(&mu_);
  auto& profiles = tenants_[tenant].profiles;
  auto it = profiles.find(request->profile_id());
  uint64_t version = 1;
  if (it != profiles.end()) {
    if (!request->overwrite()) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          "profile '" + request->profile_id() + "' exists (set overwrite)");
    }
    version = it->second.profile.version() + 1;
  }
  imported.profile.set_profile_id(request->profile_id());
  imported.profile.set_version(version);
  *imported.profile.mutable_update_time() = Now();
  profiles[request->profile_id()] = imported;
  *response = imported.profile;
  return grpc::Status::OK;
}

grpc::Status FakeMaskserveService::GetModelInfo(grpc::ServerContext* context,
                                                const v1::GetModelInfoRequest* request,
                                                v1::ModelInfo* response) {
  FAKE_AUTHENTICATE(context, tenant);
  FAKE_CHECK_ROUTING(context, "GetModelInfo", nullptr);
  (void)tenant;
  v1::BackboneInfo* b = response->mutable_backbone();
  b->set_name("fake-bert");
  b->set_num_layers(1);
  b->set_hidden_size(128);
  b->set_num_attention_heads(2);
  b->set_intermediate_size(512);
  b->set_vocab_size(30522);
  b->set_max_position_embeddings(512);
  b->set_device("cpu");
  b->set_dtype("float32");
  b->set_fingerprint("fake-backbone-0000");
  b->set_lowercase(true);
  v1::BankInfo* bank = response->add_banks();
  bank->set_kind(v1::ADAPTER_BANK);
  bank->set_num_adapters(100);
  bank->set_bottleneck(8);
  bank->set_top_k(50);
  bank->set_fingerprint(kBankFingerprint);
  for (int m = v1::XPEFT_HARD; m <= v1::ADAPTER; ++m) bank->add_methods(static_cast<v1::Method>(m));
  for (const v1::SharedHeadInfo& head : options_.shared_heads) *response->add_shared_heads() = head;
  v1::Limits* limits = response->mutable_limits();
  limits->set_max_inputs_per_request(kMaxInputs);
  limits->set_max_text_bytes(kMaxTextBytes);
  limits->set_max_examples_per_job(kMaxExamples);
  limits->set_max_labels(kMaxLabels);
  limits->set_max_sequence_length(128);
  limits->set_max_profiles_per_tenant(1000000);
  response->set_server_version("fake");
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<FakeServer>> FakeServer::Start(FakeMaskserveService::Options options,
                                                              const std::string& address) {
  std::unique_ptr<FakeServer> server(new FakeServer());
  const bool own_health = options.require_routing_header;
  server->service_ = std::make_unique<FakeMaskserveService>(std::move(options));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  if (own_health) {
    // In place of the default health service, which cannot see metadata.
    builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
    server->health_ = std::make_unique<RoutingCheckingHealthService>();
    builder.RegisterService(server->health_.get());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError("fake server: cannot listen on " + address);
  }
  return server;
}

void FakeServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  service_->Stop();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
}

FakeServer::~FakeServer() { Shutdown(); }

}  // namespace testing
}  // namespace maskserve
