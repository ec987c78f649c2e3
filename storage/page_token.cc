#include "storage/page_token.h"
#include "storage/absl_compat.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/record_codec.h"

namespace maskserve {

std::string EncodePageToken(std::string_view listing, std::string_view tenant,
                            std::string_view last_id) {
  std::string body;
  body.append(listing).push_back('\0');
  body.append(tenant).push_back('\0');
  body.append(last_id);
  std::string token;
  absl::WebSafeBase64Escape(FrameBytes(kPageTokenTag, body), &token);
  return token;
}

absl::StatusOr<std::string> DecodePageToken(std::string_view listing, std::string_view tenant,
                                            std::string_view token) {
  constexpr size_t kMaxTokenLength = 1024;
  std::string framed;
  if (token.size() > kMaxTokenLength || !absl::WebSafeBase64Unescape(Sv(token), &framed)) {
    return absl::InvalidArgumentError("page_token: malformed (pass back next_page_token as is)");
  }
  absl::StatusOr<std::string_view> body = UnframeBytes(kPageTokenTag, framed);
  if (!body.ok()) {
    return absl::InvalidArgumentError("page_token: corrupted (pass back next_page_token as is)");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(Sv(*body), absl::MaxSplits('\0', 2));
  if (parts.size() != 3 || parts[0] != Sv(listing)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: not a token of this listing (", Sv(listing), ")"));
  }
  if (parts[1] != Sv(tenant)) {
    return absl::InvalidArgumentError("page_token: issued to another tenant");
  }
  return std::string(parts[2]);
}

}  // namespace maskserve
