#include "core/text/wordpiece_tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "core/base/error.h"
#include "core/text/unicode_tables.h"

namespace maskserve {
namespace {

// ---------------------------------------------------------------------------
// Unicode helpers over the generated tables.

using unicode::kFlagControl;
using unicode::kFlagLower;
using unicode::kFlagMn;
using unicode::kFlagNfcUnsafe;
using unicode::kFlagNfd;
using unicode::kFlagPunct;
using unicode::kFlagSplitSpace;
using unicode::kFlagWhitespace;

constexpr char32_t kHangulSBase = 0xAC00;
constexpr char32_t kHangulLBase = 0x1100;
constexpr char32_t kHangulVBase = 0x1161;
constexpr char32_t kHangulTBase = 0x11A7;
constexpr uint32_t kHangulLCount = 19;
constexpr uint32_t kHangulVCount = 21;
constexpr uint32_t kHangulTCount = 28;
constexpr uint32_t kHangulNCount = kHangulVCount * kHangulTCount;
constexpr uint32_t kHangulSCount = kHangulLCount * kHangulNCount;

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

inline uint8_t Flags(const uint8_t* bmp, char32_t cp) {
  return cp < 0x10000 ? bmp[cp] : FlagsSlow(cp);
}

// HF BasicTokenizer._is_chinese_char (CJK Unified Ideographs blocks).
inline bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Appends Python chr(cp).lower().
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

// Appends the full canonical decomposition of cp.
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

// Canonical ordering: stable sort of each run of non-starters by class.
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

// NFC of `in` into `out` (decompose, reorder, compose).
void Nfc(const std::vector<char32_t>& in, const uint8_t* bmp, std::vector<char32_t>* out) {
  out->clear();
  for (char32_t cp : in) AppendNfd(cp, Flags(bmp, cp), out);
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

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the non-ASCII UTF-8 sequence at p[0..n); returns its length, or 0
// when invalid (overlong, surrogate, > U+10FFFF, truncated).
size_t DecodeUtf8(const unsigned char* p, size_t n, char32_t* cp) {
  const unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) {
    if (n < 2 || (p[1] & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;
    if (c == 0xED && p[1] >= 0xA0) return 0;
    *cp = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
      return 0;
    }
    if (c == 0xF0 && p[1] < 0x90) return 0;
    if (c == 0xF4 && p[1] >= 0x90) return 0;
    *cp = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    return 4;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Vocabulary hash table: open addressing over string_views into one arena.

inline uint64_t HashBytes(const char* p, size_t n) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (n * kMul);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  h = (h ^ v) * kMul;
  h ^= h >> 32;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

class TokenTable {
 public:
  // Keys are arena[offset, offset + len); a later insert of an equal key
  // overwrites the id (Python dict semantics).
  void Build(const std::string* arena, const std::vector<std::pair<uint32_t, uint32_t>>& keys,
             const std::vector<int32_t>& ids) {
    arena_ = arena;
    size_t capacity = 16;
    while (capacity < keys.size() * 2) capacity <<= 1;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    max_len_ = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      const char* p = arena_->data() + keys[i].first;
      uint32_t len = keys[i].second;
      uint64_t h = HashBytes(p, len);
      uint32_t tag = static_cast<uint32_t>(h >> 32);
      for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
        Slot& slot = slots_[s];
        if (slot.id < 0) {
          slot = Slot{tag, keys[i].first, len, ids[i]};
          break;
        }
        if (slot.tag == tag && slot.len == len &&
            std::memcmp(arena_->data() + slot.offset, p, len) == 0) {
          slot.id = ids[i];
          break;
        }
      }
      max_len_ = std::max<size_t>(max_len_, len);
    }
  }

  int32_t Find(const char* p, size_t len) const {
    if (len > max_len_ || slots_.empty()) return -1;
    uint64_t h = HashBytes(p, len);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.id < 0) return -1;
      if (slot.tag == tag && slot.len == len &&
          std::memcmp(arena_->data() + slot.offset, p, len) == 0) {
        return slot.id;
      }
    }
  }

