// libFuzzer target: hostile safetensors files must be rejected with an
// EngineError, and every entry of an accepted header must lie inside the
// file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/error.h"
#include "core/io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  try {
    maskserve::SafetensorsHeader header = maskserve::ParseSafetensorsHeader(file, "fuzz");
    for (const maskserve::SafetensorsEntry& e : header.entries) {
      if (e.begin > e.end || header.data_begin + e.end > size) std::abort();
    }
  } catch (const maskserve::EngineError&) {
  }
  return 0;
}
