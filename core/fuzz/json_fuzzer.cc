// libFuzzer target: the JSON parser must accept or reject any bytes with an
// EngineError, and whatever it accepts must serialise and re-parse to the
// same document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/error.h"
#include "core/base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    maskserve::JsonValue value = maskserve::JsonValue::Parse(text, "fuzz");
    const std::string once = value.Serialize();
    const std::string twice = maskserve::JsonValue::Parse(once, "reparse").Serialize();
    if (once != twice) std::abort();
  } catch (const maskserve::EngineError&) {
  }
  return 0;
}