  size_t max_len() const { return max_len_; }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t offset = 0;
    uint32_t len = 0;
    int32_t id = -1;
  };
  const std::string* arena_ = nullptr;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t max_len_ = 0;
};

}  // namespace

struct Vocab::Data {
  std::string source;
  std::string arena;              // all tokens, concatenated
  std::vector<uint32_t> offsets;  // token i is arena[offsets[i], offsets[i+1])
  TokenTable full;                // every token
  TokenTable continuation;        // "##x" tokens, keyed by "x"
  int32_t unk = -1, cls = -1, sep = -1, pad = -1, mask = -1;
};

namespace {

std::shared_ptr<const Vocab::Data> BuildVocab(std::vector<std::string_view> tokens,
                                              std::string_view source) {
  auto data = std::make_shared<Vocab::Data>();
  data->source = std::string(source);
  if (tokens.empty()) {
    throw InvalidArgument(data->source + ": empty vocabulary (no tokens)");
  }
  if (tokens.size() > static_cast<size_t>(INT32_MAX - 1)) {
    throw InvalidArgument(data->source + ": too many tokens");
  }
  size_t total = 0;
  for (std::string_view t : tokens) total += t.size();
  if (total > UINT32_MAX) throw InvalidArgument(data->source + ": vocabulary too large");
  data->arena.reserve(total);
  data->offsets.reserve(tokens.size() + 1);
  std::vector<std::pair<uint32_t, uint32_t>> full_keys, cont_keys;
  std::vector<int32_t> full_ids, cont_ids;
  full_keys.reserve(tokens.size());
  full_ids.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    uint32_t offset = static_cast<uint32_t>(data->arena.size());
    data->offsets.push_back(offset);
    data->arena.append(tokens[i]);
    uint32_t len = static_cast<uint32_t>(tokens[i].size());
    full_keys.emplace_back(offset, len);
    full_ids.push_back(static_cast<int32_t>(i));
    if (len >= 2 && tokens[i][0] == '#' && tokens[i][1] == '#') {
      cont_keys.emplace_back(offset + 2, len - 2);
      cont_ids.push_back(static_cast<int32_t>(i));
    }
  }
  data->offsets.push_back(static_cast<uint32_t>(data->arena.size()));
  data->full.Build(&data->arena, full_keys, full_ids);
  data->continuation.Build(&data->arena, cont_keys, cont_ids);

  auto find = [&](const char* t) { return data->full.Find(t, std::strlen(t)); };
  data->unk = find("[UNK]");
  data->cls = find("[CLS]");
  data->sep = find("[SEP]");
  data->pad = find("[PAD]");
  data->mask = find("[MASK]");
  const char* missing = data->unk < 0   ? "[UNK]"
                        : data->cls < 0 ? "[CLS]"
                        : data->sep < 0 ? "[SEP]"
                        : data->pad < 0 ? "[PAD]"
                                        : nullptr;
  if (missing != nullptr) {
    throw InvalidArgument(data->source + ": vocabulary has no " + missing + " token (" +
                          std::to_string(tokens.size()) + " tokens read)");
  }
  return data;
}

}  // namespace

Vocab Vocab::FromText(std::string_view contents, std::string_view source_name) {
  // Python's text mode: lines end at \n, \r\n or \r; the terminator is not
  // part of the token. A final line without a terminator still counts.
  std::vector<std::string_view> tokens;
  size_t line_no = 1;
  size_t i = 0;
  const size_t n = contents.size();
  while (i < n) {
    size_t j = i;
    while (j < n && contents[j] != '\n' && contents[j] != '\r') ++j;
    std::string_view line = contents.substr(i, j - i);
    // Validate UTF-8 (Python would fail to decode the file).
    for (size_t k = 0; k < line.size();) {
      unsigned char c = static_cast<unsigned char>(line[k]);
      if (c < 0x80) {
        ++k;
        continue;
      }
      char32_t cp;
      size_t len =
          DecodeUtf8(reinterpret_cast<const unsigned char*>(line.data()) + k, line.size() - k, &cp);
      if (len == 0) {
        throw DataLoss(std::string(source_name) + ":" + std::to_string(line_no) +
                       ": invalid UTF-8 at byte " + std::to_string(i + k));
      }
      k += len;
    }
    tokens.push_back(line);
    if (j < n) {
      if (contents[j] == '\r' && j + 1 < n && contents[j + 1] == '\n') ++j;
      ++j;
    }
    i = j;
    ++line_no;
  }
  return Vocab(BuildVocab(std::move(tokens), source_name));
}

