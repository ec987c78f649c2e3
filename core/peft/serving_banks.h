// File: core/peft/serving_banks.h
//
// The shared parameters a server (or trainer) has loaded beside the
// backbone: the X-PEFT adapter bank, the ProPETL prototype and the shared
// heads; any may be null. The rules about what a method needs from them
// live here and nowhere else:
//
//   const AdapterBank& bank = banks.RequireAdapters(method);   // or throws
//   const SharedHead* head = banks.ResolveSharedHead(name, method, labels);
//
// Errors name the request field they come from ("method: ...",
// "shared_head: ...", "label_names: ...").
//
// Thread safety: immutable once built; the banks are shared, read-only.
#ifndef MASKSERVE_CORE_PEFT_SERVING_BANKS_H_
#define MASKSERVE_CORE_PEFT_SERVING_BANKS_H_

#include <memory>
#include <string>
#include <vector>

#include "core/peft/adapter_bank.h"
#include "core/peft/prototype_bank.h"
#include "core/peft/shared_heads.h"
#include "core/profile/profile_data.h"

namespace maskserve {

struct ServingBanks {
  std::shared_ptr<const AdapterBank> adapters;     // X-PEFT
  std::shared_ptr<const PrototypeBank> prototype;  // ProPETL
  std::shared_ptr<const SharedHeadSet> heads;      // shared heads

  // The adapter bank an X-PEFT `method` selects from; FailedPrecondition
  // ("method: ... needs an X-PEFT adapter bank; none is loaded") without one.
  const AdapterBank& RequireAdapters(Method method) const;
  // The prototype a ProPETL `method` masks; FailedPrecondition without one.
  const PrototypeBank& RequirePrototype(Method method) const;
  // Checks that an X-PEFT or ProPETL `method` has its bank (no-op for the
  // other methods).
  void RequireBankFor(Method method) const;
  // The bottleneck b of ADAPTER profiles on a backbone of `hidden_size`:
  // the adapter bank's, else the prototype's, else DefaultBottleneck(). A
  // server trains and serves ADAPTER profiles of this b only.
  int64_t AdapterBottleneck(int64_t hidden_size) const;

  // The loaded shared head `name` for a profile of `method` with `labels`,
  // or null when `name` is empty. InvalidArgument naming "shared_head" (bad
  // name, not loaded, HEAD_ONLY cannot use one) or "label_names" (labels
  // other than the head's, in order). Empty `labels` are accepted: the
  // caller takes the head's.
  const SharedHead* ResolveSharedHead(const std::string& name, Method method,
                                      const std::vector<std::string>& labels) const;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_SERVING_BANKS_H_
