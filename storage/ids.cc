#include "storage/ids.h"
#include "storage/absl_compat.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace maskserve {
namespace {

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '@' || c == '-';
}

// A printable, bounded copy of untrusted input for error messages.
std::string Shown(std::string_view id) {
  constexpr size_t kShown = 48;
  std::string shown = absl::CHexEscape(Sv(id.substr(0, kShown)));
  if (id.size() > kShown) absl::StrAppend(&shown, "...");
  return absl::StrCat("\"", shown, "\"");
}

}  // namespace

absl::Status ValidateId(std::string_view field, std::string_view id) {
  constexpr char kRule[] = ": must be 1..128 characters of [A-Za-z0-9._:@-] not starting with '.'";
  if (id.empty())
    return absl::InvalidArgumentError(absl::StrCat(Sv(field), kRule, "; it is empty"));
  if (id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(field), kRule, "; it has ", id.size(), " characters"));
  }
  if (id.front() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(field), kRule, "; ", Shown(id), " starts with '.'"));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsIdChar(id[i])) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(field), kRule, "; ", Shown(id), " has '",
                                                     absl::CHexEscape(Sv(id.substr(i, 1))),
                                                     "' at offset ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace maskserve