Vocab Vocab::LoadFromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw NotFound(path + ": cannot open vocabulary file: " + std::strerror(errno));
  }
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataLoss(path + ": read error");
  return FromText(contents, path);
}

Vocab Vocab::FromTokens(const std::vector<std::string>& tokens, std::string_view source_name) {
  std::vector<std::string_view> views(tokens.begin(), tokens.end());
  return Vocab(BuildVocab(std::move(views), source_name));
}

int64_t Vocab::size() const { return static_cast<int64_t>(data_->offsets.size()) - 1; }

int32_t Vocab::Find(std::string_view token) const {
  return data_->full.Find(token.data(), token.size());
}

int32_t Vocab::FindContinuation(std::string_view suffix) const {
  return data_->continuation.Find(suffix.data(), suffix.size());
}

std::string_view Vocab::Token(int64_t id) const {
  if (id < 0 || id >= size()) {
    throw InvalidArgument(data_->source + ": token id " + std::to_string(id) +
                          " out of range [0, " + std::to_string(size()) + ")");
  }
  uint32_t b = data_->offsets[id];
  uint32_t e = data_->offsets[id + 1];
  return std::string_view(data_->arena.data() + b, e - b);
}

int32_t Vocab::unk_id() const { return data_->unk; }
int32_t Vocab::cls_id() const { return data_->cls; }
int32_t Vocab::sep_id() const { return data_->sep; }
int32_t Vocab::pad_id() const { return data_->pad; }
int32_t Vocab::mask_id() const { return data_->mask; }
const std::string& Vocab::source() const { return data_->source; }

// ---------------------------------------------------------------------------
// The tokenizer proper.

// Per-thread working buffers; reused across calls so the hot path does not
// allocate once they have grown.
namespace {
struct Scratch {
  std::vector<char32_t> word;     // current whitespace-delimited word
  std::vector<char32_t> nfc;      // NFC of word
  std::vector<char32_t> lowered;  // after lowercasing
  std::vector<char32_t> final;    // after accent stripping
  std::string ascii;              // ASCII fast path bytes
  std::string utf8;               // one punctuation-split piece, UTF-8
  std::vector<uint32_t> bounds;   // byte offset of each char of utf8 (+ end)
  // EncodeInto buffers.
  std::vector<int64_t> ids_a, ids_b, starts_a, starts_b;
  // Batch buffers.
  std::vector<int64_t> batch_ids, batch_types, batch_offsets;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}
}  // namespace

// Runs the pipeline over one text, appending ids (and word starts).
class WordPieceTokenizer::Runner {
 public:
  Runner(const WordPieceTokenizer& t, Scratch& s, std::vector<int64_t>* ids,
         std::vector<int64_t>* word_starts)
      : t_(t),
        data_(*t.vocab_.data_),
        s_(s),
        bmp_(BmpFlags()),
        ids_(ids),
        word_starts_(word_starts),
        lower_(t.options_.do_lower_case),
        strip_(t.strip_accents_),
        chinese_(t.options_.tokenize_chinese_chars),
        nfc_(t.options_.nfc),
        max_chars_(static_cast<size_t>(std::max(0, t.options_.max_input_chars_per_word))) {}

