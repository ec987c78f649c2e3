// Unit tests of the Engine facade over the built-in tiny backbone, random
// banks and the in-memory store: the operations the RPCs make, their
// errors, training to a hot-swapped version, export/import, the forward
// seam and the metrics hooks.
#include "server/engine/engine.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/profile_export.h"
#include "storage/testing/in_memory_profile_store.h"

namespace maskserve {
namespace {

std::shared_ptr<const LoadedModel> Model(int64_t bottleneck = 0) {
  ModelRequest request;
  request.model_dir = "builtin";
  request.device = "cpu";
  request.banks.bottleneck = bottleneck;
  absl::StatusOr<std::shared_ptr<const LoadedModel>> loaded = LoadModel(request);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return *std::move(loaded);
}

v1::TrainProfileRequest TrainRequest(const std::string& profile_id) {
  v1::TrainProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_method(v1::XPEFT_HARD);
  request.add_label_names("neg");
  request.add_label_names("pos");
  for (int i = 0; i < 8; ++i) {
    v1::TrainingExample* e = request.add_examples();
    e->set_text(i % 2 ? "a great warm film" : "a dull cold film");
    e->set_label(i % 2 ? "pos" : "neg");
  }
  request.mutable_hyper_parameters()->set_epochs(3);
  return request;
}

PredictCall Call(const std::string& profile_id,
                 std::vector<TextInput> inputs = {{"a warm film", ""}}) {
  PredictCall call;
  call.profile_id = profile_id;
  call.inputs = std::move(inputs);
  call.top_k = 2;
  return call;
}

class EngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> MakeEngine(BatchForward forward = nullptr, int64_t bottleneck = 0,
                                     ProfileStore* store = nullptr) {
    EngineHooks hooks;
    hooks.on_profile_load = [this] { ++loads_; };
    hooks.on_hot_swap = [this] { ++swaps_; };
    hooks.on_batch = [this](const BatchStats& stats) { batched_ += stats.sequences; };
    hooks.on_predict = [this](const PredictStats& stats) {
      absl::MutexLock lock(&hooks_mu_);
      predicts_.push_back(stats);
    };
    hooks.on_training_busy = [this](const std::string& tenant, double seconds) {
      absl::MutexLock lock(&hooks_mu_);
      busy_seconds_[tenant] += seconds;
    };
    return std::make_unique<Engine>(EngineOptions(), Model(bottleneck), store ? store : &store_,
                                    hooks, Clock::Real(), std::move(forward));
  }

  v1::TrainingJob TrainToEnd(Engine& engine, const v1::TrainProfileRequest& request,
                             const std::string& tenant = "acme") {
    absl::StatusOr<v1::TrainingJob> job = engine.SubmitTraining(tenant, request);
    EXPECT_TRUE(job.ok()) << job.status();
    v1::TrainingJob last;
    EXPECT_TRUE(engine
                    .WatchJob(
                        tenant, job->job_id(),
                        [&](const v1::TrainingJob& j) {
                          last = j;
                          return true;
                        },
                        nullptr)
                    .ok());
    return last;
  }

