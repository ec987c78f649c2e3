#include "storage/record_codec.h"
#include "storage/absl_compat.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "storage/crc32c.h"

namespace maskserve {
namespace {

void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

std::string FrameBytes(std::string_view tag, std::string_view body) {
  std::string out;
  out.reserve(tag.size() + body.size() + 4);
  out.append(tag);
  out.append(body);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out)));
  return out;
}

absl::StatusOr<std::string_view> UnframeBytes(std::string_view tag, std::string_view framed) {
  if (framed.size() < FrameOverhead(tag)) {
    return absl::DataLossError(absl::StrCat(
        "truncated: ", framed.size(), " bytes, a record takes at least ", FrameOverhead(tag)));
  }
  std::string_view covered = framed.substr(0, framed.size() - 4);
  uint32_t stored = crc32c::Unmask(GetFixed32(framed.data() + covered.size()));
  uint32_t actual = crc32c::Value(covered);
  if (stored != actual) {
    return absl::DataLossError(
        absl::StrCat("checksum mismatch (stored crc32c ", absl::Hex(stored, absl::kZeroPad8),
                     ", computed ", absl::Hex(actual, absl::kZeroPad8), " over ", covered.size(),
                     " bytes): the value is corrupted or truncated"));
  }
  if (covered.substr(0, tag.size()) != tag) {
    return absl::DataLossError(absl::StrCat("unexpected record tag \"",
                                            absl::CHexEscape(Sv(covered.substr(0, tag.size()))),
                                            "\" (expected \"", Sv(tag), "\")"));
  }
  return covered.substr(tag.size());
}

std::string EncodeCounter(uint64_t value) {
  char body[8];
  for (int i = 0; i < 8; ++i) body[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return FrameBytes(kCounterTag, std::string_view(body, 8));
}

absl::StatusOr<uint64_t> DecodeCounter(std::string_view framed) {
  absl::StatusOr<std::string_view> body = UnframeBytes(kCounterTag, framed);
  if (!body.ok()) return body.status();
  if (body->size() != 8) {
    return absl::DataLossError(absl::StrCat("counter has ", body->size(), " bytes, not 8"));
  }
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>((*body)[i]);
  return v;
}

}  // namespace maskserve
