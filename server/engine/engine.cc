#include "server/engine/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/model/bert_model.h"
#include "core/model/device.h"
#include "core/profile/profile_codec.h"
#include "server/engine/backbone_forward.h"
#include "server/engine/engine_errors.h"
#include "server/engine/loaded_model.h"
#include "server/engine/model_info.h"
#include "server/engine/profile_table.h"
#include "server/engine/request_validation.h"
#include "server/engine/resident_profile.h"
#include "server/engine/training_manager.h"
#include "storage/ids.h"
#include "storage/job_id.h"
#include "storage/profile_export.h"
#include "storage/status_macros.h"

namespace maskserve {

namespace {

// Longest a Predict waits, whatever the caller's deadline.
constexpr absl::Duration kMaxPredictWait = absl::Seconds(30);

absl::Status ValidJobId(const std::string& job_id) {
  absl::Status s = ValidateJobId(job_id);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("job_id: ", s.message()));
}

PredictBatcher::Options BatcherOptions(const BatchingOptions& b, const DeviceSpec& device) {
  PredictBatcher::Options o;
  // 0 = by device: a GPU runs batches of 256 sequences of 128 tokens at
  // full speed; on a CPU larger batches only add latency.
  const bool gpu = device.device.is_cuda();
  o.max_batch_sequences = b.max_batch_sequences > 0 ? b.max_batch_sequences : gpu ? 256 : 64;
  o.max_batch_tokens = b.max_batch_tokens > 0 ? b.max_batch_tokens : gpu ? 32768 : 16384;
  // On a GPU, batches of one length bucket: little padding, and the CUDA
  // graph of that bucket (core/model/cuda_graph_forward.h uses the same).
  if (gpu) o.length_buckets = CudaGraphForward::Options().length_buckets;
  o.max_queue_delay = absl::Microseconds(int64_t(b.max_queue_delay_ms * 1000));
  o.max_queued_sequences = b.max_queued_sequences;
  o.max_queued_sequences_per_tenant = b.max_queued_sequences_per_tenant;
  const int threads = b.intra_op_threads;
  o.on_thread_start = [threads] { SetIntraOpThreadsForThisThread(threads); };
  return o;
}

}  // namespace

// Applies the store's change feed to the resident table.
class Engine::ChangeSubscriber : public ProfileChangeSubscriber {
 public:
  ChangeSubscriber(ProfileTable* table, const EngineHooks* hooks) : table_(table), hooks_(hooks) {}

  void OnProfileChanged(const ProfileChange& change) override {
    table_->ApplyChange(change);
    if (hooks_->on_profile_change) hooks_->on_profile_change(change);
  }
  void OnChangesInterrupted(const absl::Status& why) override {
    table_->Unconfirm();
    if (hooks_->on_change_feed) hooks_->on_change_feed(why);
  }
  absl::Status OnChangesResumed() override {
    absl::Status revalidated = table_->Revalidate();
    if (hooks_->on_change_feed) hooks_->on_change_feed(revalidated);
    return revalidated;
  }

 private:
  ProfileTable* const table_;
  const EngineHooks* const hooks_;
};

