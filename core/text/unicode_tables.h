// File: core/text/unicode_tables.h
//
// Unicode data for the WordPiece tokenizer, dumped from Python's `unicodedata`
// and `str.lower()` by scripts/gen_unicode_tables.py into
// core/text/unicode_tables.cc (generated; do not edit by hand). The tokenizer must
// reproduce HuggingFace's Python BertTokenizer, whose normalisation is defined
// by exactly that Python data, so the tables carry Python's Unicode version
// (see kUnicodeVersion).
//
// Layout (all tables sorted by codepoint):
//   * class flags: run-length ranges; range i covers
//     [kClassRangeStart[i], kClassRangeStart[i + 1]) with kClassRangeFlags[i];
//   * lowercase: runs {start, count, stride, delta}: for k < count,
//     lower(start + k * stride) = start + k * stride + delta; codepoints whose
//     lowercase is several codepoints are in kLowerMulti;
//   * NFD: full canonical decomposition of kNfdCodepoints[i] is
//     kNfdPool[kNfdOffsets[i] .. + kNfdLengths[i]); Hangul syllables are not
//     listed (decompose them algorithmically);
//   * canonical combining class: inclusive ranges with a non-zero class;
//   * composition: kCompositionKeys[i] = first << 21 | second composes to
//     kCompositionValues[i] (primary composites only, Hangul excluded).
//
// Use the lookup helpers in core/text/wordpiece_tokenizer.cc rather than these raw
// arrays. Thread safety: constant data.
#ifndef MASKSERVE_CORE_TEXT_UNICODE_TABLES_H_
#define MASKSERVE_CORE_TEXT_UNICODE_TABLES_H_

#include <cstddef>
#include <cstdint>

namespace maskserve {
namespace unicode {

// Per-codepoint class flags (bit values match scripts/gen_unicode_tables.py).
enum CharFlag : uint8_t {
  // Removed by BasicTokenizer._clean_text: U+0000, U+FFFD and every category
  // C* codepoint (Cc, Cf, Cn, Co, Cs) except \t \n \r.
  kFlagControl = 1 << 0,
  // BasicTokenizer._is_whitespace: ' ', \t, \n, \r or category Zs.
  kFlagWhitespace = 1 << 1,
  // Python str.isspace(): what str.split() separates on.
  kFlagSplitSpace = 1 << 2,
  // BasicTokenizer._is_punctuation: ASCII 33-47, 58-64, 91-96, 123-126 or
  // category P*.
  kFlagPunct = 1 << 3,
  // Category Mn (dropped after NFD when stripping accents).
  kFlagMn = 1 << 4,
  // chr(cp).lower() != chr(cp).
  kFlagLower = 1 << 5,
  // NFD(chr(cp)) != chr(cp).
  kFlagNfd = 1 << 6,
  // NFC may change a string containing cp (cp is not NFC-stable, has a
  // non-zero combining class, or can be the second element of a composition).
  kFlagNfcUnsafe = 1 << 7,
};

struct LowerRun {
  uint32_t start;
  uint16_t count;
  uint8_t stride;
  int32_t delta;
};

struct LowerMulti {
  uint32_t codepoint;
  uint32_t lower[3];
  uint8_t length;
};

struct CccRange {
  uint32_t first;
  uint32_t last;  // inclusive
  uint8_t ccc;
};

extern const char kUnicodeVersion[];

extern const uint32_t kClassRangeStart[];
extern const uint8_t kClassRangeFlags[];
extern const size_t kClassRangeCount;

extern const LowerRun kLowerRuns[];
extern const size_t kLowerRunCount;
extern const LowerMulti kLowerMulti[];
extern const size_t kLowerMultiCount;

extern const uint32_t kNfdCodepoints[];
extern const uint16_t kNfdOffsets[];
extern const uint8_t kNfdLengths[];
extern const size_t kNfdCount;
extern const uint32_t kNfdPool[];
extern const size_t kNfdPoolSize;

extern const CccRange kCccRanges[];
extern const size_t kCccRangeCount;

extern const uint64_t kCompositionKeys[];
extern const uint32_t kCompositionValues[];
extern const size_t kCompositionCount;

}  // namespace unicode
}  // namespace maskserve

#endif  // MASKSERVE_CORE_TEXT_UNICODE_TABLES_H_