  void Run(std::string_view text, std::string_view field) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    const bool has_specials = !t_.specials_.empty();
    s_.word.clear();
    word_ascii_ = true;
    word_nfc_unsafe_ = false;
    size_t i = 0;
    while (i < n) {
      const unsigned char c = p[i];
      if (has_specials && t_.special_first_byte_[c] && MatchSpecial(text, &i)) {
        continue;
      }
      if (c < 0x80) {
        const uint8_t f = bmp_[c];
        ++i;
        if (f & kFlagControl) continue;
        if (f & (kFlagWhitespace | kFlagSplitSpace)) {
          FlushWord();
          continue;
        }
        s_.word.push_back(c);
        continue;
      }
      char32_t cp;
      size_t len = DecodeUtf8(p + i, n - i, &cp);
      if (len == 0) {
        throw InvalidArgument(std::string(field) + ": invalid UTF-8 at byte " + std::to_string(i));
      }
      i += len;
      const uint8_t f = Flags(bmp_, cp);
      if (f & kFlagControl) continue;
      if (f & (kFlagWhitespace | kFlagSplitSpace)) {
        FlushWord();
        continue;
      }
      if (chinese_ && IsChineseChar(cp)) {
        FlushWord();
        s_.word.push_back(cp);
        word_ascii_ = false;
        word_nfc_unsafe_ = (f & kFlagNfcUnsafe) != 0;
        FlushWord();
        continue;
      }
      s_.word.push_back(cp);
      word_ascii_ = false;
      if (f & kFlagNfcUnsafe) word_nfc_unsafe_ = true;
    }
    FlushWord();
  }

 private:
  // Splits out a special token starting at *i (leftmost, longest).
  bool MatchSpecial(std::string_view text, size_t* i) {
    const Special* best = nullptr;
    for (const Special& sp : t_.specials_) {
      if (text.size() - *i >= sp.text.size() &&
          std::memcmp(text.data() + *i, sp.text.data(), sp.text.size()) == 0 &&
          (best == nullptr || sp.text.size() > best->text.size())) {
        best = &sp;
      }
    }
    if (best == nullptr) return false;
    FlushWord();
    if (word_starts_) word_starts_->push_back(static_cast<int64_t>(ids_->size()));
    ids_->push_back(best->id);
    *i += best->text.size();
    return true;
  }

  bool IsSpecialWord(const std::vector<char32_t>& w) const {
    for (const Special& sp : t_.specials_) {
      if (sp.text.size() != w.size()) continue;  // specials are ASCII
      bool equal = true;
      for (size_t k = 0; k < w.size(); ++k) {
        if (w[k] != static_cast<unsigned char>(sp.text[k])) {
          equal = false;
          break;
        }
      }
      if (equal) return true;
    }
    return false;
  }

  void FlushWord() {
    std::vector<char32_t>& word = s_.word;
    if (word.empty()) return;
    if (word_ascii_) {
      FlushAsciiWord();
    } else {
      FlushUnicodeWord();
    }
    word.clear();
    word_ascii_ = true;
    word_nfc_unsafe_ = false;
  }

  void FlushAsciiWord() {
    const std::vector<char32_t>& word = s_.word;
    // HF never_split: with do_lower_case the (already lowercased) word can
    // never equal an upper-case special token, so only check otherwise.
    if (!lower_ && IsSpecialWord(word)) {
      std::string& a = s_.ascii;
      a.assign(word.begin(), word.end());
      WordPiece(a.data(), nullptr, a.size());
      return;
    }
    std::string& a = s_.ascii;
    a.resize(word.size());
    for (size_t k = 0; k < word.size(); ++k) {
      char c = static_cast<char>(word[k]);
      if (lower_ && c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
      a[k] = c;
    }
    size_t start = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      if (bmp_[static_cast<unsigned char>(a[k])] & kFlagPunct) {
        if (k > start) WordPiece(a.data() + start, nullptr, k - start);
        WordPiece(a.data() + k, nullptr, 1);
        start = k + 1;
      }
    }
    if (start < a.size()) WordPiece(a.data() + start, nullptr, a.size() - start);
  }

  void FlushUnicodeWord() {
    const std::vector<char32_t>* w = &s_.word;
    if (nfc_ && word_nfc_unsafe_) {
      Nfc(*w, bmp_, &s_.nfc);
      w = &s_.nfc;
    }
    if (!lower_ && IsSpecialWord(*w)) {
      EmitPiece(w->data(), w->size());
      return;
    }
    if (lower_) {
      s_.lowered.clear();
      for (char32_t cp : *w) AppendLower(cp, Flags(bmp_, cp), &s_.lowered);
      w = &s_.lowered;
    }
    if (strip_) {
      std::vector<char32_t>& f = s_.final;
      f.clear();
      bool has_combining = false;
      for (char32_t cp : *w) {
        uint8_t flags = Flags(bmp_, cp);
        AppendNfd(cp, flags, &f);
        if (cp >= 0x300) has_combining = true;
      }
      if (has_combining) CanonicalReorder(&f);
      size_t kept = 0;
      for (size_t k = 0; k < f.size(); ++k) {
        if (!(Flags(bmp_, f[k]) & kFlagMn)) f[kept++] = f[k];
      }
      f.resize(kept);
      w = &f;
    }
    const std::vector<char32_t>& v = *w;
    size_t start = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      if (Flags(bmp_, v[k]) & kFlagPunct) {
        if (k > start) EmitPiece(v.data() + start, k - start);
        EmitPiece(v.data() + k, 1);
        start = k + 1;
      }
    }
    if (start < v.size()) EmitPiece(v.data() + start, v.size() - start);
  }

  void EmitPiece(const char32_t* cps, size_t n) {
    std::string& u = s_.utf8;
    std::vector<uint32_t>& b = s_.bounds;
    u.clear();
    b.clear();
    for (size_t k = 0; k < n; ++k) {
      b.push_back(static_cast<uint32_t>(u.size()));
      AppendUtf8(cps[k], &u);
    }
    b.push_back(static_cast<uint32_t>(u.size()));
    WordPiece(u.data(), b.data(), n);
  }

  // Greedy longest-match-first WordPiece over one pre-token of `nchars`
  // characters; `bounds[i]` is the byte offset of character i (nullptr when
  // every character is one byte).
  void WordPiece(const char* s, const uint32_t* bounds, size_t nchars) {
    if (word_starts_) word_starts_->push_back(static_cast<int64_t>(ids_->size()));
    const int32_t unk = data_.unk;
    if (nchars > max_chars_) {
      ids_->push_back(unk);
      return;
    }
    auto pos = [bounds](size_t i) -> size_t { return bounds ? bounds[i] : i; };
    const size_t rollback = ids_->size();
    size_t start = 0;
    while (start < nchars) {
      const TokenTable& table = start == 0 ? data_.full : data_.continuation;
      const size_t begin = pos(start);
      size_t end = nchars;
      if (bounds == nullptr) {
        end = std::min(nchars, start + table.max_len());
      } else {
        while (end > start && pos(end) - begin > table.max_len()) --end;
      }
      int32_t id = -1;
      for (; end > start; --end) {
        id = table.Find(s + begin, pos(end) - begin);
        if (id >= 0) break;
      }
      if (id < 0) {
        ids_->resize(rollback);
        ids_->push_back(unk);
        return;
      }
      ids_->push_back(id);
      start = end;
    }
  }

  const WordPieceTokenizer& t_;
  const Vocab::Data& data_;
  Scratch& s_;
  const uint8_t* bmp_;
  std::vector<int64_t>* ids_;
  std::vector<int64_t>* word_starts_;
  const bool lower_;
  const bool strip_;
  const bool chinese_;
  const bool nfc_;
  const size_t max_chars_;
  bool word_ascii_ = true;
  bool word_nfc_unsafe_ = false;
};

