// File: core/profile/shared_head_choice.h
//
// The rule for training a profile on a shared head, in one place for the
// server (core/peft/serving_banks.h) and the in-memory fake server
// (clients/testing/): the name is well formed, a head of that name is
// loaded, the method trains more than a head (not HEAD_ONLY), and the
// profile's labels are the head's, in order, or left empty (then the
// head's are taken). Errors are InvalidArgument naming "shared_head" or
// "label_names".
//
// Thread safety: a pure function.
#ifndef MASKSERVE_CORE_PROFILE_SHARED_HEAD_CHOICE_H_
#define MASKSERVE_CORE_PROFILE_SHARED_HEAD_CHOICE_H_

#include <string>
#include <vector>

#include "core/profile/profile_data.h"

namespace maskserve {

// `head_labels`: the labels of the loaded head called `name`, or null when
// none is; `loaded` names the loaded heads (for the message).
void CheckSharedHeadChoice(const std::string& name, Method method,
                           const std::vector<std::string>* head_labels,
                           const std::vector<std::string>& labels,
                           const std::vector<std::string>& loaded);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PROFILE_SHARED_HEAD_CHOICE_H_