Engine::Engine(EngineOptions options, std::shared_ptr<const LoadedModel> model, ProfileStore* store,
               EngineHooks hooks, const Clock& clock, BatchForward forward)
    : options_(std::move(options)),
      model_(std::move(model)),
      store_(store),
      hooks_(std::move(hooks)),
      clock_(clock),
      model_info_(BuildModelInfo(model_->backbone, model_->banks, options_.limits)) {
  ProfileTable::Options table;
  table.max_bytes = options_.profile_cache_bytes;
  profiles_ = std::make_unique<ProfileTable>(
      table,
      [this](const std::string& tenant, const std::string& id) -> absl::StatusOr<ProfileHandle> {
        absl::StatusOr<StoredProfile> stored = store_->GetProfile(tenant, id);
        if (!stored.ok()) return stored.status();
        if (hooks_.on_profile_load) hooks_.on_profile_load();
        return MakeResidentProfile(tenant, id, stored->profile.version(), stored->payload,
                                   *model_->pool);
      },
      [this](const std::string& tenant, const std::vector<std::string>& ids) {
        return store_->GetProfileVersions(tenant, ids);
      });
  batcher_ = std::make_unique<PredictBatcher>(
      BatcherOptions(options_.batching, model_->backbone.model->device()),
      forward ? std::move(forward) : MakeBackboneForward(model_), hooks_.on_batch, clock_);
  TrainingManager::Options training;
  training.workers = options_.training_workers;
  training.intra_op_threads = options_.training_intra_op_threads;
  training.max_unfinished_jobs_per_tenant = options_.max_unfinished_jobs_per_tenant;
  training.max_attempts = options_.max_job_attempts;
  training.max_seconds_per_job = absl::Seconds(options_.max_training_seconds_per_job);
  training.max_watch_streams = options_.max_watch_streams;
  training.max_watch_streams_per_tenant = options_.max_watch_streams_per_tenant;
  training.run_jobs = options_.train;
  training.lease = absl::Seconds(options_.job_lease_seconds);
  training.lease_renew_interval = std::min(absl::Seconds(2), training.lease / 5);
  TrainingManager::Hooks training_hooks;
  training_hooks.on_published = [this](const ProfileHandle& profile) {
    if (profiles_->Publish(profile) && hooks_.on_hot_swap) hooks_.on_hot_swap();
  };
  training_hooks.on_training_finished = hooks_.on_training_finished;
  training_hooks.on_training_busy = hooks_.on_training_busy;
  trainer_ = std::make_unique<TrainingManager>(training, store_, model_->backbone, model_->banks,
                                               model_->pool, training_hooks, clock_);
}

Engine::~Engine() { Stop(); }

absl::Status Engine::Start() {
  change_subscriber_ = std::make_unique<ChangeSubscriber>(profiles_.get(), &hooks_);
  // Until the feed is up, every resident copy is confirmed with the store.
  profiles_->Unconfirm();
  absl::StatusOr<std::unique_ptr<ProfileChangeFeed>> feed =
      store_->WatchProfileChanges(change_subscriber_.get());
  if (!feed.ok()) return feed.status();
  change_feed_ = *std::move(feed);
  // No feed: only this process writes the store, so what it holds is current.
  const bool shared_store = change_feed_ != nullptr;
  if (!shared_store) MASKSERVE_RETURN_IF_ERROR(profiles_->Revalidate());
  return trainer_->Start(shared_store);
}

void Engine::Stop() {
  batcher_->Stop();
  trainer_->Shutdown();
  change_feed_.reset();
}

bool Engine::resident_profiles_confirmed() const { return profiles_->confirmed(); }

absl::StatusOr<PredictResult> Engine::Predict(const std::string& tenant, const PredictCall& call) {
  if (!options_.serve) {
    return absl::FailedPreconditionError(
        "this server runs --roles=train: it trains profiles and does not answer Predict; send "
        "Predict to a serving replica");
  }
  MASKSERVE_RETURN_IF_ERROR(ValidatePredictInputs(call.profile_id, call.inputs, options_.limits));
  const Backbone& backbone = model_->backbone;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    MASKSERVE_RETURN_IF_ERROR(
        CheckTextPair(absl::StrCat("inputs[", i, "]"), call.inputs[i].text_pair));
  }
  MASKSERVE_ASSIGN_OR_RETURN(ProfileHandle profile, profiles_->Get(tenant, call.profile_id));

  const absl::Time tokenize_start = clock_.Now();
  EncodeOptions encode;
  encode.max_length = std::min<int64_t>(options_.limits.max_sequence_length,
                                        backbone.model->config().max_position_embeddings);
  std::vector<Encoding> encodings;
  encodings.reserve(call.inputs.size());
  MASKSERVE_RETURN_IF_ERROR(CatchEngineErrors([&] {
    for (const TextInput& input : call.inputs) {
      encodings.push_back(input.text_pair.empty() ? backbone.tokenizer->Encode(input.text, encode)
                                                  : backbone.tokenizer->EncodePair(
                                                        input.text, input.text_pair, encode));
    }
    return absl::OkStatus();
  }));
  const absl::Time tokenized = clock_.Now();
  const absl::Time deadline = std::min(call.deadline, tokenized + kMaxPredictWait);
  auto task = std::make_shared<PredictTask>(tenant, profile, std::move(encodings), deadline);
  MASKSERVE_RETURN_IF_ERROR(batcher_->Schedule(task));
  MASKSERVE_ASSIGN_OR_RETURN(std::vector<Logits> logits, task->Wait(deadline, call.cancelled));
  if (hooks_.on_predict) {
    PredictStats stats;
    stats.tokenize_seconds = absl::ToDoubleSeconds(tokenized - tokenize_start);
    stats.queue_seconds = absl::ToDoubleSeconds(task->start_time() - task->enqueue_time());
    stats.inference_seconds = absl::ToDoubleSeconds(clock_.Now() - task->start_time());
    stats.input_tokens.reserve(task->inputs().size());
    for (const Encoding& e : task->inputs())
      stats.input_tokens.push_back(int64_t(e.input_ids.size()));
    hooks_.on_predict(stats);
  }

  PredictResult result;
  result.profile_id = call.profile_id;
  result.profile_version = profile->version;
  result.label_names = profile->pooled->labels();
  result.predictions.reserve(logits.size());
  for (const Logits& row : logits) {
    result.predictions.push_back(
        ScoreLogits(row, result.label_names, call.top_k, call.return_logits));
  }
  return result;
}

