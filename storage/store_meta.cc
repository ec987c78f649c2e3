#include "storage/store_meta.h"
#include "storage/absl_compat.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/record_codec.h"
#include "storage/store_keys.h"
#include "storage/time_util.h"

namespace maskserve {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::string Shown(const std::vector<std::string>& banks) {
  return absl::StrCat("[", absl::StrJoin(banks, ", "), "]");
}

}  // namespace

absl::StatusOr<storage::v1::StoreMeta> ReconcileStoreMeta(
    const std::optional<storage::v1::StoreMeta>& existing, const FingerprintRequest& request,
    absl::Time now, std::string_view data_dir, bool* changed) {
  *changed = false;
  const std::vector<std::string> banks = Sorted(request.banks);
  if (!existing.has_value()) {
    storage::v1::StoreMeta meta;
    meta.set_format_version(kMetaFormatVersion);
    meta.set_schema_version(store_keys::kSchemaVersion);
    meta.set_backbone_fingerprint(request.backbone);
    for (const std::string& bank : banks) meta.add_bank_fingerprints(bank);
    SetTimestamp(now, meta.mutable_create_time());
    *changed = true;
    return meta;
  }
  storage::v1::StoreMeta meta = *existing;
  if (meta.schema_version() == 0) {
    return absl::DataLossError(absl::StrCat("store at ", Sv(data_dir), ": schema_version missing"));
  }
  if (meta.schema_version() > store_keys::kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store at ", Sv(data_dir), " has schema_version ", meta.schema_version(),
                     ", newer than this build reads (", store_keys::kSchemaVersion,
                     "): it was written by a newer maskserve"));
  }
  const std::vector<std::string> recorded_banks(meta.bank_fingerprints().begin(),
                                                meta.bank_fingerprints().end());
  const std::string& recorded_backbone = meta.backbone_fingerprint();
  bool backbone_differs = !request.backbone.empty() && !recorded_backbone.empty() &&
                          request.backbone != recorded_backbone;
  bool banks_differ = !banks.empty() && !recorded_banks.empty() && banks != Sorted(recorded_banks);
  if ((backbone_differs || banks_differ) && !request.migrate) {
    std::string what;
    if (backbone_differs) {
      absl::StrAppend(&what, " backbone fingerprint ", recorded_backbone, " (this server loaded ",
                      request.backbone, ")");
    }
    if (banks_differ) {
      absl::StrAppend(&what, backbone_differs ? " and" : "", " bank fingerprints ",
                      Shown(recorded_banks), " (this server loaded ", Shown(banks), ")");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "store at ", Sv(data_dir), " was written for", what,
        "; its profiles cannot be served with another backbone or bank. Load the matching "
        "backbone/bank, or migrate explicitly (migrate_fingerprints) to adopt the new ones"));
  }
  if (backbone_differs || banks_differ) {
    storage::v1::FingerprintMigration* m = meta.add_migrations();
    m->set_from_backbone_fingerprint(recorded_backbone);
    for (const std::string& b : recorded_banks) m->add_from_bank_fingerprints(b);
    m->set_to_backbone_fingerprint(request.backbone.empty() ? recorded_backbone : request.backbone);
    for (const std::string& b : banks.empty() ? recorded_banks : banks) {
      m->add_to_bank_fingerprints(b);
    }
    SetTimestamp(now, m->mutable_time());
  }
  if (!request.backbone.empty() && request.backbone != recorded_backbone) {
    meta.set_backbone_fingerprint(request.backbone);
    *changed = true;
  }
  if (!banks.empty() && banks != Sorted(recorded_banks)) {
    meta.clear_bank_fingerprints();
    for (const std::string& bank : banks) meta.add_bank_fingerprints(bank);
    *changed = true;
  }
  return meta;
}

}  // namespace maskserve
