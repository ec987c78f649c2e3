// File: storage/store_requests.h
//
// The argument checks every ProfileStore makes before it reads any state,
// so that the RocksDB store and the in-memory fake refuse the same requests
// with the same messages: ids of a publication, the payload bound, and the
// start of a paged listing (tenant, page size, continuation token).
//
//   MASKSERVE_ASSIGN_OR_RETURN(ListingPage page, StartListing(kProfilesListing, tenant, request));
//   // ... list ids after page.after, at most page.size of them
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_STORE_REQUESTS_H_
#define MASKSERVE_STORAGE_STORE_REQUESTS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/profile_store.h"

namespace maskserve {

// The listings page tokens belong to.
inline constexpr std::string_view kProfilesListing = "profiles";
inline constexpr std::string_view kJobsListing = "jobs";

struct ListingPage {
  uint32_t size = 0;  // EffectivePageSize of the request
  std::string after;  // the last id of the previous page; empty on the first
};

// Checks the tenant and decodes the page token (INVALID_ARGUMENT naming
// "page_token" when it belongs to another listing or tenant).
absl::StatusOr<ListingPage> StartListing(std::string_view listing, std::string_view tenant,
                                         const PageRequest& page);
// StartListing() for jobs, after checking the filter's profile id.
absl::StatusOr<ListingPage> StartJobListing(std::string_view tenant, const JobFilter& filter,
                                            const PageRequest& page);

// True when `job` passes `filter` (its profile, if set; one of its states,
// if any).
bool JobMatchesFilter(const v1::TrainingJob& job, const JobFilter& filter);

// The tenant, the profile id and, when set, the finished job's id.
absl::Status CheckPublicationIds(std::string_view tenant, std::string_view profile_id,
                                 const PublishProfileRequest& request);
// The profile's bank against the banks the store serves (empty: any):
// HEAD_ONLY and ADAPTER profiles name none (INVALID_ARGUMENT otherwise),
// others must name a served one (INVALID_ARGUMENT when missing,
// FAILED_PRECONDITION for another bank), naming "profile.bank_fingerprint".
absl::Status CheckProfileBank(const v1::Profile& profile,
                              const std::vector<std::string>& served_banks);
// INVALID_ARGUMENT naming "payload" beyond `max_bytes`.
absl::Status CheckPayloadSize(const PublishProfileRequest& request, size_t max_bytes);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_STORE_REQUESTS_H_
