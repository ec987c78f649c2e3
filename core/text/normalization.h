// File: core/text/normalization.h
//
// The character-level steps of BERT's BasicTokenizer, exact to Python's
// Unicode 15 behaviour, over the generated tables (core/text/unicode_tables.h):
// character classes (whitespace, control, punctuation, lower-case, NFD),
// CJK detection, Python's str.lower() and NFD/NFC normalisation.
//
//   const uint8_t* bmp = BmpFlags();
//   uint8_t flags = CharFlags(bmp, cp);   // unicode::kFlag* bits
//   AppendLower(cp, flags, &out);
//
// Thread safety: pure functions (BmpFlags builds its table once).
#ifndef MASKSERVE_CORE_TEXT_NORMALIZATION_H_
#define MASKSERVE_CORE_TEXT_NORMALIZATION_H_

#include <cstdint>
#include <vector>

namespace maskserve {

// Class flags for the whole BMP, expanded once from the range table (64 KiB).
const uint8_t* BmpFlags();
// Flags of a supplementary-plane character (binary search of the ranges).
uint8_t FlagsSlow(char32_t cp);

// The unicode::kFlag* bits of `cp`; `bmp` is BmpFlags().
inline uint8_t CharFlags(const uint8_t* bmp, char32_t cp) {
  return cp < 0x10000 ? bmp[cp] : FlagsSlow(cp);
}

// HF BasicTokenizer._is_chinese_char (CJK Unified Ideographs blocks).
inline bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Appends Python chr(cp).lower(); `flags` are CharFlags(cp).
void AppendLower(char32_t cp, uint8_t flags, std::vector<char32_t>* out);
// Appends the full canonical decomposition of cp.
void AppendNfd(char32_t cp, uint8_t flags, std::vector<char32_t>* out);
// Canonical ordering: a stable sort of each run of non-starters by
// combining class (the step after decomposition).
void CanonicalReorder(std::vector<char32_t>* v);
// NFC of `in` into `out` (decompose, reorder, compose).
void Nfc(const std::vector<char32_t>& in, const uint8_t* bmp, std::vector<char32_t>* out);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TEXT_NORMALIZATION_H_