absl::Status Engine::RefuseWhileTraining(const std::string& tenant,
                                         const std::string& profile_id) const {
  if (!trainer_->HasUnfinishedJob(tenant, profile_id)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("profile_id: '", profile_id, "' is still training; cancel its job first"));
}

absl::StatusOr<uint64_t> Engine::CurrentVersion(const std::string& tenant,
                                                const v1::TrainProfileRequest& request) {
  absl::StatusOr<StoredProfile> current = store_->GetProfile(tenant, request.profile_id());
  if (!current.ok() && current.status().code() != absl::StatusCode::kNotFound) {
    return current.status();
  }
  const uint64_t version = current.ok() ? current->profile.version() : 0;
  if (!request.has_expected_version() || version == request.expected_version()) return version;
  return absl::FailedPreconditionError(absl::StrCat("expected_version: profile '",
                                                    request.profile_id(), "' is at version ",
                                                    version, ", not ", request.expected_version()));
}

absl::Status Engine::CheckTextPair(const std::string& field, const std::string& text_pair) const {
  if (text_pair.empty() || model_->backbone.model->config().type_vocab_size >= 2) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(field,
                                                 ".text_pair: this model has one segment type "
                                                 "(type_vocab_size 1) and cannot take text pairs"));
}

absl::StatusOr<v1::TrainingJob> Engine::SubmitTraining(const std::string& tenant,
                                                       const v1::TrainProfileRequest& request) {
  MASKSERVE_ASSIGN_OR_RETURN(v1::TrainProfileRequest prepared,
                             PrepareTrainRequest(request, options_.limits, model_->banks));
  for (int i = 0; i < prepared.examples_size(); ++i) {
    MASKSERVE_RETURN_IF_ERROR(
        CheckTextPair(absl::StrCat("examples[", i, "]"), prepared.examples(i).text_pair()));
  }
  MASKSERVE_ASSIGN_OR_RETURN(const uint64_t base_version, CurrentVersion(tenant, prepared));
  return trainer_->Submit(tenant, prepared, base_version);
}

absl::StatusOr<v1::TrainingJob> Engine::GetJob(const std::string& tenant,
                                               const std::string& job_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidJobId(job_id));
  return trainer_->Get(tenant, job_id);
}

absl::StatusOr<v1::TrainingJob> Engine::CancelJob(const std::string& tenant,
                                                  const std::string& job_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidJobId(job_id));
  return trainer_->Cancel(tenant, job_id);
}

absl::Status Engine::WatchJob(const std::string& tenant, const std::string& job_id,
                              const std::function<bool(const v1::TrainingJob&)>& send,
                              const std::function<bool()>& stopped) {
  MASKSERVE_RETURN_IF_ERROR(ValidJobId(job_id));
  return trainer_->Watch(tenant, job_id, send, stopped);
}