  InMemoryProfileStore store_;
  std::atomic<int> loads_{0}, swaps_{0}, batched_{0};
  absl::Mutex hooks_mu_;
  std::vector<PredictStats> predicts_ ABSL_GUARDED_BY(hooks_mu_);
  std::map<std::string, double> busy_seconds_ ABSL_GUARDED_BY(hooks_mu_);
};

TEST_F(EngineTest, PredictErrorsNameTheProblem) {
  auto engine = MakeEngine();
  EXPECT_EQ(engine->Predict("acme", Call("nobody")).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<PredictResult> empty = engine->Predict("acme", Call("alice", {{"", ""}}));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message().rfind("inputs[0].text", 0), 0u) << empty.status();
  EXPECT_EQ(engine->Predict("acme", Call("bad id!")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, TrainingPublishesAVersionThatPredictServes) {
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Start().ok());
  const v1::TrainingJob job = TrainToEnd(*engine, TrainRequest("alice"));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.hyper_parameters().epochs(), 3u);
  EXPECT_EQ(swaps_.load(), 1);

  absl::StatusOr<PredictResult> result =
      engine->Predict("acme", Call("alice", {{"a warm film", ""}, {"a cold one", "really"}}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->profile_version, 1u);
  EXPECT_EQ(result->label_names, (std::vector<std::string>{"neg", "pos"}));
  ASSERT_EQ(result->predictions.size(), 2u);
  for (const Prediction& p : result->predictions) {
    EXPECT_NEAR(std::accumulate(p.probabilities.begin(), p.probabilities.end(), 0.0), 1.0, 1e-5);
    EXPECT_EQ(p.top.size(), 2u);
  }
  EXPECT_EQ(loads_.load(), 0);  // served from the hot-swapped version
  EXPECT_EQ(engine->GetProfile("acme", "alice")->version(), 1u);
  EXPECT_EQ(engine->GetProfile("globex", "alice").status().code(), absl::StatusCode::kNotFound);
  engine->Stop();  // the batch report follows the answers; Stop() waits for it
  EXPECT_EQ(batched_.load(), 2);
}

TEST_F(EngineTest, SubmitChecksVersionsBanksAndOptionsBeforeQueueing) {
  auto engine = MakeEngine();  // not started: accepted jobs stay queued
  v1::TrainProfileRequest stale = TrainRequest("alice");
  stale.set_expected_version(3);
  absl::StatusOr<v1::TrainingJob> job = engine->SubmitTraining("acme", stale);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(job.status().message().rfind("expected_version:", 0), 0u) << job.status();
  v1::TrainProfileRequest bad_k = TrainRequest("alice");
  bad_k.mutable_hyper_parameters()->set_xpeft_top_k(1000);
  EXPECT_EQ(engine->SubmitTraining("acme", bad_k).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.calls(InMemoryProfileStore::Operation::kCreateJob), 0);

  job = engine->SubmitTraining("acme", TrainRequest("alice"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_GT(job->hyper_parameters().batch_size(), 0u);  // resolved at submit
  // While it trains the profile cannot be deleted or replaced.
  EXPECT_EQ(engine->DeleteProfile("acme", "alice", std::nullopt).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine->ImportProfile("acme", "alice", "x", true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine->GetJob("acme", "not a job id").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ListJobsResult> jobs = engine->ListJobs("acme", JobFilter(), PageRequest());
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->jobs.size(), 1u);
  EXPECT_EQ(jobs->jobs[0].state(), v1::QUEUED);
}

// The reported failure: an ADAPTER profile trained on a --bottleneck=4
// server, imported into a default one, broke other tenants' batches. It is
// refused at the door, and other tenants' requests all succeed.
TEST_F(EngineTest, AnAdapterProfileOfAnotherBottleneckIsRefusedAtImport) {
  InMemoryProfileStore other_store;
  auto narrow = MakeEngine(nullptr, /*bottleneck=*/4, &other_store);
  ASSERT_TRUE(narrow->Start().ok());
  v1::TrainProfileRequest adapter = TrainRequest("narrow");
  adapter.set_method(v1::ADAPTER);
  ASSERT_EQ(TrainToEnd(*narrow, adapter).state(), v1::SUCCEEDED);
  absl::StatusOr<ExportedProfile> exported = narrow->ExportProfile("acme", "narrow");
  ASSERT_TRUE(exported.ok()) << exported.status();

  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Start().ok());
  ASSERT_EQ(TrainToEnd(*engine, TrainRequest("bob"), "globex").state(), v1::SUCCEEDED);
  absl::StatusOr<v1::Profile> imported =
      engine->ImportProfile("acme", "narrow", exported->data, false);
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kFailedPrecondition) << imported.status();
  EXPECT_NE(imported.status().message().find("b=4"), std::string::npos) << imported.status();
  EXPECT_EQ(store_.GetProfile("acme", "narrow").status().code(), absl::StatusCode::kNotFound);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(engine->Predict("globex", Call("bob")).ok());
  }
}

TEST_F(EngineTest, AnImportWhoseMetadataDisagreesWithItsPayloadIsRefused) {
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Start().ok());
  ASSERT_EQ(TrainToEnd(*engine, TrainRequest("alice")).state(), v1::SUCCEEDED);
  absl::StatusOr<ExportedProfile> exported = engine->ExportProfile("acme", "alice");
  ASSERT_TRUE(exported.ok()) << exported.status();
  absl::StatusOr<StoredProfile> decoded = DecodeProfileExport(exported->data);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  auto tampered = [&](const std::function<void(v1::Profile*)>& change) {
    StoredProfile copy = *decoded;
    change(&copy.profile);
    return EncodeProfileExport(copy, absl::Now());
  };
  struct Case {
    const char* what;
    std::function<void(v1::Profile*)> change;
  };
  const Case cases[] = {
      {"method", [](v1::Profile* p) { p->set_method(v1::ADAPTER); }},
      {"labels", [](v1::Profile* p) { p->set_label_names(1, "positive"); }},
      {"sizes", [](v1::Profile* p) { p->mutable_size()->set_total_bytes(1); }},
      // (protobuf itself refuses an export whose strings are not UTF-8)
      {"data: ", [](v1::Profile* p) { p->set_label_names(0, "\xff"); }},
      {"label_names[0]: empty", [](v1::Profile* p) { p->set_label_names(0, ""); }},
      {"description", [](v1::Profile* p) { p->set_description(std::string(5000, 'x')); }},
  };
  for (const Case& c : cases) {
    absl::Status s = engine->ImportProfile("acme", "copy", tampered(c.change), false).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << s;
    EXPECT_NE(s.message().find(c.what), std::string::npos) << s;
  }
  EXPECT_EQ(store_.GetProfile("acme", "copy").status().code(), absl::StatusCode::kNotFound);
  // More labels than this server's --max_labels.
  v1::Profile many;
  for (int i = 0; i < 70; ++i) many.add_label_names("l" + std::to_string(i));
  absl::Status s = engine
                       ->ImportProfile("acme", "copy", tampered([&](v1::Profile* p) {
                                         *p->mutable_label_names() = many.label_names();
                                       }),
                                       false)
                       .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("label_names: expected 2..64"), std::string::npos) << s;
}

