// File: core/text/vocabulary.h
//
// A WordPiece vocabulary (vocab.txt): tokens and ids, with allocation-free
// lookups of whole tokens and of "##" continuations.
#ifndef MASKSERVE_CORE_TEXT_VOCABULARY_H_
#define MASKSERVE_CORE_TEXT_VOCABULARY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace maskserve {

// A WordPiece vocabulary: token <-> id, id = line number in vocab.txt.
// Lookups hash a string_view (no allocation). Copies share the immutable
// data. As in HF's `load_vocab`, lines end at \n, \r\n or \r, and when a token
// appears twice the later id wins for token -> id lookups.
// Thread safety: immutable; safe for concurrent use.
class Vocab {
 public:
  // Reads a vocab.txt. Throws NotFound if the file cannot be opened,
  // InvalidArgument if it is empty or lacks [UNK], [CLS], [SEP] or [PAD],
  // DataLoss on invalid UTF-8; messages name `path` (and the line).
  static Vocab LoadFromFile(const std::string& path);
  // Same checks on vocab.txt contents already in memory.
  static Vocab FromText(std::string_view contents, std::string_view source_name);
  // Tokens in id order (e.g. a generated built-in vocabulary).
  static Vocab FromTokens(const std::vector<std::string>& tokens, std::string_view source_name);

  int64_t size() const;
  // Id of `token`, or -1.
  int32_t Find(std::string_view token) const;
  // Id of "##" + `suffix`, or -1 (no concatenation needed).
  int32_t FindContinuation(std::string_view suffix) const;
  // Bytes of the longest token, and of the longest "##" suffix (without
  // the "##"): no longer piece can match.
  size_t max_token_bytes() const;
  size_t max_continuation_bytes() const;
  // Token string of `id`; throws InvalidArgument when out of range.
  std::string_view Token(int64_t id) const;

  int32_t unk_id() const;
  int32_t cls_id() const;
  int32_t sep_id() const;
  int32_t pad_id() const;
  int32_t mask_id() const;  // -1 when the vocabulary has no [MASK]
  // The file name (or source name) the vocabulary was read from.
  const std::string& source() const;

  struct Data;  // implementation detail (core/text/vocabulary.cc)

 private:
  explicit Vocab(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TEXT_VOCABULARY_H_
