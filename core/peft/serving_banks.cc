#include "core/peft/serving_banks.h"

#include "core/base/error.h"

namespace maskserve {

namespace {

std::string LoadedHeadNames(const SharedHeadSet* heads) {
  if (heads == nullptr || heads->heads().empty()) return "this server has none";
  std::string names;
  for (const SharedHead& head : heads->heads()) {
    names += (names.empty() ? "" : ", ") + head.name;
  }
  return "loaded: " + names;
}

std::string Joined(const std::vector<std::string>& labels) {
  std::string out;
  for (const std::string& label : labels) out += (out.empty() ? "" : ", ") + label;
  return out;
}

}  // namespace

const AdapterBank& ServingBanks::RequireAdapters(Method method) const {
  if (adapters == nullptr) {
    throw FailedPrecondition(std::string("method: ") + MethodName(method) +
                             " needs an X-PEFT adapter bank; none is loaded");
  }
  return *adapters;
}

const PrototypeBank& ServingBanks::RequirePrototype(Method method) const {
  if (prototype == nullptr) {
    throw FailedPrecondition(std::string("method: ") + MethodName(method) +
                             " needs a ProPETL prototype; none is loaded");
  }
  return *prototype;
}

void ServingBanks::RequireBankFor(Method method) const {
  if (IsXpeft(method)) RequireAdapters(method);
  if (IsPropetl(method)) RequirePrototype(method);
}

const SharedHead* ServingBanks::ResolveSharedHead(const std::string& name, Method method,
                                                  const std::vector<std::string>& labels) const {
  if (name.empty()) return nullptr;
  ValidateSharedHeadName(name, "shared_head");
  if (method == Method::kHeadOnly) {
    throw InvalidArgument(
        "shared_head: HEAD_ONLY trains only a head, so it cannot use a shared one");
  }
  const SharedHead* head = heads != nullptr ? heads->Find(name) : nullptr;
  if (head == nullptr) {
    throw InvalidArgument("shared_head: no shared head '" + name + "' is loaded (" +
                          LoadedHeadNames(heads.get()) + ")");
  }
  if (!labels.empty() && labels != head->labels) {
    throw InvalidArgument("label_names: must equal the labels of shared head '" + name +
                          "' in order (" + Joined(head->labels) + ") or be left empty");
  }
  return head;
}

}  // namespace maskserve
