// File: server/engine/engine.h
//
// The serving engine: everything between the RPCs and core/. It owns the
// loaded backbone and banks (with the shared heads), the resident profile
// table, the cross-profile batcher and the background trainer, and uses a
// ProfileStore it is given. Each operation an RPC needs is one call with
// plain inputs and results; every rule about requests (validation, bank
// presence, shared heads, versions, option defaults) is applied here or in
// the module it names, once. Nothing here throws: errors are absl::Status
// with gRPC's codes and messages naming the request field.
//
//   Engine engine(options, *LoadModel(request), &store, hooks);
//   MASKSERVE_RETURN_IF_ERROR(engine.Start());        // re-queues unfinished jobs
//   absl::StatusOr<PredictResult> r = engine.Predict("acme", call);
//   absl::StatusOr<v1::TrainingJob> job = engine.SubmitTraining("acme", request);
//   engine.Stop();                                     // drain the batcher, stop training
//
// The header carries no LibTorch types: the model is held through
// LoadedModel's forward declaration (server/engine/loaded_model.h).
//
// Thread safety: every method may be called concurrently, except that
// Start() and Stop() are called once each, by the owner.
#ifndef MASKSERVE_SERVER_ENGINE_ENGINE_H_
#define MASKSERVE_SERVER_ENGINE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "maskserve/v1/maskserve.pb.h"
#include "server/engine/clock.h"
#include "server/engine/engine_options.h"
#include "server/engine/model_loading.h"
#include "server/engine/predict_batcher.h"
#include "server/engine/prediction.h"
#include "storage/profile_store.h"

