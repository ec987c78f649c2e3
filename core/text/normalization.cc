#include "core/text/normalization.h"

#include <algorithm>
#include <cstddef>

#include "core/text/unicode_tables.h"

namespace maskserve {

namespace {

using unicode::kFlagLower;
using unicode::kFlagNfd;

constexpr char32_t kHangulSBase = 0xAC00;
constexpr char32_t kHangulLBase = 0x1100;
constexpr char32_t kHangulVBase = 0x1161;
constexpr char32_t kHangulTBase = 0x11A7;
constexpr uint32_t kHangulLCount = 19;
constexpr uint32_t kHangulVCount = 21;
constexpr uint32_t kHangulTCount = 28;
constexpr uint32_t kHangulNCount = kHangulVCount * kHangulTCount;
constexpr uint32_t kHangulSCount = kHangulLCount * kHangulNCount;

uint8_t CombiningClass(char32_t cp) {
  if (cp < 0x300) return 0;
  const unicode::CccRange* begin = unicode::kCccRanges;
  const unicode::CccRange* end = begin + unicode::kCccRangeCount;
  const unicode::CccRange* it =
      std::upper_bound(begin, end, static_cast<uint32_t>(cp),
                       [](uint32_t v, const unicode::CccRange& r) { return v < r.first; });
  if (it == begin) return 0;
  const unicode::CccRange& r = *(it - 1);
  return cp <= r.last ? r.ccc : 0;
}

// Primary composite of (a, b), or 0.
char32_t Compose(char32_t a, char32_t b) {
  if (a >= kHangulLBase && a < kHangulLBase + kHangulLCount && b >= kHangulVBase &&
      b < kHangulVBase + kHangulVCount) {
    return kHangulSBase + ((a - kHangulLBase) * kHangulVCount + (b - kHangulVBase)) * kHangulTCount;
  }
  if (a >= kHangulSBase && a < kHangulSBase + kHangulSCount &&
      (a - kHangulSBase) % kHangulTCount == 0 && b > kHangulTBase &&
      b < kHangulTBase + kHangulTCount) {
    return a + (b - kHangulTBase);
  }
  uint64_t key = (static_cast<uint64_t>(a) << 21) | b;
  const uint64_t* begin = unicode::kCompositionKeys;
  const uint64_t* end = begin + unicode::kCompositionCount;
  const uint64_t* it = std::lower_bound(begin, end, key);
  if (it == end || *it != key) return 0;
  return unicode::kCompositionValues[it - begin];
}

}  // namespace

void CanonicalReorder(std::vector<char32_t>* v) {
  char32_t* d = v->data();
  const size_t n = v->size();
  for (size_t i = 1; i < n; ++i) {
    uint8_t c = CombiningClass(d[i]);
    if (c == 0) continue;
    size_t j = i;
    while (j > 0) {
      uint8_t prev = CombiningClass(d[j - 1]);
      if (prev <= c) break;  // also stops at a starter (class 0)
      std::swap(d[j - 1], d[j]);
      --j;
    }
  }
}

// Flags for the whole BMP, expanded once from the range table (64 KiB);
// supplementary planes binary-search the ranges.
const uint8_t* BmpFlags() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(0x10000);
    for (size_t i = 0; i < unicode::kClassRangeCount; ++i) {
      uint32_t start = unicode::kClassRangeStart[i];
      if (start >= 0x10000) break;
      uint32_t end = i + 1 < unicode::kClassRangeCount
                         ? std::min<uint32_t>(unicode::kClassRangeStart[i + 1], 0x10000)
                         : 0x10000;
      std::fill(t.begin() + start, t.begin() + end, unicode::kClassRangeFlags[i]);
    }
    return t;
  }();
  return table.data();
}

uint8_t FlagsSlow(char32_t cp) {
  const uint32_t* begin = unicode::kClassRangeStart;
  const uint32_t* end = begin + unicode::kClassRangeCount;
  const uint32_t* it = std::upper_bound(begin, end, static_cast<uint32_t>(cp));
  return unicode::kClassRangeFlags[(it - begin) - 1];
}

void AppendLower(char32_t cp, uint8_t flags, std::vector<char32_t>* out) {
  if (!(flags & kFlagLower)) {
    out->push_back(cp);
    return;
  }
  if (cp < 0x80) {
    out->push_back(cp + ('a' - 'A'));
    return;
  }
  for (size_t i = 0; i < unicode::kLowerMultiCount; ++i) {
    const unicode::LowerMulti& m = unicode::kLowerMulti[i];
    if (m.codepoint == cp) {
      out->insert(out->end(), m.lower, m.lower + m.length);
      return;
    }
  }
  const unicode::LowerRun* begin = unicode::kLowerRuns;
  const unicode::LowerRun* end = begin + unicode::kLowerRunCount;
  const unicode::LowerRun* it =
      std::upper_bound(begin, end, static_cast<uint32_t>(cp),
                       [](uint32_t v, const unicode::LowerRun& r) { return v < r.start; });
  if (it != begin) {
    const unicode::LowerRun& r = *(it - 1);
    uint32_t d = static_cast<uint32_t>(cp) - r.start;
    if (d % r.stride == 0 && d / r.stride < r.count) {
      out->push_back(static_cast<char32_t>(static_cast<int64_t>(cp) + r.delta));
      return;
    }
  }
  out->push_back(cp);  // unreachable with consistent tables
}

void AppendNfd(char32_t cp, uint8_t flags, std::vector<char32_t>* out) {
  if (!(flags & kFlagNfd)) {
    out->push_back(cp);
    return;
  }
  if (cp >= kHangulSBase && cp < kHangulSBase + kHangulSCount) {
    uint32_t s = cp - kHangulSBase;
    out->push_back(kHangulLBase + s / kHangulNCount);
    out->push_back(kHangulVBase + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount != 0) out->push_back(kHangulTBase + s % kHangulTCount);
    return;
  }
  const uint32_t* begin = unicode::kNfdCodepoints;
  const uint32_t* end = begin + unicode::kNfdCount;
  const uint32_t* it = std::lower_bound(begin, end, static_cast<uint32_t>(cp));
  if (it == end || *it != cp) {
    out->push_back(cp);  // unreachable with consistent tables
    return;
  }
  size_t i = it - begin;
  const uint32_t* d = unicode::kNfdPool + unicode::kNfdOffsets[i];
  out->insert(out->end(), d, d + unicode::kNfdLengths[i]);
}

void Nfc(const std::vector<char32_t>& in, const uint8_t* bmp, std::vector<char32_t>* out) {
  out->clear();
  for (char32_t cp : in) AppendNfd(cp, CharFlags(bmp, cp), out);
  CanonicalReorder(out);
  char32_t* d = out->data();
  const size_t n = out->size();
  size_t len = 0;
  ptrdiff_t starter = -1;
  int last_class = 0;
  for (size_t i = 0; i < n; ++i) {
    char32_t c = d[i];
    int cc = CombiningClass(c);
    if (starter >= 0) {
      bool adjacent = static_cast<ptrdiff_t>(len) == starter + 1;
      if (adjacent || (last_class != 0 && last_class < cc)) {
        char32_t composite = Compose(d[starter], c);
        if (composite != 0) {
          d[starter] = composite;
          continue;
        }
      }
    }
    if (cc == 0) {
      starter = static_cast<ptrdiff_t>(len);
      last_class = 0;
    } else {
      last_class = cc;
    }
    d[len++] = c;
  }
  out->resize(len);
}

}  // namespace maskserve
