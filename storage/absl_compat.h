// File: storage/absl_compat.h
//
// Debian 12's Abseil is built with its own absl::string_view (not an alias
// of std::string_view), so std::string_view does not convert to it
// implicitly. storage/ uses std::string_view in its interfaces and converts
// with Sv() where an Abseil function (StrCat, CHexEscape, ...) needs one.
//
//   absl::StrCat("profile ", Sv(profile_id), " not found");
//
// Thread safety: pure functions.
#ifndef MASKSERVE_STORAGE_ABSL_COMPAT_H_
#define MASKSERVE_STORAGE_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace maskserve {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_ABSL_COMPAT_H_
