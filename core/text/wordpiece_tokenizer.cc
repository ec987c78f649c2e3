#include "core/text/wordpiece_tokenizer.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/base/error.h"
#include "core/text/normalization.h"
#include "core/text/unicode_tables.h"
#include "core/base/utf8.h"

namespace maskserve {
namespace {

using unicode::kFlagControl;
using unicode::kFlagMn;
using unicode::kFlagNfcUnsafe;
using unicode::kFlagPunct;
using unicode::kFlagSplitSpace;
using unicode::kFlagWhitespace;

}  // namespace

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
      const uint8_t f = CharFlags(bmp_, cp);
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
      for (char32_t cp : *w) AppendLower(cp, CharFlags(bmp_, cp), &s_.lowered);
      w = &s_.lowered;
    }
    if (strip_) {
      std::vector<char32_t>& f = s_.final;
      f.clear();
      bool has_combining = false;
      for (char32_t cp : *w) {
        uint8_t flags = CharFlags(bmp_, cp);
        AppendNfd(cp, flags, &f);
        if (cp >= 0x300) has_combining = true;
      }
      if (has_combining) CanonicalReorder(&f);
      size_t kept = 0;
      for (size_t k = 0; k < f.size(); ++k) {
        if (!(CharFlags(bmp_, f[k]) & kFlagMn)) f[kept++] = f[k];
      }
      f.resize(kept);
      w = &f;
    }
    const std::vector<char32_t>& v = *w;
    size_t start = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      if (CharFlags(bmp_, v[k]) & kFlagPunct) {
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
    const Vocab& vocab = t_.vocab_;
    const int32_t unk = vocab.unk_id();
    if (nchars > max_chars_) {
      ids_->push_back(unk);
      return;
    }
    auto pos = [bounds](size_t i) -> size_t { return bounds ? bounds[i] : i; };
    const size_t rollback = ids_->size();
    size_t start = 0;
    while (start < nchars) {
      const bool whole = start == 0;
      const size_t max_len = whole ? vocab.max_token_bytes() : vocab.max_continuation_bytes();
      const size_t begin = pos(start);
      size_t end = nchars;
      if (bounds == nullptr) {
        end = std::min(nchars, start + max_len);
      } else {
        while (end > start && pos(end) - begin > max_len) --end;
      }
      int32_t id = -1;
      for (; end > start; --end) {
        const std::string_view piece(s + begin, pos(end) - begin);
        id = whole ? vocab.Find(piece) : vocab.FindContinuation(piece);
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
