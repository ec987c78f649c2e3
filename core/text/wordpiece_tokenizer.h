// File: core/text/wordpiece_tokenizer.h
//
// A BERT WordPiece tokenizer that reproduces HuggingFace's Python
// `BertTokenizer` token for token (do_lower_case true or false), plus the
// [CLS] A [SEP] (B [SEP]) encoding, longest-first truncation and padding the
// model needs. Standard library only; Unicode data comes from
// core/text/unicode_tables.cc (Python's `unicodedata`, see kUnicodeVersion there).
//
// Pipeline (HF BasicTokenizer, then WordpieceTokenizer):
//   1. Occurrences of the special tokens ([UNK] [SEP] [PAD] [CLS] [MASK], the
//      ones present in the vocabulary) are split out of the raw text, exactly
//      (case-sensitive), and map straight to their ids.
//   2. Clean: drop U+0000, U+FFFD and every category C* character except
//      \t \n \r; whitespace (\t \n \r ' ' and Zs) becomes a separator.
//   3. CJK ideographs (HF's ranges) become single-character words.
//   4. NFC, then split on Python whitespace (str.split()).
//   5. Per word (unless it equals a special token): if do_lower_case, Python
//      str.lower() per character; if strip_accents (default: do_lower_case),
//      NFD and drop category Mn. Split punctuation (ASCII 33-47, 58-64,
//      91-96, 123-126 and category P*) into single-character words.
//   6. WordPiece: greedy longest-match-first with "##" continuations; a word
//      longer than max_input_chars_per_word codepoints, or one that cannot be
//      fully matched, becomes [UNK].
//
// Truncation ("longest_first", the HF default) matches the HF tokenizer that
// produced the parity goldens (transformers 5.x, Rust `tokenizers` backend):
// with m = max_length - number of special tokens, a single sequence keeps its
// first m tokens. For a pair, each sequence is first measured the way that
// backend measures it -- its length, but a sequence longer than max_length
// counts only up to the end of the first word at which it reaches max_length
// tokens -- and then, with n1 <= n2 those measured lengths: if n1 + n2 <= m
// nothing is cut; else if 2 * n1 <= m the longer keeps m - n1; else both are
// cut, the shorter to m / 2 and the longer to m - m / 2 (on a tie the first
// gets m / 2). Each sequence keeps a prefix of its tokens.
//
// Thread safety: Vocab and WordPieceTokenizer are immutable after
// construction; all const methods may be called concurrently (per-thread
// scratch buffers are used internally).
#ifndef MASKSERVE_CORE_TEXT_WORDPIECE_TOKENIZER_H_
#define MASKSERVE_CORE_TEXT_WORDPIECE_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/text/vocabulary.h"

namespace maskserve {

// Tokenizer configuration, mirroring HF BertTokenizer's arguments. Plain
// value type.
struct WordPieceOptions {
  bool do_lower_case = true;
  // HF `strip_accents`: unset follows do_lower_case (accents are stripped
  // only when lowercasing).
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  // HF's Python BasicTokenizer NFC-normalises before splitting; the Rust
  // BertNormalizer does not. They differ only for lower=false input holding
  // decomposed characters (e.g. "e\u0301").
  bool nfc = true;
  int max_input_chars_per_word = 100;
};

// How Encode* pads (HF `padding`).
enum class Padding {
  kNone,       // no padding (batches are still padded to their longest row)
  kLongest,    // pad to the longest sequence of the batch
  kMaxLength,  // pad to EncodeOptions::max_length
};

// Truncation and padding for Encode*. Plain value type.
struct EncodeOptions {
  // Longest-first truncation to at most this many ids, special tokens
  // included. 0 = no truncation. Must be >= 2 (single) / 3 (pair) when set.
  int64_t max_length = 0;
  Padding padding = Padding::kNone;
};

// One encoded sequence; all three vectors have the same length. Plain value
// type.
struct Encoding {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> attention_mask;
};

// A batch in row-major [batch_size, seq_len] layout, ready to wrap in
// int64 tensors. Rows are padded with [PAD] (type 0, mask 0). Plain value
// type.
struct BatchEncoding {
  int64_t batch_size = 0;
  int64_t seq_len = 0;
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> attention_mask;
  std::vector<int64_t> lengths;  // unpadded length of each row
};

// HF BertTokenizer-compatible tokenizer over a Vocab (see the file comment
// for the exact pipeline). Text is UTF-8; invalid UTF-8 throws
// InvalidArgument naming the field ("text", "text_pair", "texts[3]", ...)
// and byte offset.
// Thread safety: immutable; const methods are safe to call concurrently.
class WordPieceTokenizer {
 public:
  explicit WordPieceTokenizer(Vocab vocab, WordPieceOptions options = {});

  const Vocab& vocab() const { return vocab_; }
  const WordPieceOptions& options() const { return options_; }

  // WordPiece tokens of `text` without [CLS]/[SEP] (HF `tokenize`).
  std::vector<std::string> Tokenize(std::string_view text) const;
  // Appends the ids of `text` (no [CLS]/[SEP]) to `ids`. If `word_starts` is
  // given, appends the index in `ids` where each word (pre-token) begins.
  void TokenizeToIds(std::string_view text, std::vector<int64_t>* ids,
                     std::vector<int64_t>* word_starts = nullptr,
                     std::string_view field = "text") const;

  // [CLS] text [SEP]; token_type_ids all 0.
  Encoding Encode(std::string_view text, const EncodeOptions& options = EncodeOptions()) const;
  // [CLS] text [SEP] text_pair [SEP]; token_type_ids 0 up to the first
  // [SEP], 1 after it.
  Encoding EncodePair(std::string_view text, std::string_view text_pair,
                      const EncodeOptions& options = EncodeOptions()) const;

  // Batches: every row is encoded as above and padded to the longest row, or
  // to max_length with Padding::kMaxLength. `text_pairs` is empty (single
  // sequences) or as long as `texts`.
  BatchEncoding EncodeBatch(const std::vector<std::string_view>& texts,
                            const EncodeOptions& options = EncodeOptions()) const;
  BatchEncoding EncodePairBatch(const std::vector<std::string_view>& texts,
                                const std::vector<std::string_view>& text_pairs,
                                const EncodeOptions& options = EncodeOptions()) const;

  // Number of special tokens Encode / EncodePair add.
  static constexpr int kSpecialTokensSingle = 2;
  static constexpr int kSpecialTokensPair = 3;

 private:
  struct Special {
    std::string text;
    int32_t id;
  };
  class Runner;

  void EncodeInto(std::string_view text, const std::string_view* text_pair,
                  const EncodeOptions& options, std::string_view field, std::string_view pair_field,
                  Encoding* out) const;

  Vocab vocab_;
  WordPieceOptions options_;
  bool strip_accents_;
  std::vector<Special> specials_;
  bool special_first_byte_[256] = {};
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TEXT_WORDPIECE_TOKENIZER_H_
