#include "server/metrics/registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace maskserve {
namespace metrics {
namespace {

// The sample names a family puts into the exposition.
std::vector<std::string> ExposedNames(const FamilyBase& family) {
  if (family.type() == MetricType::kHistogram) {
    return {family.name(), family.name() + "_bucket", family.name() + "_sum",
            family.name() + "_count"};
  }
  return {family.name()};
}

bool SameOwner(const std::weak_ptr<Collectable>& a, const std::weak_ptr<Collectable>& b) {
  return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

absl::StatusOr<FamilyBase*> Registry::Insert(std::unique_ptr<FamilyBase> candidate) {
  absl::MutexLock lock(&mu_);
  const std::vector<std::string> candidate_names = ExposedNames(*candidate);
  for (const std::unique_ptr<FamilyBase>& family : families_) {
    if (family->name() == candidate->name()) {
      if (family->type() == candidate->type() && family->help() == candidate->help() &&
          family->constant_labels() == candidate->constant_labels()) {
        return family.get();
      }
      return absl::AlreadyExistsError(
          absl::StrCat("metric '", candidate->name(),
                       "' is already registered with another type, help or labels"));
    }
    for (const std::string& exposed : ExposedNames(*family)) {
      if (std::find(candidate_names.begin(), candidate_names.end(), exposed) !=
          candidate_names.end()) {
        return absl::AlreadyExistsError(absl::StrCat("metric '", candidate->name(),
                                                     "' collides with '", family->name(),
                                                     "' on the exposed name '", exposed, "'"));
      }
    }
  }
  families_.push_back(std::move(candidate));
  return families_.back().get();
}

bool Registry::RemoveFamily(const FamilyBase& family) {
  absl::MutexLock lock(&mu_);
  for (auto it = families_.begin(); it != families_.end(); ++it) {
    if (it->get() == &family) {
      families_.erase(it);
      return true;
    }
  }
  return false;
}

void Registry::RegisterCollectable(const std::weak_ptr<Collectable>& collectable) {
  absl::MutexLock lock(&mu_);
  for (const std::weak_ptr<Collectable>& existing : collectables_) {
    if (SameOwner(existing, collectable)) return;
  }
  collectables_.push_back(collectable);
}

bool Registry::RemoveCollectable(const std::weak_ptr<Collectable>& collectable) {
  absl::MutexLock lock(&mu_);
  for (auto it = collectables_.begin(); it != collectables_.end(); ++it) {
    if (SameOwner(*it, collectable)) {
      collectables_.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<MetricFamily> Registry::Collect() const {
  std::vector<MetricFamily> families;
  std::vector<std::weak_ptr<Collectable>> collectables;
  {
    absl::MutexLock lock(&mu_);
    families.reserve(families_.size());
    for (const std::unique_ptr<FamilyBase>& family : families_) {
      families.push_back(family->Collect());
    }
    collectables_.erase(
        std::remove_if(collectables_.begin(), collectables_.end(),
                       [](const std::weak_ptr<Collectable>& c) { return c.expired(); }),
        collectables_.end());
    collectables = collectables_;
  }
  for (const std::weak_ptr<Collectable>& weak : collectables) {
    if (std::shared_ptr<Collectable> collectable = weak.lock()) {
      for (MetricFamily& family : collectable->Collect()) {
        families.push_back(std::move(family));
      }
    }
  }
  return MergeFamilies(std::move(families));
}

}  // namespace metrics
}  // namespace maskserve