WordPieceTokenizer::WordPieceTokenizer(Vocab vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)),
      options_(options),
      strip_accents_(options.strip_accents.value_or(options.do_lower_case)) {
  if (options_.max_input_chars_per_word < 0) {
    throw InvalidArgument("max_input_chars_per_word: must be >= 0, got " +
                          std::to_string(options_.max_input_chars_per_word));
  }
  for (const char* text : {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"}) {
    int32_t id = vocab_.Find(text);
    if (id < 0) continue;
    specials_.push_back(Special{text, id});
    special_first_byte_[static_cast<unsigned char>(text[0])] = true;
  }
  BmpFlags();  // build the lookup table eagerly
}

void WordPieceTokenizer::TokenizeToIds(std::string_view text, std::vector<int64_t>* ids,
                                       std::vector<int64_t>* word_starts,
                                       std::string_view field) const {
  Runner runner(*this, ThreadScratch(), ids, word_starts);
  runner.Run(text, field);
}

std::vector<std::string> WordPieceTokenizer::Tokenize(std::string_view text) const {
  std::vector<int64_t> ids;
  TokenizeToIds(text, &ids);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) tokens.emplace_back(vocab_.Token(id));
  return tokens;
}

namespace {

// Length of a sequence as the HF Rust backend sees it when truncating a pair:
// it stops producing tokens after the first word that reaches max_length.
int64_t MeasuredLength(const std::vector<int64_t>& word_starts, int64_t length,
                       int64_t max_length) {
  if (length <= max_length) return length;
  auto it = std::lower_bound(word_starts.begin(), word_starts.end(), max_length);
  return it == word_starts.end() ? length : *it;
}

// HF longest_first for a pair (see the header): the kept lengths.
std::pair<int64_t, int64_t> LongestFirst(int64_t len1, int64_t len2, int64_t m) {
  if (len1 + len2 <= m) return {len1, len2};
  int64_t n1 = len1, n2 = len2;
  bool swap = false;
  if (n1 > n2) {
    std::swap(n1, n2);
    swap = true;
  }
  if (n1 > m) {
    n2 = n1;
  } else {
    n2 = std::max(n1, m - n1);
  }
  if (n1 + n2 > m) {
    n1 = m / 2;
    n2 = n1 + m % 2;
  }
  if (swap) std::swap(n1, n2);
  return {std::min(len1, n1), std::min(len2, n2)};
}

}  // namespace

