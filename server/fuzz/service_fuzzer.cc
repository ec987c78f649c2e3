// File: server/fuzz/service_fuzzer.cc
//
// libFuzzer target over the gRPC service (server/maskserve_service.h): the
// first input byte chooses an RPC, the rest is parsed with ParseFromArray
// into that RPC's request proto (unparseable inputs are skipped) and the
// handler is called directly with a grpc::ServerContext made here, over a
// real Engine: the built-in tiny backbone on the CPU, random banks and the
// in-memory store (storage/testing/in_memory_profile_store.h). Built with
// clang, ASan (+LeakSanitizer) and UBSan by server/fuzz/CMakeLists.txt;
// scripts/fuzz.sh builds and runs it with the dictionary
// server/fuzz/service_fuzzer.dict.
//
// Every input starts from the same state, so that a crash reproduces from
// its input alone: a fresh store and engine (tenant "default", the
// development-mode authenticator) holding profiles "alice" (XPEFT_HARD),
// "bob" (HEAD_ONLY) and a deleted "carol", a queued job for "dave" and a
// cancelled one for "erin". The store's clock and job-id seed are fixed, so
// the job ids are always the same (they are in the dictionary).
//
// Selector byte (data[0] % 14):
//   0..11  the RPCs in the proto's order (Predict ... GetModelInfo); the
//          engine is not started, so submitted jobs stay queued;
//          3 (WatchTrainingJob) runs through an in-process gRPC server (a
//          ServerWriter cannot be made without one) with the engine
//          started, so the queued job trains and the stream ends; a 3 s
//          client deadline bounds it.
//   12     ImportProfile whose `data`, when it starts with the export magic,
//          gets its CRC-32C recomputed, so the fuzzer reaches the export's
//          protobuf and the profile codec behind the checksum.
//   13     TrainProfile on a started engine: the job is watched until it is
//          final (at most 3 s, then the engine stops it) and the trained
//          profile is asked one Predict.
//
//   scripts/fuzz.sh 60                   # all fuzzers, 60 s each
//   build/fuzz/maskserve_service_fuzzer -dict=server/fuzz/service_fuzzer.dict CORPUS
//   MASKSERVE_FUZZ_WRITE_SEEDS=DIR build/fuzz/maskserve_service_fuzzer   # seed inputs
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "maskserve/v1/maskserve.grpc.pb.h"
#include "server/auth.h"
#include "server/engine/engine.h"
#include "server/maskserve_service.h"
#include "storage/record_codec.h"
#include "storage/testing/in_memory_profile_store.h"

namespace maskserve {
namespace {

constexpr char kTenant[] = "default";  // the development authenticator's
constexpr int kSelectors = 14;
constexpr int kImportRepaired = 12;
constexpr int kTrainAndRun = 13;
constexpr auto kRunBudget = std::chrono::seconds(3);

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "service_fuzzer: %s\n", what.c_str());
  std::abort();
}

template <typename T>
T Check(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Die(std::string(what) + ": " + value.status().ToString());
  return *std::move(value);
}

EngineOptions FuzzEngineOptions() {
  EngineOptions options;
  options.batching.max_queue_delay_ms = 0;  // a call is one batch: no wait
  options.batching.intra_op_threads = 1;
  options.training_intra_op_threads = 1;
  options.max_training_seconds_per_job = 5;
  return options;
}

v1::TrainProfileRequest SmallTrainRequest(const std::string& profile_id, v1::Method method) {
  v1::TrainProfileRequest request;
  request.set_profile_id(profile_id);
  request.set_method(method);
  request.add_label_names("neg");
  request.add_label_names("pos");
  for (int i = 0; i < 8; ++i) {
    v1::TrainingExample* e = request.add_examples();
    e->set_text(i % 2 ? "a great warm film" : "a dull cold film");
    e->set_label(i % 2 ? "pos" : "neg");
  }
  request.mutable_hyper_parameters()->set_epochs(1);
  request.set_seed(1);
  return request;
}

// What every input starts from (made once by LLVMFuzzerInitialize).
struct World {
  std::shared_ptr<const LoadedModel> model;
  std::string alice_export;  // an XPEFT_HARD profile
  std::string bob_export;    // a HEAD_ONLY profile
  std::unique_ptr<Authenticator> auth = Authenticator::Development(Authenticator::Peers::kAny);
  MaskserveService service;
  std::unique_ptr<grpc::Server> server;  // in-process, for WatchTrainingJob
  std::unique_ptr<v1::Maskserve::Stub> stub;
};
World* world = nullptr;

