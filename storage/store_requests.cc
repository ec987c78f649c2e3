#include "storage/store_requests.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/ids.h"
#include "storage/job_id.h"
#include "storage/page_token.h"
#include "storage/status_macros.h"

namespace maskserve {

absl::StatusOr<ListingPage> StartListing(std::string_view listing, std::string_view tenant,
                                         const PageRequest& page) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  ListingPage start;
  start.size = EffectivePageSize(page.page_size);
  if (!page.page_token.empty()) {
    MASKSERVE_ASSIGN_OR_RETURN(start.after, DecodePageToken(listing, tenant, page.page_token));
  }
  return start;
}

absl::StatusOr<ListingPage> StartJobListing(std::string_view tenant, const JobFilter& filter,
                                            const PageRequest& page) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  if (!filter.profile_id.empty()) MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(filter.profile_id));
  return StartListing(kJobsListing, tenant, page);
}

absl::Status CheckPublicationIds(std::string_view tenant, std::string_view profile_id,
                                 const PublishProfileRequest& request) {
  MASKSERVE_RETURN_IF_ERROR(ValidateTenant(tenant));
  MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(profile_id));
  if (request.finished_job.has_value()) {
    MASKSERVE_RETURN_IF_ERROR(ValidateJobId(request.finished_job->job_id()));
  }
  return absl::OkStatus();
}

bool JobMatchesFilter(const v1::TrainingJob& job, const JobFilter& filter) {
  if (!filter.profile_id.empty() && job.profile_id() != filter.profile_id) return false;
  if (filter.states.empty()) return true;
  return std::find(filter.states.begin(), filter.states.end(), job.state()) != filter.states.end();
}

absl::Status CheckProfileBank(const v1::Profile& profile,
                              const std::vector<std::string>& served_banks) {
  if (served_banks.empty()) return absl::OkStatus();
  // HEAD_ONLY and ADAPTER profiles select nothing from a bank.
  if (profile.method() == v1::HEAD_ONLY || profile.method() == v1::ADAPTER) {
    if (profile.bank_fingerprint().empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("profile.bank_fingerprint: must be empty for ",
                                                   v1::Method_Name(profile.method())));
  }
  const std::string shown = absl::StrCat("[", absl::StrJoin(served_banks, ", "), "]");
  if (profile.bank_fingerprint().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("profile.bank_fingerprint: required; this store serves banks ", shown));
  }
  for (const std::string& bank : served_banks) {
    if (bank == profile.bank_fingerprint()) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "profile.bank_fingerprint: ", absl::CHexEscape(profile.bank_fingerprint().substr(0, 128)),
      " is not a bank this store serves ", shown,
      "; a profile is only served with the bank it was trained against"));
}

absl::Status CheckPayloadSize(const PublishProfileRequest& request, size_t max_bytes) {
  if (request.payload.size() <= max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("payload: ", request.payload.size(),
                                                 " bytes, more than the ", max_bytes, " allowed"));
}

}  // namespace maskserve