TEST_F(EngineTest, TrainingBudgetsAreCheckedAtSubmit) {
  auto engine = MakeEngine();
  v1::TrainProfileRequest big = TrainRequest("alice");
  big.mutable_hyper_parameters()->set_batch_size(4096);
  absl::Status s = engine->SubmitTraining("acme", big).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("--max_train_tokens_per_step"), std::string::npos) << s;
  v1::TrainProfileRequest long_job = TrainRequest("alice");
  long_job.mutable_hyper_parameters()->set_epochs(1000);
  for (int i = 0; i < 600; ++i) {
    v1::TrainingExample* e = long_job.add_examples();
    e->set_text("more text");
    e->set_label("pos");
  }
  s = engine->SubmitTraining("acme", long_job).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("--max_train_tokens_per_job"), std::string::npos) << s;
  EXPECT_EQ(store_.calls(InMemoryProfileStore::Operation::kCreateJob), 0);
}

TEST_F(EngineTest, AnExportImportsAsAServableCopy) {
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Start().ok());
  ASSERT_EQ(TrainToEnd(*engine, TrainRequest("alice")).state(), v1::SUCCEEDED);
  absl::StatusOr<ExportedProfile> exported = engine->ExportProfile("acme", "alice");
  ASSERT_TRUE(exported.ok()) << exported.status();
  absl::StatusOr<v1::Profile> imported =
      engine->ImportProfile("acme", "alice-copy", exported->data, false);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->version(), 1u);
  absl::StatusOr<PredictResult> original = engine->Predict("acme", Call("alice"));
  absl::StatusOr<PredictResult> copy = engine->Predict("acme", Call("alice-copy"));
  ASSERT_TRUE(original.ok() && copy.ok());
  EXPECT_EQ(copy->predictions[0].probabilities, original->predictions[0].probabilities);
  EXPECT_EQ(loads_.load(), 0);  // the import was composed once and published

  EXPECT_EQ(engine->ImportProfile("acme", "alice-copy", exported->data, false).status().code(),
            absl::StatusCode::kAlreadyExists);
  absl::Status garbage = engine->ImportProfile("acme", "junk", "not an export", false).status();
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(garbage.message().rfind("data: ", 0), 0u) << garbage;
  EXPECT_EQ(engine->ImportProfile("acme", "junk", "", false).status().code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<uint64_t> deleted = engine->DeleteProfile("acme", "alice-copy", std::nullopt);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(engine->Predict("acme", Call("alice-copy")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, AnotherEngineLoadsStoredProfilesOnFirstUse) {
  {
    auto first = MakeEngine();
    ASSERT_TRUE(first->Start().ok());
    ASSERT_EQ(TrainToEnd(*first, TrainRequest("alice")).state(), v1::SUCCEEDED);
  }
  auto second = MakeEngine();
  ASSERT_TRUE(second->Predict("acme", Call("alice")).ok());
  ASSERT_TRUE(second->Predict("acme", Call("alice")).ok());
  EXPECT_EQ(loads_.load(), 1);
  EXPECT_EQ(second->resident_profiles(), 1);
  EXPECT_GT(second->resident_bytes(), 0);
}

TEST_F(EngineTest, PredictRunsTheForwardItWasGiven) {
  auto engine = MakeEngine([](const ForwardBatch& batch) -> absl::StatusOr<ForwardResult> {
    ForwardResult result;
    for (size_t i = 0; i < batch.rows.size(); ++i) result.logits.push_back({0.0f, 2.0f});
    return result;
  });
  ASSERT_TRUE(engine->Start().ok());
  ASSERT_EQ(TrainToEnd(*engine, TrainRequest("alice")).state(), v1::SUCCEEDED);
  PredictCall call = Call("alice");
  call.return_logits = true;
  absl::StatusOr<PredictResult> result = engine->Predict("acme", call);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->predictions[0].label, "pos");
  EXPECT_EQ(result->predictions[0].logits, (std::vector<float>{0.0f, 2.0f}));
}

TEST_F(EngineTest, MetricsHooksSplitAPredictsTimeAndCountTrainerTimePerTenant) {
  constexpr absl::Duration kForwardTime = absl::Milliseconds(30);
  auto engine = MakeEngine([&](const ForwardBatch& batch) -> absl::StatusOr<ForwardResult> {
    absl::SleepFor(kForwardTime);
    ForwardResult result;
    for (size_t i = 0; i < batch.rows.size(); ++i) result.logits.push_back({0.0f, 2.0f});
    return result;
  });
  ASSERT_TRUE(engine->SubmitTraining("initech", TrainRequest("bob")).ok());  // not started yet
  using TenantState = std::pair<std::string, v1::JobState>;
  EXPECT_EQ(engine->jobs_by_tenant_and_state(),
            (std::map<TenantState, int64_t>{{{"initech", v1::QUEUED}, 1}}));
  ASSERT_TRUE(engine->Start().ok());
  ASSERT_EQ(TrainToEnd(*engine, TrainRequest("alice"), "globex").state(), v1::SUCCEEDED);
  {
    absl::MutexLock lock(&hooks_mu_);
    EXPECT_GT(busy_seconds_["globex"], 0.0);
  }

  // "a warm film" is [CLS] a warm film [SEP]; the pair adds "really" [SEP].
  ASSERT_TRUE(
      engine->Predict("globex", Call("alice", {{"a warm film", ""}, {"a cold one", "really"}}))
          .ok());
  EXPECT_FALSE(engine->Predict("globex", Call("nobody")).ok());  // failures are not reported
  absl::MutexLock lock(&hooks_mu_);
  ASSERT_EQ(predicts_.size(), 1u);
  const PredictStats& stats = predicts_[0];
  EXPECT_EQ(stats.input_tokens, (std::vector<int64_t>{5, 7}));
  EXPECT_GE(stats.tokenize_seconds, 0.0);
  EXPECT_GE(stats.queue_seconds, 0.0);
  EXPECT_GE(stats.inference_seconds, absl::ToDoubleSeconds(kForwardTime));
}

}  // namespace
}  // namespace maskserve
