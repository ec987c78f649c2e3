// store_crash_writer: the process the crash test kills. Opens the store,
// re-queues jobs a killed predecessor left unfinished, then publishes,
// deletes and trains profiles from several threads until it is killed,
// reporting every acknowledged operation on stdout (storage/testing/
// crash_workload.h has the protocol). Any unexpected error exits with 2.
//
//   store_crash_writer --data_dir=/tmp/x --seed=7 --threads=4
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "storage/rocksdb_profile_store.h"
#include "storage/testing/crash_workload.h"

ABSL_FLAG(std::string, data_dir, "", "Store directory");
ABSL_FLAG(uint64_t, seed, 1, "Random seed");
ABSL_FLAG(int, threads, 4, "Writer threads");
ABSL_FLAG(int, tenants, 3, "Tenants");
ABSL_FLAG(int, profiles, 40, "Profile ids per tenant");

namespace maskserve {
namespace {

namespace cw = crash_workload;

void Report(const std::string& line) {
  std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(1, out.data() + done, out.size() - done);
    if (n <= 0) _exit(3);  // the parent is gone
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void Fatal(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "store_crash_writer: %s: %s\n", what.c_str(), status.ToString().c_str());
  _exit(2);
}

bool Benign(const absl::Status& status) {
  // Races between the writer's own threads.
  return status.code() == absl::StatusCode::kFailedPrecondition ||
         status.code() == absl::StatusCode::kNotFound;
}

cw::KeyState State(RocksDbProfileStore& store, const std::string& tenant, const std::string& id) {
  absl::StatusOr<cw::KeyState> state = cw::ReadKeyState(store, tenant, id);
  if (!state.ok()) Fatal("read " + tenant + "/" + id, state.status());
  return *state;
}

// Publishes the next version of tenant/id (CAS); returns false on a race.
bool PublishNext(RocksDbProfileStore& store, const std::string& tenant, const std::string& id,
                 const v1::TrainingJob* job) {
  cw::KeyState state = State(store, tenant, id);
  PublishProfileRequest request = cw::Publish(tenant, id, state.version + 1);
  request.expected_version = state.live ? state.version : 0;
  if (job != nullptr) request.finished_job = *job;
  absl::StatusOr<v1::Profile> published = store.PublishProfile(tenant, id, std::move(request));
  if (!published.ok()) {
    if (Benign(published.status())) return false;
    Fatal("publish " + tenant + "/" + id, published.status());
  }
  Report("P " + tenant + " " + id + " " + std::to_string(published->version()) +
         (job != nullptr ? " " + job->job_id() : ""));
  return true;
}

void FailJob(RocksDbProfileStore& store, const std::string& tenant, v1::TrainingJob job) {
  job.set_state(v1::FAILED);
  job.set_error("crash test");
  absl::StatusOr<v1::TrainingJob> updated = store.UpdateJob(tenant, job);
  if (!updated.ok()) {
    if (Benign(updated.status())) return;
    Fatal("fail job " + job.job_id(), updated.status());
  }
  Report("F " + tenant + " " + job.job_id());
}

// What the server does at start-up: finish or fail jobs left unfinished.
void Requeue(RocksDbProfileStore& store) {
  absl::StatusOr<UnfinishedJobs> unfinished = store.ListUnfinishedJobs();
  if (!unfinished.ok()) Fatal("list unfinished jobs", unfinished.status());
  if (!unfinished->unreadable.empty()) Fatal("unfinished jobs", unfinished->unreadable[0].status);
  for (const StoredJob& job : unfinished->jobs) {
    if (!PublishNext(store, job.tenant, job.job.profile_id(), &job.job)) {
      FailJob(store, job.tenant, job.job);
    }
  }
}

void Work(RocksDbProfileStore& store, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int tenants = absl::GetFlag(FLAGS_tenants);
  const int profiles = absl::GetFlag(FLAGS_profiles);
  for (;;) {
    const std::string tenant = cw::Tenant(static_cast<int>(rng() % tenants));
    const std::string id = cw::ProfileId(static_cast<int>(rng() % profiles));
    const int action = static_cast<int>(rng() % 100);
    if (action < 55) {
      PublishNext(store, tenant, id, nullptr);
    } else if (action < 67) {
      cw::KeyState state = State(store, tenant, id);
      if (!state.live) continue;
      absl::StatusOr<uint64_t> deleted = store.DeleteProfile(tenant, id, state.version);
      if (!deleted.ok()) {
        if (Benign(deleted.status())) continue;
        Fatal("delete " + tenant + "/" + id, deleted.status());
      }
      Report("D " + tenant + " " + id + " " + std::to_string(*deleted));
    } else if (action < 90) {
      const int examples = 1 + static_cast<int>(rng() % 20);
      absl::StatusOr<v1::TrainingJob> job =
          store.CreateJob(tenant, cw::TrainRequest(id, examples), {});
      if (!job.ok()) Fatal("create job", job.status());
      Report("J " + tenant + " " + job->job_id() + " " + id + " " + std::to_string(examples));
      v1::TrainingJob progress = *job;
      progress.set_state(v1::RUNNING);
      progress.set_step(rng() % 100);
      absl::StatusOr<v1::TrainingJob> running = store.UpdateJob(tenant, progress);
      if (!running.ok()) Fatal("job progress", running.status());
      const int outcome = static_cast<int>(rng() % 10);
      if (outcome == 0) {
        FailJob(store, tenant, *running);
      } else if (outcome < 8) {
        PublishNext(store, tenant, id, &*running);  // a race leaves it for re-queue
      }                                             // else: left running, as a crash would
    } else {
      absl::StatusOr<ListProfilesResult> list = store.ListProfiles(tenant, PageRequest{7, ""});
      if (!list.ok()) Fatal("list", list.status());
      if (!list->unreadable.empty()) Fatal("list", list->unreadable[0].status);
    }
  }
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using maskserve::RocksDbProfileStore;
  absl::StatusOr<std::unique_ptr<RocksDbProfileStore>> store = RocksDbProfileStore::Open(
      maskserve::crash_workload::StoreOptions(absl::GetFlag(FLAGS_data_dir)));
  if (!store.ok()) maskserve::Fatal("open", store.status());
  maskserve::Report("READY");
  maskserve::Requeue(**store);
  std::vector<std::thread> threads;
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
    threads.emplace_back([&store, seed, t] { maskserve::Work(**store, seed * 1000 + t); });
  }
  for (std::thread& thread : threads) thread.join();
  return 0;
}