InMemoryProfileStore::Options StoreOptions() {
  InMemoryProfileStore::Options options;
  options.clock = [] { return absl::FromUnixSeconds(1767225600); };  // 2026-01-01
  options.job_id_seed = 1;
  return options;
}

// Watches `job_id` on `engine` until it is final or `budget` passed.
v1::TrainingJob WatchFor(Engine& engine, const std::string& job_id,
                         std::chrono::steady_clock::duration budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  v1::TrainingJob last;
  (void)engine.WatchJob(
      kTenant, job_id,
      [&](const v1::TrainingJob& job) {
        last = job;
        return true;
      },
      [&] { return std::chrono::steady_clock::now() > until; });
  return last;
}

std::string TrainAndExport(const std::string& profile_id, v1::Method method) {
  InMemoryProfileStore store(StoreOptions());
  Engine engine(FuzzEngineOptions(), world->model, &store);
  if (absl::Status s = engine.Start(); !s.ok()) Die("Start: " + s.ToString());
  v1::TrainingJob job = Check(engine.SubmitTraining(kTenant, SmallTrainRequest(profile_id, method)),
                              "SubmitTraining");
  job = WatchFor(engine, job.job_id(), std::chrono::seconds(120));
  if (job.state() != v1::SUCCEEDED) Die("seed training: " + job.DebugString());
  std::string data = Check(engine.ExportProfile(kTenant, profile_id), "ExportProfile").data;
  engine.Stop();
  return data;
}

// One input's store and engine, in the state the header describes.
struct Fixture {
  explicit Fixture(bool with_jobs)
      : store(StoreOptions()), engine(FuzzEngineOptions(), world->model, &store) {
    Check(store.ImportProfile(kTenant, "alice", world->alice_export, {}), "import alice");
    Check(store.ImportProfile(kTenant, "bob", world->bob_export, {}), "import bob");
    Check(store.ImportProfile(kTenant, "carol", world->bob_export, {}), "import carol");
    Check(store.DeleteProfile(kTenant, "carol", std::nullopt), "delete carol");
    if (with_jobs) {
      queued = Check(engine.SubmitTraining(kTenant, SmallTrainRequest("dave", v1::XPEFT_HARD)),
                     "submit dave")
                   .job_id();
      cancelled = Check(engine.SubmitTraining(kTenant, SmallTrainRequest("erin", v1::HEAD_ONLY)),
                        "submit erin")
                      .job_id();
      Check(engine.CancelJob(kTenant, cancelled), "cancel erin");
    }
    deps->auth = world->auth.get();
    deps->engine = &engine;
    world->service.Ready(deps);
  }
  ~Fixture() {
    world->service.Ready(nullptr);
    engine.Stop();
  }

  InMemoryProfileStore store;
  Engine engine;
  std::shared_ptr<ServiceDependencies> deps = std::make_shared<ServiceDependencies>();
  std::string queued, cancelled;
};

// Parses `bytes` into a fresh Request and calls `handler` with it.
template <typename Request, typename Response, typename Handler>
void Call(const uint8_t* bytes, size_t size, Handler handler) {
  Request request;
  if (!request.ParseFromArray(bytes, int(size))) return;
  Fixture fixture(/*with_jobs=*/true);
  Response response;
  grpc::ServerContext context;
  (void)(world->service.*handler)(&context, &request, &response);
}

void Watch(const uint8_t* bytes, size_t size) {
  v1::WatchTrainingJobRequest request;
  if (!request.ParseFromArray(bytes, int(size))) return;
  Fixture fixture(/*with_jobs=*/true);
  if (absl::Status s = fixture.engine.Start(); !s.ok()) Die("Start: " + s.ToString());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRunBudget);
  std::unique_ptr<grpc::ClientReader<v1::TrainingJob>> reader =
      world->stub->WatchTrainingJob(&context, request);
  v1::TrainingJob job;
  while (reader->Read(&job)) {
  }
  (void)reader->Finish();
}

void ImportRepaired(const uint8_t* bytes, size_t size) {
  v1::ImportProfileRequest request;
  if (!request.ParseFromArray(bytes, int(size))) return;
  const std::string& data = request.data();
  if (data.size() >= FrameOverhead(kExportMagic) && data.compare(0, 8, kExportMagic) == 0) {
    const std::string_view body = std::string_view(data).substr(
        kExportMagic.size(), data.size() - FrameOverhead(kExportMagic));
    request.set_data(FrameBytes(kExportMagic, body));
  }
  Fixture fixture(/*with_jobs=*/true);
  v1::Profile response;
  grpc::ServerContext context;
  if (!world->service.ImportProfile(&context, &request, &response).ok()) return;
  v1::PredictRequest predict;
  predict.set_profile_id(request.profile_id());
  predict.add_inputs()->set_text("a warm film");
  v1::PredictResponse predicted;
  grpc::ServerContext predict_context;
  (void)world->service.Predict(&predict_context, &predict, &predicted);
}