void WordPieceTokenizer::EncodeInto(std::string_view text, const std::string_view* text_pair,
                                    const EncodeOptions& options, std::string_view field,
                                    std::string_view pair_field, Encoding* out) const {
  const int64_t num_special = text_pair ? kSpecialTokensPair : kSpecialTokensSingle;
  const int64_t max_length = options.max_length;
  if (max_length < 0 || (max_length > 0 && max_length < num_special)) {
    throw InvalidArgument("max_length: " + std::to_string(max_length) + " leaves no room for the " +
                          std::to_string(num_special) + " special tokens");
  }
  if (options.padding == Padding::kMaxLength && max_length == 0) {
    throw InvalidArgument("padding: kMaxLength requires max_length > 0");
  }
  Scratch& s = ThreadScratch();
  std::vector<int64_t>& ids_a = s.ids_a;
  std::vector<int64_t>& ids_b = s.ids_b;
  std::vector<int64_t>& starts_a = s.starts_a;
  std::vector<int64_t>& starts_b = s.starts_b;
  ids_a.clear();
  ids_b.clear();
  starts_a.clear();
  starts_b.clear();
  {
    Runner runner(*this, s, &ids_a, &starts_a);
    runner.Run(text, field);
  }
  if (text_pair) {
    Runner runner(*this, s, &ids_b, &starts_b);
    runner.Run(*text_pair, pair_field);
  }
  int64_t len_a = static_cast<int64_t>(ids_a.size());
  int64_t len_b = static_cast<int64_t>(ids_b.size());
  if (max_length > 0) {
    const int64_t m = max_length - num_special;
    if (!text_pair) {
      len_a = std::min(len_a, m);
    } else if (len_a + len_b > m) {
      int64_t seen_a = MeasuredLength(starts_a, len_a, max_length);
      int64_t seen_b = MeasuredLength(starts_b, len_b, max_length);
      std::pair<int64_t, int64_t> kept = LongestFirst(seen_a, seen_b, m);
      len_a = kept.first;
      len_b = kept.second;
    }
  }
  const int64_t total = num_special + len_a + len_b;
  const int64_t padded =
      options.padding == Padding::kMaxLength ? std::max(total, max_length) : total;
  out->input_ids.clear();
  out->token_type_ids.clear();
  out->attention_mask.clear();
  out->input_ids.reserve(padded);
  out->input_ids.push_back(vocab_.cls_id());
  out->input_ids.insert(out->input_ids.end(), ids_a.begin(), ids_a.begin() + len_a);
  out->input_ids.push_back(vocab_.sep_id());
  int64_t first_len = len_a + 2;
  if (text_pair) {
    out->input_ids.insert(out->input_ids.end(), ids_b.begin(), ids_b.begin() + len_b);
    out->input_ids.push_back(vocab_.sep_id());
  }
  out->token_type_ids.assign(first_len, 0);
  out->token_type_ids.resize(total, 1);
  out->attention_mask.assign(total, 1);
  out->input_ids.resize(padded, vocab_.pad_id());
  out->token_type_ids.resize(padded, 0);
  out->attention_mask.resize(padded, 0);
}

