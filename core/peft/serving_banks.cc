#include "core/peft/serving_banks.h"

#include "core/base/error.h"
#include "core/model/adapter.h"
#include "core/profile/shared_head_choice.h"

namespace maskserve {

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

int64_t ServingBanks::AdapterBottleneck(int64_t hidden_size) const {
  if (adapters != nullptr) return adapters->config().bottleneck;
  if (prototype != nullptr) return prototype->config().bottleneck;
  return DefaultBottleneck(hidden_size);
}

const SharedHead* ServingBanks::ResolveSharedHead(const std::string& name, Method method,
                                                  const std::vector<std::string>& labels) const {
  if (name.empty()) return nullptr;
  const SharedHead* head =
      heads != nullptr && IsValidSharedHeadName(name) ? heads->Find(name) : nullptr;
  std::vector<std::string> loaded;
  if (heads != nullptr) {
    for (const SharedHead& h : heads->heads()) loaded.push_back(h.name);
  }
  CheckSharedHeadChoice(name, method, head != nullptr ? &head->labels : nullptr, labels, loaded);
  return head;
}

}  // namespace maskserve
