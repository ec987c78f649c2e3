// File: clients/common/json_text.h
//
// The one JSON-writing helper the C++ clients need beyond protobuf's own
// MessageToJsonString: quoting a string as a JSON string literal, for the
// small hand-built summaries (load generator report, maskctl export).
//
// Thread safety: pure function.
#ifndef MASKSERVE_CLIENTS_COMMON_JSON_TEXT_H_
#define MASKSERVE_CLIENTS_COMMON_JSON_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace maskserve {
namespace client {

// `text` as a JSON string literal with its quotes: '"', '\\' and control
// characters are escaped; other bytes (UTF-8) are copied as they are.
std::string JsonQuote(absl::string_view text);

}  // namespace client
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_COMMON_JSON_TEXT_H_
