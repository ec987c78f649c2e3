// libFuzzer target: the WordPiece tokenizer must encode any bytes (valid
// UTF-8 or not) without crashing, reject invalid UTF-8 with an EngineError,
// and respect max_length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/error.h"
#include "core/text/wordpiece_tokenizer.h"

namespace {
const maskserve::WordPieceTokenizer& Tokenizer(bool lower) {
  static const maskserve::Vocab vocab =
      maskserve::Vocab::FromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "the",
                                    "##s", "##e", "un", "##able", "caf", "##é", "中", ",", "."},
                                   "fuzz vocab");
  static const maskserve::WordPieceTokenizer lowered(vocab, {});
  static const maskserve::WordPieceTokenizer cased(vocab, [] {
    maskserve::WordPieceOptions o;
    o.do_lower_case = false;
    return o;
  }());
  return lower ? lowered : cased;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool lower = data[0] & 1;
  const int64_t max_length = 3 + data[0] % 32;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t split = text.size() / 2;
  maskserve::EncodeOptions options;
  options.max_length = max_length;
  try {
    maskserve::Encoding single = Tokenizer(lower).Encode(text, options);
    maskserve::Encoding pair =
        Tokenizer(lower).EncodePair(text.substr(0, split), text.substr(split), options);
    if (int64_t(single.input_ids.size()) > max_length ||
        int64_t(pair.input_ids.size()) > max_length) {
      std::abort();
    }
  } catch (const maskserve::EngineError&) {
  }
  return 0;
}
