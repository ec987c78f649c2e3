#include "storage/testing/crash_model.h"

#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/absl_compat.h"
#include "storage/job_records.h"
#include "storage/testing/crash_workload.h"

namespace maskserve {
namespace {

namespace cw = crash_workload;

absl::Status Violation(int round, std::string_view what) {
  return absl::InternalError(absl::StrCat("crash test round ", round, ": ", Sv(what)));
}

std::string Name(const std::string& tenant, const std::string& id) { return tenant + "/" + id; }

}  // namespace

absl::Status CrashModel::Apply(std::string_view line, CrashTestStats* stats) {
  std::vector<std::string> f = absl::StrSplit(Sv(line), ' ');
  auto bad = [&] { return absl::InternalError(absl::StrCat("bad writer line: ", Sv(line))); };
  if (f.empty()) return bad();
  uint64_t n = 0;
  if (f[0] == "READY") return absl::OkStatus();
  if ((f[0] == "P" && (f.size() == 4 || f.size() == 5)) || (f[0] == "D" && f.size() == 4)) {
    if (!absl::SimpleAtoi(f[3], &n) || n == 0) return bad();
    const bool deleted = f[0] == "D";
    ProfileModel& p = profiles_model_[{f[1], f[2]}];
    p.acked = std::max(p.acked, 2 * n + (deleted ? 1 : 0));
    ++p.acked_ops;
    ++(deleted ? stats->acked_deletes : stats->acked_publishes);
    if (f.size() == 5) {
      JobModel& job = jobs_[f[4]];
      job.tenant = f[1];
      job.profile_id = f[2];
      job.acked = JobModel::kSucceeded;
      job.published_version = n;
    }
    return absl::OkStatus();
  }
  if (f[0] == "J" && f.size() == 5) {
    int examples = 0;
    if (!absl::SimpleAtoi(f[4], &examples)) return bad();
    JobModel& job = jobs_[f[2]];
    job.tenant = f[1];
    job.profile_id = f[3];
    job.examples = examples;
    ++stats->acked_jobs;
    return absl::OkStatus();
  }
  if (f[0] == "F" && f.size() == 3) {
    JobModel& job = jobs_[f[2]];
    job.tenant = f[1];
    job.acked = JobModel::kFailed;
    ++stats->acked_job_failures;
    return absl::OkStatus();
  }
  return bad();
}

absl::Status CrashModel::Verify(RocksDbProfileStore& store, int round, CrashTestStats* stats) {
  absl::Status status = VerifyProfiles(store, round, stats);
  if (!status.ok()) return status;
  return VerifyJobs(store, round, stats);
}

absl::Status CrashModel::VerifyProfiles(RocksDbProfileStore& store, int round,
                                        CrashTestStats* stats) {
  uint64_t total_live = 0;
  for (int t = 0; t < tenants_; ++t) {
    const std::string tenant = cw::Tenant(t);
    std::set<std::string> live;
    for (int i = 0; i < profiles_; ++i) {
      const std::string id = cw::ProfileId(i);
      const std::string name = Name(tenant, id);
      absl::StatusOr<cw::KeyState> state = cw::ReadKeyState(store, tenant, id);
      if (!state.ok()) {
        return Violation(
            round, absl::StrCat(name, ": torn or unreadable record: ", state.status().ToString()));
      }
      const uint64_t now = state->version == 0 ? 0 : 2 * state->version + (state->live ? 0 : 1);
      ProfileModel& model = profiles_model_[{tenant, id}];
      if (now < model.acked) {
        return Violation(
            round, absl::StrCat(name, ": acknowledged state ", model.acked / 2,
                                model.acked % 2 ? " (deleted)" : "", " lost; store has version ",
                                state->version, state->live ? "" : " (deleted)"));
      }
      if (now < model.observed) {
        return Violation(round, absl::StrCat(name, ": version went backwards from ",
                                             model.observed / 2, " to ", state->version));
      }
      model.observed = now;
      stats->acked_checks += model.acked_ops;
      if (!state->live) continue;
      live.insert(id);
      absl::StatusOr<StoredProfile> stored = store.GetProfile(tenant, id);
      if (!stored.ok()) {
        return Violation(round, absl::StrCat(name, ": ", stored.status().ToString()));
      }
      const uint64_t v = stored->profile.version();
      if (v != state->version || stored->payload != cw::Payload(tenant, id, v) ||
          stored->profile.description() != cw::Description(tenant, id, v) ||
          stored->profile.bank_fingerprint() != cw::kBank ||
          stored->profile.label_names_size() != 2) {
        return Violation(round,
                         absl::StrCat(name, "@", v, ": content differs from what was written"));
      }
      ++stats->records_verified;
      const std::string& job_id = stored->profile.training_job_id();
      if (!job_id.empty()) {
        absl::StatusOr<StoredJob> job = store.GetJob(tenant, job_id);
        if (!job.ok() || job->job.state() != v1::SUCCEEDED || job->job.published_version() != v) {
          return Violation(round, absl::StrCat(name, "@", v, " was published by job ", job_id,
                                               " but the job is not SUCCEEDED with that version: ",
                                               job.ok() ? job->job.ShortDebugString()
                                                        : job.status().ToString()));
        }
      }
    }
    absl::StatusOr<uint64_t> count = store.CountProfiles(tenant);
    if (!count.ok() || *count != live.size()) {
      return Violation(
          round, absl::StrCat(tenant, ": counter says ",
                              count.ok() ? absl::StrCat(*count) : count.status().ToString(), ", ",
                              live.size(), " profiles are live"));
    }
    std::set<std::string> listed;
    PageRequest page;
    page.page_size = 9;
    do {
      absl::StatusOr<ListProfilesResult> list = store.ListProfiles(tenant, page);
      if (!list.ok() || !list->unreadable.empty()) {
        return Violation(round, absl::StrCat(tenant, ": listing failed: ",
                                             list.ok() ? list->unreadable[0].status.ToString()
                                                       : list.status().ToString()));
      }
      for (const v1::Profile& p : list->profiles) listed.insert(p.profile_id());
      page.page_token = list->next_page_token;
    } while (!page.page_token.empty());
    if (listed != live) return Violation(round, absl::StrCat(tenant, ": listing differs"));
    total_live += live.size();
  }
  if (store.TotalProfileCount() != total_live) {
    return Violation(round,
                     absl::StrCat("total count ", store.TotalProfileCount(), " != ", total_live));
  }
  return absl::OkStatus();
}

absl::Status CrashModel::VerifyJobs(RocksDbProfileStore& store, int round, CrashTestStats* stats) {
  absl::StatusOr<UnfinishedJobs> unfinished = store.ListUnfinishedJobs();
  if (!unfinished.ok() || !unfinished->unreadable.empty()) {
    return Violation(
        round, absl::StrCat("unfinished jobs: ", unfinished.ok()
                                                     ? unfinished->unreadable[0].status.ToString()
                                                     : unfinished.status().ToString()));
  }
  std::set<std::string> open;
  for (const StoredJob& job : unfinished->jobs) {
    if (IsFinalJobState(job.job.state()) ||
        job.request.examples_size() != static_cast<int>(job.job.num_examples())) {
      return Violation(round,
                       absl::StrCat("unfinished job ", job.job.job_id(), " is inconsistent"));
    }
    open.insert(job.job.job_id());
  }
  for (auto& [job_id, model] : jobs_) {
    if (model.settled && round % kSettledRecheck != 0) continue;
    absl::StatusOr<StoredJob> job = store.GetJob(model.tenant, job_id);
    if (!job.ok()) {
      return Violation(round,
                       absl::StrCat("acknowledged job ", job_id, ": ", job.status().ToString()));
    }
    const v1::TrainingJob& j = job->job;
    ++stats->jobs_verified;
    if (model.acked == JobModel::kSucceeded &&
        (j.state() != v1::SUCCEEDED || j.published_version() != model.published_version)) {
      return Violation(round,
                       absl::StrCat("job ", job_id, ": acknowledged SUCCEEDED at version ",
                                    model.published_version, ", store has ", j.ShortDebugString()));
    }
    if (model.acked == JobModel::kFailed && j.state() != v1::FAILED) {
      return Violation(round, absl::StrCat("job ", job_id, ": acknowledged FAILED, store has ",
                                           v1::JobState_Name(j.state())));
    }
    if (IsFinalJobState(j.state())) {
      if (job->request.examples_size() != 0 || open.count(job_id) != 0) {
        return Violation(round, absl::StrCat("finished job ", job_id, " kept its examples"));
      }
    } else if (open.count(job_id) == 0 ||
               (model.examples >= 0 && job->request.examples_size() != model.examples)) {
      return Violation(round, absl::StrCat("unfinished job ", job_id,
                                           " lost its examples or is not listed for re-queue"));
    }
    if (j.state() == v1::SUCCEEDED) {
      const ProfileModel& p = profiles_model_[{model.tenant, j.profile_id()}];
      if (p.observed < 2 * j.published_version()) {
        return Violation(round, absl::StrCat("job ", job_id, " SUCCEEDED with version ",
                                             j.published_version(), " but the profile is older"));
      }
    }
    model.settled = IsFinalJobState(j.state());
  }
  return absl::OkStatus();
}

}  // namespace maskserve
