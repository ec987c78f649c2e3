// libFuzzer target: DecodeProfile must reject hostile bytes with an
// EngineError, and whatever it accepts must re-encode to a decodable profile.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/error.h"
#include "core/profile/profile_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    maskserve::ProfileData profile = maskserve::DecodeProfile(bytes);
    maskserve::DecodeProfile(maskserve::EncodeProfile(profile));
  } catch (const maskserve::EngineError&) {
  }
  return 0;
}