absl::StatusOr<ListJobsResult> Engine::ListJobs(const std::string& tenant, const JobFilter& filter,
                                                const PageRequest& page) {
  if (!filter.profile_id.empty()) MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(filter.profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(ListJobsResult jobs, store_->ListJobs(tenant, filter, page));
  for (v1::TrainingJob& job : jobs.jobs) {
    // A job in memory is fresher: running jobs' progress, and a finished
    // one stays RUNNING there until its version is hot-swapped in.
    if (std::optional<v1::TrainingJob> live = trainer_->Live(tenant, job.job_id())) {
      job = *std::move(live);
    }
  }
  return jobs;
}

absl::StatusOr<v1::Profile> Engine::GetProfile(const std::string& tenant,
                                               const std::string& profile_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(StoredProfile stored, store_->GetProfile(tenant, profile_id));
  return std::move(stored.profile);
}

absl::StatusOr<ListProfilesResult> Engine::ListProfiles(const std::string& tenant,
                                                        const PageRequest& page) {
  return store_->ListProfiles(tenant, page);
}

absl::StatusOr<uint64_t> Engine::DeleteProfile(const std::string& tenant,
                                               const std::string& profile_id,
                                               std::optional<uint64_t> expected_version) {
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  MASKSERVE_RETURN_IF_ERROR(RefuseWhileTraining(tenant, profile_id));
  MASKSERVE_ASSIGN_OR_RETURN(uint64_t deleted,
                             store_->DeleteProfile(tenant, profile_id, expected_version));
  profiles_->Erase(tenant, profile_id, deleted);
  return deleted;
}

absl::StatusOr<ExportedProfile> Engine::ExportProfile(const std::string& tenant,
                                                      const std::string& profile_id) {
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  return store_->ExportProfile(tenant, profile_id);
}

absl::StatusOr<v1::Profile> Engine::ImportProfile(const std::string& tenant,
                                                  const std::string& profile_id,
                                                  const std::string& data, bool overwrite) {
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  if (data.empty()) return absl::InvalidArgumentError("data: empty");
  MASKSERVE_RETURN_IF_ERROR(RefuseWhileTraining(tenant, profile_id));
  absl::StatusOr<StoredProfile> exported = DecodeProfileExport(data);
  if (!exported.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", exported.status().message()));
  }
  // Decode and pool once, refusing what this server could not serve
  // before anything is stored; the pooled profile then serves the
  // imported version.
  ProfileData profile;
  absl::Status decoded = CatchEngineErrors([&] {
    profile = DecodeProfile(exported->payload);
    return absl::OkStatus();
  });
  if (decoded.code() == absl::StatusCode::kDataLoss) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: profile '", profile_id, "': ", decoded.message()));
  }
  if (!decoded.ok()) return decoded;
  MASKSERVE_RETURN_IF_ERROR(ValidateImportedProfile(exported->profile, profile,
                                                    exported->payload.size(), options_.limits));
  absl::StatusOr<ComposedForServing> composed =
      ComposeForServing(profile_id, 0, profile, exported->payload.size(), *model_->pool);
  if (composed.status().code() == absl::StatusCode::kDataLoss) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", composed.status().message()));
  }
  if (!composed.ok()) return composed.status();
  ImportProfileOptions import;
  import.overwrite = overwrite;
  MASKSERVE_ASSIGN_OR_RETURN(v1::Profile imported,
                             store_->ImportProfile(tenant, profile_id, data, import));
  profiles_->Publish(MakeHandle(tenant, profile_id, imported.version(), *composed));
  return imported;
}

int64_t Engine::queued_sequences() const { return batcher_->queued_sequences(); }
int64_t Engine::resident_profiles() const { return profiles_->resident_count(); }
int64_t Engine::resident_bytes() const { return profiles_->resident_bytes(); }
std::map<v1::JobState, int64_t> Engine::jobs_by_state() const { return trainer_->CountByState(); }

std::map<std::pair<std::string, v1::JobState>, int64_t> Engine::jobs_by_tenant_and_state() const {
  return trainer_->CountByTenantAndState();
}

absl::Status Engine::StoreHealth() {
  if (trainer_->final_writes_failing()) {
    return absl::UnavailableError("the store does not take training jobs' final states");
  }
  return store_->CheckWritable();
}

}  // namespace maskserve