void TrainAndRun(const uint8_t* bytes, size_t size) {
  v1::TrainProfileRequest request;
  if (!request.ParseFromArray(bytes, int(size))) return;
  Fixture fixture(/*with_jobs=*/false);
  if (absl::Status s = fixture.engine.Start(); !s.ok()) Die("Start: " + s.ToString());
  v1::TrainProfileResponse response;
  grpc::ServerContext context;
  if (!world->service.TrainProfile(&context, &request, &response).ok()) return;
  const v1::TrainingJob job = WatchFor(fixture.engine, response.job_id(), kRunBudget);
  if (job.state() != v1::SUCCEEDED) return;
  v1::PredictRequest predict;
  predict.set_profile_id(request.profile_id());
  predict.add_inputs()->set_text("a warm film");
  predict.set_top_k(3);
  predict.set_return_logits(true);
  v1::PredictResponse predicted;
  grpc::ServerContext predict_context;
  (void)world->service.Predict(&predict_context, &predict, &predicted);
}

void WriteSeed(const std::string& dir, const std::string& name, int selector,
               const google::protobuf::Message& request) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(char(selector));
  out << request.SerializeAsString();
}

// MASKSERVE_FUZZ_WRITE_SEEDS=DIR: one valid request for each selector.
void WriteSeeds(const std::string& dir) {
  Fixture fixture(/*with_jobs=*/true);
  v1::PredictRequest predict;
  predict.set_profile_id("alice");
  predict.add_inputs()->set_text("a warm film");
  v1::TextInput* pair = predict.add_inputs();
  pair->set_text("a cold one");
  pair->set_text_pair("really");
  predict.set_top_k(2);
  predict.set_return_logits(true);
  WriteSeed(dir, "predict", 0, predict);
  v1::TrainProfileRequest train = SmallTrainRequest("frank", v1::XPEFT_HARD);
  WriteSeed(dir, "train", 1, train);
  WriteSeed(dir, "train_run", kTrainAndRun, train);
  for (v1::Method method :
       {v1::XPEFT_SOFT, v1::PROPETL_LAYER, v1::PROPETL_HYBRID, v1::HEAD_ONLY, v1::ADAPTER}) {
    WriteSeed(dir, "train_run_" + v1::Method_Name(method), kTrainAndRun,
              SmallTrainRequest("frank", method));
  }
  for (const std::string& job : {fixture.queued, fixture.cancelled}) {
    v1::GetTrainingJobRequest get;
    get.set_job_id(job);
    WriteSeed(dir, "get_job_" + job, 2, get);
    WriteSeed(dir, "watch_job_" + job, 3, get);  // same wire format
    WriteSeed(dir, "cancel_job_" + job, 4, get);
  }
  v1::ListTrainingJobsRequest list_jobs;
  list_jobs.set_profile_id("dave");
  list_jobs.add_states(v1::QUEUED);
  list_jobs.set_page_size(1);
  WriteSeed(dir, "list_jobs", 5, list_jobs);
  {
    grpc::ServerContext context;
    v1::ListTrainingJobsResponse page;
    list_jobs.clear_profile_id();
    list_jobs.clear_states();
    (void)world->service.ListTrainingJobs(&context, &list_jobs, &page);
    list_jobs.set_page_token(page.next_page_token());
    WriteSeed(dir, "list_jobs_page2", 5, list_jobs);
    std::printf("service_fuzzer: jobs page token %s\n", page.next_page_token().c_str());
  }
  v1::GetProfileRequest get_profile;
  get_profile.set_profile_id("alice");
  WriteSeed(dir, "get_profile", 6, get_profile);
  v1::ListProfilesRequest list_profiles;
  list_profiles.set_page_size(1);
  WriteSeed(dir, "list_profiles", 7, list_profiles);
  {
    grpc::ServerContext context;
    v1::ListProfilesResponse page;
    (void)world->service.ListProfiles(&context, &list_profiles, &page);
    list_profiles.set_page_token(page.next_page_token());
    WriteSeed(dir, "list_profiles_page2", 7, list_profiles);
    std::printf("service_fuzzer: profiles page token %s\n", page.next_page_token().c_str());
  }
  v1::DeleteProfileRequest del;
  del.set_profile_id("bob");
  del.set_expected_version(1);
  WriteSeed(dir, "delete_profile", 8, del);
  WriteSeed(dir, "export_profile", 9, get_profile);  // same wire format
  v1::ImportProfileRequest import;
  import.set_profile_id("gina");
  import.set_data(world->alice_export);
  WriteSeed(dir, "import_profile", 10, import);
  WriteSeed(dir, "import_repaired", kImportRepaired, import);
  import.set_profile_id("alice");
  import.set_data(world->bob_export);
  import.set_overwrite(true);
  WriteSeed(dir, "import_overwrite", kImportRepaired, import);
  WriteSeed(dir, "model_info", 11, v1::GetModelInfoRequest());
  std::printf("service_fuzzer: seeds in %s; job ids %s (queued) %s (cancelled)\n", dir.c_str(),
              fixture.queued.c_str(), fixture.cancelled.c_str());
}

}  // namespace
}  // namespace maskserve

