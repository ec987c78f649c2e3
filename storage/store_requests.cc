#include "storage/store_requests.h"

#include "absl/strings/str_cat.h"
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

absl::Status CheckPayloadSize(const PublishProfileRequest& request, size_t max_bytes) {
  if (request.payload.size() <= max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("payload: ", request.payload.size(),
                                                 " bytes, more than the ", max_bytes, " allowed"));
}

}  // namespace maskserve