Encoding WordPieceTokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  Encoding out;
  EncodeInto(text, nullptr, options, "text", "", &out);
  return out;
}

Encoding WordPieceTokenizer::EncodePair(std::string_view text, std::string_view text_pair,
                                        const EncodeOptions& options) const {
  Encoding out;
  EncodeInto(text, &text_pair, options, "text", "text_pair", &out);
  return out;
}

BatchEncoding WordPieceTokenizer::EncodePairBatch(const std::vector<std::string_view>& texts,
                                                  const std::vector<std::string_view>& text_pairs,
                                                  const EncodeOptions& options) const {
  if (!text_pairs.empty() && text_pairs.size() != texts.size()) {
    throw InvalidArgument("text_pairs: " + std::to_string(text_pairs.size()) + " pairs for " +
                          std::to_string(texts.size()) + " texts");
  }
  BatchEncoding batch;
  batch.batch_size = static_cast<int64_t>(texts.size());
  batch.lengths.resize(texts.size());
  // Encode every row into one ragged buffer, then lay out the padded batch.
  Encoding row;
  std::vector<int64_t> ids, types;
  std::vector<int64_t> offsets;
  offsets.reserve(texts.size() + 1);
  offsets.push_back(0);
  EncodeOptions row_options = options;
  row_options.padding = Padding::kNone;
  int64_t longest = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string field = "texts[" + std::to_string(i) + "]";
    if (text_pairs.empty()) {
      EncodeInto(texts[i], nullptr, row_options, field, "", &row);
    } else {
      const std::string pair_field = "text_pairs[" + std::to_string(i) + "]";
      EncodeInto(texts[i], &text_pairs[i], row_options, field, pair_field, &row);
    }
    ids.insert(ids.end(), row.input_ids.begin(), row.input_ids.end());
    types.insert(types.end(), row.token_type_ids.begin(), row.token_type_ids.end());
    offsets.push_back(static_cast<int64_t>(ids.size()));
    batch.lengths[i] = static_cast<int64_t>(row.input_ids.size());
    longest = std::max(longest, batch.lengths[i]);
  }
  batch.seq_len =
      options.padding == Padding::kMaxLength ? std::max(longest, options.max_length) : longest;
  const size_t cells = static_cast<size_t>(batch.batch_size * batch.seq_len);
  batch.input_ids.assign(cells, vocab_.pad_id());
  batch.token_type_ids.assign(cells, 0);
  batch.attention_mask.assign(cells, 0);
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t row_begin = i * static_cast<size_t>(batch.seq_len);
    const int64_t b = offsets[i];
    const int64_t len = offsets[i + 1] - b;
    std::copy(ids.begin() + b, ids.begin() + b + len, batch.input_ids.begin() + row_begin);
    std::copy(types.begin() + b, types.begin() + b + len, batch.token_type_ids.begin() + row_begin);
    std::fill(batch.attention_mask.begin() + row_begin,
              batch.attention_mask.begin() + row_begin + len, 1);
  }
  return batch;
}

BatchEncoding WordPieceTokenizer::EncodeBatch(const std::vector<std::string_view>& texts,
                                              const EncodeOptions& options) const {
  return EncodePairBatch(texts, {}, options);
}

}  // namespace maskserve