namespace maskserve {

class ProfileTable;
class TrainingManager;
class ProfileChangeFeed;

// One Predict call.
struct PredictCall {
  std::string profile_id;
  std::vector<TextInput> inputs;
  uint32_t top_k = 0;  // 0: 1
  bool return_logits = false;
  // Deadline, in the engine's Clock (the wall clock when serving); at most
  // 30 s after the call starts.
  absl::Time deadline = absl::InfiniteFuture();
  // Polled while the call waits (e.g. grpc::ServerContext::IsCancelled).
  std::function<bool()> cancelled;
};

// Where one answered Predict call's time went (seconds, the engine's
// Clock), and each input's length in tokens after truncation.
struct PredictStats {
  double tokenize_seconds = 0;   // on the calling thread
  double queue_seconds = 0;      // queued until its batch started
  double inference_seconds = 0;  // from its batch's start until its answer
  std::vector<int64_t> input_tokens;
};

// Observers for metrics; any may be empty. Called on engine threads.
struct EngineHooks {
  std::function<void(const BatchStats&)> on_batch;
  std::function<void(const PredictStats&)> on_predict;  // on the calling thread
  std::function<void()> on_profile_load;                // a resident-table miss read the store
  std::function<void()> on_hot_swap;  // a trained version went into the resident table
  std::function<void(double seconds)> on_training_finished;
  // Trainer time spent on a tenant's job since the last report for it
  // (reported as training runs, so a long job counts while it runs).
  std::function<void(const std::string& tenant, double seconds)> on_training_busy;
  // The store's change feed delivered a change (another replica's or this
  // one's own), on the feed's thread.
  std::function<void(const ProfileChange&)> on_profile_change;
  // The feed was interrupted (why) or resumed (OK) and the resident set
  // revalidated.
  std::function<void(const absl::Status&)> on_change_feed;
};

class Engine {
 public:
  // `store` and `clock` must outlive the engine. `forward` replaces the
  // backbone forward (tests); null runs the loaded backbone.
  Engine(EngineOptions options, std::shared_ptr<const LoadedModel> model, ProfileStore* store,
         EngineHooks hooks = {}, const Clock& clock = Clock::Real(),
         BatchForward forward = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Subscribes to the store's change feed (when it has one: other processes
  // write it too), re-queues the store's unfinished training jobs and
  // starts training.
  absl::Status Start();
  // Runs what the batcher holds, then stops it; interrupts training (the
  // job stays queued in the store); ends the change feed. Idempotent.
  void Stop();

  // Labels and probabilities for each input, from one version of the
  // profile. NOT_FOUND for an unknown profile, RESOURCE_EXHAUSTED when the
  // queue is full, DEADLINE_EXCEEDED / CANCELLED.
  absl::StatusOr<PredictResult> Predict(const std::string& tenant, const PredictCall& call);

  // Validates `request` (PrepareTrainRequest), checks expected_version and
  // queues the job; returns it QUEUED with its resolved hyper-parameters.
  absl::StatusOr<v1::TrainingJob> SubmitTraining(const std::string& tenant,
                                                 const v1::TrainProfileRequest& request);
  absl::StatusOr<v1::TrainingJob> GetJob(const std::string& tenant, const std::string& job_id);
  absl::StatusOr<v1::TrainingJob> CancelJob(const std::string& tenant, const std::string& job_id);
  // Calls `send` with the job's state now and after every change until it
  // is final; see TrainingManager::Watch.
  absl::Status WatchJob(const std::string& tenant, const std::string& job_id,
                        const std::function<bool(const v1::TrainingJob&)>& send,
                        const std::function<bool()>& stopped);
  // The store's page, with running jobs' fresher progress from memory.
  absl::StatusOr<ListJobsResult> ListJobs(const std::string& tenant, const JobFilter& filter,
                                          const PageRequest& page);

  absl::StatusOr<v1::Profile> GetProfile(const std::string& tenant, const std::string& profile_id);
  absl::StatusOr<ListProfilesResult> ListProfiles(const std::string& tenant,
                                                  const PageRequest& page);
  // Returns the deleted version. FAILED_PRECONDITION while it trains.
  absl::StatusOr<uint64_t> DeleteProfile(const std::string& tenant, const std::string& profile_id,
                                         std::optional<uint64_t> expected_version);
  absl::StatusOr<ExportedProfile> ExportProfile(const std::string& tenant,
                                                const std::string& profile_id);
  // Stores an export of this or another server as a new version, refusing
  // (before storing) what this server could not serve; it serves at once.
  absl::StatusOr<v1::Profile> ImportProfile(const std::string& tenant,
                                            const std::string& profile_id, const std::string& data,
                                            bool overwrite);

  const v1::ModelInfo& model_info() const { return model_info_; }
  ModelSummary summary() const { return Summarize(*model_); }

  // For gauges.
  int64_t queued_sequences() const;
  int64_t resident_profiles() const;
  int64_t resident_bytes() const;
  std::map<v1::JobState, int64_t> jobs_by_state() const;
  std::map<std::pair<std::string, v1::JobState>, int64_t> jobs_by_tenant_and_state() const;
  int64_t device_memory_bytes() const { return DeviceMemoryBytes(*model_); }
  // False while resident profiles must be confirmed with the store before
  // they are served (the store's change feed is down); always true on a
  // store that only this process writes.
  bool resident_profiles_confirmed() const;

  // OK while the store takes writes; otherwise why not (health then
  // reports NOT_SERVING). Probes the store (ProfileStore::CheckWritable).
  absl::Status StoreHealth();

 private:
  absl::Status RefuseWhileTraining(const std::string& tenant, const std::string& profile_id) const;
  // INVALID_ARGUMENT naming `field`.text_pair when the model has one segment
  // type (type_vocab_size 1) and `text_pair` is set.
  absl::Status CheckTextPair(const std::string& field, const std::string& text_pair) const;
  // The profile's version now (0: none); FAILED_PRECONDITION when the
  // request's expected_version differs.
  absl::StatusOr<uint64_t> CurrentVersion(const std::string& tenant,
                                          const v1::TrainProfileRequest& request);

  const EngineOptions options_;
  const std::shared_ptr<const LoadedModel> model_;
  ProfileStore* const store_;
  const EngineHooks hooks_;
  const Clock& clock_;
  const v1::ModelInfo model_info_;
  std::unique_ptr<ProfileTable> profiles_;
  std::unique_ptr<PredictBatcher> batcher_;
  std::unique_ptr<TrainingManager> trainer_;
  // Feeds the store's changes into profiles_ (see Start()).
  class ChangeSubscriber;
  std::unique_ptr<ChangeSubscriber> change_subscriber_;
  std::unique_ptr<ProfileChangeFeed> change_feed_;
};

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ENGINE_ENGINE_H_
