#include "core/profile/profile_data.h"

#include "core/base/error.h"

namespace maskserve {

const char* MethodName(Method method) {
  switch (method) {
    case Method::kXpeftHard:
      return "XPEFT_HARD";
    case Method::kXpeftSoft:
      return "XPEFT_SOFT";
    case Method::kPropetlLayer:
      return "PROPETL_LAYER";
    case Method::kPropetlHybrid:
      return "PROPETL_HYBRID";
    case Method::kHeadOnly:
      return "HEAD_ONLY";
    case Method::kAdapter:
      return "ADAPTER";
    case Method::kUnspecified:
      break;
  }
  return "METHOD_UNSPECIFIED";
}

bool IsXpeft(Method method) { return method == Method::kXpeftHard || method == Method::kXpeftSoft; }

bool IsPropetl(Method method) {
  return method == Method::kPropetlLayer || method == Method::kPropetlHybrid;
}

bool IsValidSharedHeadName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

void ValidateSharedHeadName(const std::string& name, const std::string& field) {
  if (!IsValidSharedHeadName(name)) {
    throw InvalidArgument(field + ": must be 1-64 of [A-Za-z0-9_.-], got '" + name + "'");
  }
}

}  // namespace maskserve