// LeakSanitizer: the sync gRPC server's thread pool (ThreadManager, used by
// the in-process server of WatchTrainingJob) hands an exiting worker's
// WorkerThread and grpc_core::Thread to its completed list from the exiting
// thread; a leak check in that window finds them unreferenced
// (grpc/grpc#23349). Third-party and transient (the input it lands on is
// unrelated; it does not reproduce), so suppressed here; nothing of ours.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:grpc::ThreadManager::MainWorkLoop\n"
         "leak:grpc_core::Thread::Thread\n";
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace maskserve;
  setenv("MASKSERVE_LOG_QUIET", "1", 0);
  // Parsing skips strings that are not UTF-8 (as gRPC does); not worth a log line each.
  google::protobuf::SetLogHandler(nullptr);
  world = new World;
  ModelRequest request;
  request.model_dir = "builtin";
  request.device = "cpu";
  world->model = Check(LoadModel(request), "LoadModel");
  world->alice_export = TrainAndExport("alice", v1::XPEFT_HARD);
  world->bob_export = TrainAndExport("bob", v1::HEAD_ONLY);
  grpc::ServerBuilder builder;
  builder.RegisterService(&world->service);
  world->server = builder.BuildAndStart();
  if (world->server == nullptr) Die("in-process gRPC server did not start");
  world->stub = v1::Maskserve::NewStub(world->server->InProcessChannel(grpc::ChannelArguments()));
  if (const char* dir = std::getenv("MASKSERVE_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace maskserve;
  if (size == 0) return 0;
  const int selector = data[0] % kSelectors;
  const uint8_t* bytes = data + 1;
  const size_t n = size - 1;
  using S = MaskserveService;
  if (selector == 3) {
    Watch(bytes, n);
    return 0;
  }
  if (selector == kImportRepaired) {
    ImportRepaired(bytes, n);
    return 0;
  }
  if (selector == kTrainAndRun) {
    TrainAndRun(bytes, n);
    return 0;
  }
  switch (selector) {
    case 0:
      Call<v1::PredictRequest, v1::PredictResponse>(bytes, n, &S::Predict);
      break;
    case 1:
      Call<v1::TrainProfileRequest, v1::TrainProfileResponse>(bytes, n, &S::TrainProfile);
      break;
    case 2:
      Call<v1::GetTrainingJobRequest, v1::TrainingJob>(bytes, n, &S::GetTrainingJob);
      break;
    case 4:
      Call<v1::CancelTrainingJobRequest, v1::TrainingJob>(bytes, n, &S::CancelTrainingJob);
      break;
    case 5:
      Call<v1::ListTrainingJobsRequest, v1::ListTrainingJobsResponse>(bytes, n,
                                                                      &S::ListTrainingJobs);
      break;
    case 6:
      Call<v1::GetProfileRequest, v1::Profile>(bytes, n, &S::GetProfile);
      break;
    case 7:
      Call<v1::ListProfilesRequest, v1::ListProfilesResponse>(bytes, n, &S::ListProfiles);
      break;
    case 8:
      Call<v1::DeleteProfileRequest, v1::DeleteProfileResponse>(bytes, n, &S::DeleteProfile);
      break;
    case 9:
      Call<v1::ExportProfileRequest, v1::ExportProfileResponse>(bytes, n, &S::ExportProfile);
      break;
    case 10:
      Call<v1::ImportProfileRequest, v1::Profile>(bytes, n, &S::ImportProfile);
      break;
    case 11:
      Call<v1::GetModelInfoRequest, v1::ModelInfo>(bytes, n, &S::GetModelInfo);
      break;
  }
  return 0;
}
