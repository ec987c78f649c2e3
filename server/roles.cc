#include "server/roles.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace maskserve {

absl::StatusOr<ServerRoles> ParseRoles(const std::string& roles) {
  ServerRoles parsed{false, false};
  const std::vector<std::string> parts = absl::StrSplit(roles, ',');
  for (const std::string& raw : parts) {
    const std::string role(absl::StripAsciiWhitespace(raw));
    if (role == "serve") {
      parsed.serve = true;
    } else if (role == "train") {
      parsed.train = true;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("roles: \"", absl::CHexEscape(role),
                       "\" is not a role; give serve, train or serve,train (the default: both)"));
    }
  }
  return parsed;
}

std::string RolesName(const ServerRoles& roles) {
  if (roles.serve && roles.train) return "serve,train";
  return roles.serve ? "serve" : "train";
}

}  // namespace maskserve
