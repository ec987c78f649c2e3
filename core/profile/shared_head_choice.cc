#include "core/profile/shared_head_choice.h"

#include "core/base/error.h"

namespace maskserve {

namespace {

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

void CheckSharedHeadChoice(const std::string& name, Method method,
                           const std::vector<std::string>* head_labels,
                           const std::vector<std::string>& labels,
                           const std::vector<std::string>& loaded) {
  ValidateSharedHeadName(name, "shared_head");
  if (method == Method::kHeadOnly) {
    throw InvalidArgument(
        "shared_head: HEAD_ONLY trains only a head, so it cannot use a shared one");
  }
  if (head_labels == nullptr) {
    throw InvalidArgument(
        "shared_head: no shared head '" + name + "' is loaded (" +
        (loaded.empty() ? std::string("this server has none") : "loaded: " + Joined(loaded)) + ")");
  }
  if (!labels.empty() && labels != *head_labels) {
    throw InvalidArgument("label_names: must equal the labels of shared head '" + name +
                          "' in order (" + Joined(*head_labels) + ") or be left empty");
  }
}

}  // namespace maskserve
