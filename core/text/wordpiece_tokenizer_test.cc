#include "core/text/wordpiece_tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/base/error.h"
#include "core/base/json.h"

namespace maskserve {
namespace {

std::string SharedDir() {
#if defined(MASKSERVE_SHARED_DIR)
  return MASKSERVE_SHARED_DIR;
#elif defined(MASKSERVE_SOURCE_DIR)
  return std::string(MASKSERVE_SOURCE_DIR) + "/../shared";
#else
  return "../shared";
#endif
}

bool FileExists(const std::string& path) {
  std::ifstream f(path);
  return static_cast<bool>(f);
}

// A small vocabulary exercising every branch of the pipeline.
const std::vector<std::string>& TinyTokens() {
  static const std::vector<std::string> tokens = {
      "[PAD]",     "[UNK]",  "[CLS]", "[SEP]", "[MASK]",  // 0-4
      "hello",     "world",  ",",     "!",     "un",      // 5-9
      "##aff",     "##able", "cafe",  "café",  "a",       // 10-14
      "##b",       "b",      "中",    "文",    "i",       // 15-19
      "##stanbul", "σ",      "##σ",   "é",     "e",       // 20-24
      "[",         "]",      "cl",    "##s",   "sep",     // 25-29
      "Hello",     "##llo",  "he",    ".",     "x",       // 30-34
      "##x",       "ǆ",      "'",     "s",     "-",       // 35-39
  };
  return tokens;
}

WordPieceTokenizer TinyTokenizer(bool lower) {
  WordPieceOptions options;
  options.do_lower_case = lower;
  return WordPieceTokenizer(Vocab::FromTokens(TinyTokens(), "tiny-vocab"), options);
}

std::vector<std::string> Tok(const WordPieceTokenizer& t, const std::string& text) {
  return t.Tokenize(text);
}

using Strings = std::vector<std::string>;
using Ids = std::vector<int64_t>;

// ---------------------------------------------------------------------------
// Vocab

TEST(VocabTest, LoadsTokensInLineOrder) {
  Vocab v = Vocab::FromText("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##lo\n", "v.txt");
  EXPECT_EQ(v.size(), 6);
  EXPECT_EQ(v.Find("hello"), 4);
  EXPECT_EQ(v.Find("##lo"), 5);
  EXPECT_EQ(v.FindContinuation("lo"), 5);
  EXPECT_EQ(v.FindContinuation("hello"), -1);
  EXPECT_EQ(v.Find("nope"), -1);
  EXPECT_EQ(v.Token(4), "hello");
  EXPECT_EQ(v.pad_id(), 0);
  EXPECT_EQ(v.unk_id(), 1);
  EXPECT_EQ(v.cls_id(), 2);
  EXPECT_EQ(v.sep_id(), 3);
  EXPECT_EQ(v.mask_id(), -1);
  EXPECT_EQ(v.source(), "v.txt");
  EXPECT_THROW(v.Token(6), EngineError);
  EXPECT_THROW(v.Token(-1), EngineError);
}

TEST(VocabTest, UniversalNewlinesAndLastLineWithoutTerminator) {
  Vocab v = Vocab::FromText("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\r\nlast", "v.txt");
  EXPECT_EQ(v.size(), 5);
  EXPECT_EQ(v.Find("[UNK]"), 1);
  EXPECT_EQ(v.Find("last"), 4);
}

TEST(VocabTest, DuplicateTokenLaterIdWins) {
  Vocab v = Vocab::FromText("[PAD]\n[UNK]\n[CLS]\n[SEP]\ndup\ndup\n", "v.txt");
  EXPECT_EQ(v.size(), 6);
  EXPECT_EQ(v.Find("dup"), 5);
  EXPECT_EQ(v.Token(4), "dup");
}

TEST(VocabTest, ErrorsNameTheFile) {
  try {
    Vocab::FromText("", "my/vocab.txt");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("my/vocab.txt"), std::string::npos);
  }
  try {
    Vocab::FromText("[PAD]\n[UNK]\n[SEP]\nhello\n", "my/vocab.txt");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[CLS]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("my/vocab.txt"), std::string::npos);
  }
  try {
    Vocab::FromText("[PAD]\n[UNK]\n[CLS]\n[SEP]\nbad\xff\n", "my/vocab.txt");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("my/vocab.txt:5"), std::string::npos) << e.what();
  }
  try {
    Vocab::LoadFromFile("/nonexistent/dir/vocab.txt");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/vocab.txt"), std::string::npos);
  }
}

TEST(VocabTest, LoadFromFile) {
  std::string path = ::testing::TempDir() + "/maskserve_vocab_test.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhi\n";
  }
  Vocab v = Vocab::LoadFromFile(path);
  EXPECT_EQ(v.size(), 6);
  EXPECT_EQ(v.mask_id(), 4);
  EXPECT_EQ(v.Find("hi"), 5);
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------
// BasicTokenizer behaviour

TEST(WordPieceTokenizerTest, LowercasesAndSplitsPunctuation) {
  auto t = TinyTokenizer(true);
  EXPECT_EQ(Tok(t, "Hello, WORLD!"), (Strings{"hello", ",", "world", "!"}));
  EXPECT_EQ(Tok(t, "  hello\tworld\n"), (Strings{"hello", "world"}));
  EXPECT_EQ(Tok(t, ""), Strings{});
  EXPECT_EQ(Tok(t, " \t\r\n "), Strings{});
}

TEST(WordPieceTokenizerTest, CasedKeepsCase) {
  auto t = TinyTokenizer(false);
  EXPECT_EQ(Tok(t, "Hello hello"), (Strings{"Hello", "hello"}));
  EXPECT_EQ(Tok(t, "HELLO"), (Strings{"[UNK]"}));
}

TEST(WordPieceTokenizerTest, GreedyLongestMatchFirst) {
  auto t = TinyTokenizer(true);
  EXPECT_EQ(Tok(t, "unaffable"), (Strings{"un", "##aff", "##able"}));
  EXPECT_EQ(Tok(t, "abbb"), (Strings{"a", "##b", "##b", "##b"}));
  // A word that cannot be fully matched becomes a single [UNK].
  EXPECT_EQ(Tok(t, "unaffablez hello"), (Strings{"[UNK]", "hello"}));
}

TEST(WordPieceTokenizerTest, LongWordsBecomeUnk) {
  auto t = TinyTokenizer(true);
  std::string hundred = "a" + std::string(99, 'b');
  std::vector<std::string> got = Tok(t, hundred);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[0], "a");
  EXPECT_EQ(got[99], "##b");
  EXPECT_EQ(Tok(t, hundred + "b"), (Strings{"[UNK]"}));
  // Codepoints, not bytes, are counted: 100 two-byte characters are fine.
  std::string sigmas;
  for (int i = 0; i < 100; ++i) sigmas += "σ";
  EXPECT_EQ(Tok(t, sigmas).size(), 100u);
  EXPECT_EQ(Tok(t, sigmas + "σ"), (Strings{"[UNK]"}));
}

TEST(WordPieceTokenizerTest, StripsAccentsOnlyWhenLowercasing) {
  auto lower = TinyTokenizer(true);
  auto cased = TinyTokenizer(false);
  EXPECT_EQ(Tok(lower, "Café CAFÉ"), (Strings{"cafe", "cafe"}));
  EXPECT_EQ(Tok(cased, "café"), (Strings{"café"}));
  // Decomposed input: lower strips the combining accent; cased composes it
  // (Python's NFC) and finds "é".
  EXPECT_EQ(Tok(lower, "e\xCC\x81"), (Strings{"e"}));
  EXPECT_EQ(Tok(cased, "e\xCC\x81"), (Strings{"é"}));
  WordPieceOptions no_nfc;
  no_nfc.do_lower_case = false;
  no_nfc.nfc = false;
  WordPieceTokenizer rust_like(Vocab::FromTokens(TinyTokens(), "tiny"), no_nfc);
  EXPECT_EQ(rust_like.Tokenize("e\xCC\x81"), (Strings{"[UNK]"}));
  // Explicit strip_accents without lowercasing.
  WordPieceOptions strip;
  strip.do_lower_case = false;
  strip.strip_accents = true;
  WordPieceTokenizer stripper(Vocab::FromTokens(TinyTokens(), "tiny"), strip);
  EXPECT_EQ(stripper.Tokenize("café"), (Strings{"cafe"}));
}

TEST(WordPieceTokenizerTest, PythonLowerSemantics) {
  auto t = TinyTokenizer(true);
  // U+0130 lowercases to "i" + U+0307; the accent is then stripped.
  EXPECT_EQ(Tok(t, "\xC4\xB0stanbul"), (Strings{"i", "##stanbul"}));
  // Characters are lowercased one at a time (HF lowercases the text with a
  // per-character regex first), so a final capital sigma becomes σ, not ς.
  EXPECT_EQ(Tok(t, "ΣΣ"), (Strings{"σ", "##σ"}));
  // Title-case digraph U+01C5 lowercases to U+01C6.
  EXPECT_EQ(Tok(t, "ǅ"), (Strings{"ǆ"}));
}

TEST(WordPieceTokenizerTest, CleansControlAndWhitespaceCharacters) {
  auto t = TinyTokenizer(true);
  // NUL, BEL, U+FFFD, zero-width space (Cf), BOM are dropped (joining words).
  EXPECT_EQ(Tok(t, std::string("hel\0lo", 6)), (Strings{"hello"}));
  EXPECT_EQ(Tok(t, "hel\alo w\xEF\xBF\xBDorld"), (Strings{"hello", "world"}));
  EXPECT_EQ(Tok(t, "hel\xE2\x80\x8Blo"), (Strings{"hello"}));
  EXPECT_EQ(Tok(t, "\xEF\xBB\xBFhello"), (Strings{"hello"}));
  // No-break space, ideographic space, line separator U+2028 separate words.
  EXPECT_EQ(Tok(t, "hello\xC2\xA0world"), (Strings{"hello", "world"}));
  EXPECT_EQ(Tok(t, "hello\xE3\x80\x80world"), (Strings{"hello", "world"}));
  EXPECT_EQ(Tok(t, "hello\xE2\x80\xA8world"), (Strings{"hello", "world"}));
}

TEST(WordPieceTokenizerTest, ChineseCharactersAreSeparateWords) {
  auto t = TinyTokenizer(true);
  EXPECT_EQ(Tok(t, "hello中文world"), (Strings{"hello", "中", "文", "world"}));
  WordPieceOptions no_cjk;
  no_cjk.tokenize_chinese_chars = false;
  WordPieceTokenizer t2(Vocab::FromTokens(TinyTokens(), "tiny"), no_cjk);
  EXPECT_EQ(t2.Tokenize("中文"), (Strings{"[UNK]"}));
}

TEST(WordPieceTokenizerTest, SpecialTokensInText) {
  auto t = TinyTokenizer(true);
  EXPECT_EQ(Tok(t, "hello [SEP] world"), (Strings{"hello", "[SEP]", "world"}));
  EXPECT_EQ(Tok(t, "hello[MASK]world"), (Strings{"hello", "[MASK]", "world"}));
  // Case-sensitive: "[sep]" is ordinary text.
  EXPECT_EQ(Tok(t, "[sep]"), (Strings{"[", "sep", "]"}));
  EXPECT_EQ(Tok(t, "[Cls]"), (Strings{"[", "cl", "##s", "]"}));
  // HF never_split (cased): a word equal to a special token after cleaning
  // stays whole.
  auto cased = TinyTokenizer(false);
  EXPECT_EQ(Tok(cased, std::string("[CL\0S]", 6)), (Strings{"[CLS]"}));
  EXPECT_EQ(Tok(t, std::string("[CL\0S]", 6)), (Strings{"[", "cl", "##s", "]"}));
}

TEST(WordPieceTokenizerTest, InvalidUtf8NamesFieldAndOffset) {
  auto t = TinyTokenizer(true);
  try {
    t.Encode("ok \xC3(");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("text: invalid UTF-8 at byte 3"), std::string::npos)
        << e.what();
  }
  try {
    t.EncodePair("ok", "\xED\xA0\x80");  // encoded surrogate
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("text_pair"), std::string::npos) << e.what();
  }
  try {
    t.EncodeBatch({"fine", "bad\xFF"});
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("texts[1]"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------
// Encoding, truncation, padding, batches

TEST(WordPieceTokenizerTest, EncodeSingleAndPair) {
  auto t = TinyTokenizer(true);
  Encoding e = t.Encode("hello world");
  EXPECT_EQ(e.input_ids, (Ids{2, 5, 6, 3}));
  EXPECT_EQ(e.token_type_ids, (Ids{0, 0, 0, 0}));
  EXPECT_EQ(e.attention_mask, (Ids{1, 1, 1, 1}));
  Encoding p = t.EncodePair("hello", "world !");
  EXPECT_EQ(p.input_ids, (Ids{2, 5, 3, 6, 8, 3}));
  EXPECT_EQ(p.token_type_ids, (Ids{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(p.attention_mask, (Ids{1, 1, 1, 1, 1, 1}));
  Encoding empty = t.EncodePair("", "");
  EXPECT_EQ(empty.input_ids, (Ids{2, 3, 3}));
  EXPECT_EQ(empty.token_type_ids, (Ids{0, 0, 1}));
}

TEST(WordPieceTokenizerTest, TruncatesSingleAndPads) {
  auto t = TinyTokenizer(true);
  EncodeOptions o;
  o.max_length = 4;
  EXPECT_EQ(t.Encode("hello world hello world", o).input_ids, (Ids{2, 5, 6, 3}));
  o.padding = Padding::kMaxLength;
  o.max_length = 6;
  Encoding e = t.Encode("hello", o);
  EXPECT_EQ(e.input_ids, (Ids{2, 5, 3, 0, 0, 0}));
  EXPECT_EQ(e.token_type_ids, (Ids{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(e.attention_mask, (Ids{1, 1, 1, 0, 0, 0}));
  EncodeOptions bad;
  bad.max_length = 1;
  EXPECT_THROW(t.Encode("hello", bad), EngineError);
  bad.max_length = 2;
  EXPECT_EQ(t.Encode("hello", bad).input_ids, (Ids{2, 3}));
  EXPECT_THROW(t.EncodePair("a", "b", bad), EngineError);
  EncodeOptions pad_only;
  pad_only.padding = Padding::kMaxLength;
  EXPECT_THROW(t.Encode("hello", pad_only), EngineError);
}

// Lengths kept for a pair of sequences of `la` and `lb` single-token words.
std::pair<size_t, size_t> PairKept(const WordPieceTokenizer& t, int la, int lb,
                                   int64_t max_length) {
  std::string a, b;
  for (int i = 0; i < la; ++i) a += "x ";
  for (int i = 0; i < lb; ++i) b += "x ";
  EncodeOptions o;
  o.max_length = max_length;
  Encoding e = t.EncodePair(a, b, o);
  size_t first = 0;
  for (int64_t type : e.token_type_ids) first += type == 0;
  return {first - 2, e.input_ids.size() - first - 1};
}

TEST(WordPieceTokenizerTest, LongestFirstPairTruncation) {
  auto t = TinyTokenizer(true);
  using P = std::pair<size_t, size_t>;
  // m = max_length - 3 = 7.
  EXPECT_EQ(PairKept(t, 3, 4, 10), (P{3, 4}));  // fits
  EXPECT_EQ(PairKept(t, 2, 9, 10), (P{2, 5}));  // only the longer is cut
  EXPECT_EQ(PairKept(t, 9, 2, 10), (P{5, 2}));
  EXPECT_EQ(PairKept(t, 3, 9, 10), (P{3, 4}));  // 2 * 3 <= 7
  EXPECT_EQ(PairKept(t, 4, 9, 10), (P{3, 4}));  // both cut: shorter m/2
  EXPECT_EQ(PairKept(t, 9, 4, 10), (P{4, 3}));  // longer gets the odd one
  EXPECT_EQ(PairKept(t, 5, 5, 10), (P{3, 4}));  // tie: second gets it
  EXPECT_EQ(PairKept(t, 0, 20, 10), (P{0, 7}));
  EXPECT_EQ(PairKept(t, 20, 0, 10), (P{7, 0}));
  // Even m = 8.
  EXPECT_EQ(PairKept(t, 9, 6, 11), (P{4, 4}));
  // Both longer than max_length: all words are one token here, so the
  // measured lengths are max_length each -> a tie.
  EXPECT_EQ(PairKept(t, 40, 30, 10), (P{3, 4}));
}

TEST(WordPieceTokenizerTest, PairTruncationMeasuresUpToTheWordReachingMaxLength) {
  // HF's Rust backend stops measuring a sequence at the end of the first word
  // that reaches max_length tokens. "abbbb" is 5 tokens (a ##b ##b ##b ##b).
  auto t = TinyTokenizer(true);
  EncodeOptions o;
  o.max_length = 10;  // m = 7
  // First: 9 x's then abbbb -> measured 9 + 5 = 14 > 10 at the word end;
  // second: 30 x's -> measured 10. First measured longer -> first gets 4.
  std::string a = "x x x x x x x x x abbbb x x";
  std::string b;
  for (int i = 0; i < 30; ++i) b += "x ";
  Encoding e = t.EncodePair(a, b, o);
  size_t first = 0;
  for (int64_t type : e.token_type_ids) first += type == 0;
  EXPECT_EQ(first - 2, 4u);
  // First: 10 x's then more -> measured exactly 10 = second's 10 -> tie, the
  // first gets m / 2 = 3.
  std::string a2;
  for (int i = 0; i < 12; ++i) a2 += "x ";
  e = t.EncodePair(a2, b, o);
  first = 0;
  for (int64_t type : e.token_type_ids) first += type == 0;
  EXPECT_EQ(first - 2, 3u);
}

TEST(WordPieceTokenizerTest, BatchIsRowMajorAndPadded) {
  auto t = TinyTokenizer(true);
  BatchEncoding b = t.EncodeBatch({"hello", "hello world !", ""});
  EXPECT_EQ(b.batch_size, 3);
  EXPECT_EQ(b.seq_len, 5);
  EXPECT_EQ(b.lengths, (Ids{3, 5, 2}));
  EXPECT_EQ(b.input_ids, (Ids{2, 5, 3, 0, 0,  //
                              2, 5, 6, 8, 3,  //
                              2, 3, 0, 0, 0}));
  EXPECT_EQ(b.attention_mask, (Ids{1, 1, 1, 0, 0,  //
                                   1, 1, 1, 1, 1,  //
                                   1, 1, 0, 0, 0}));
  EncodeOptions o;
  o.max_length = 6;
  o.padding = Padding::kMaxLength;
  BatchEncoding p = t.EncodePairBatch({"hello", "hello world"}, {"world", "hello world"}, o);
  EXPECT_EQ(p.seq_len, 6);
  EXPECT_EQ(p.input_ids, (Ids{2, 5, 3, 6, 3, 0,  //
                              2, 5, 3, 5, 6, 3}));
  EXPECT_EQ(p.token_type_ids, (Ids{0, 0, 0, 1, 1, 0,  //
                                   0, 0, 0, 1, 1, 1}));
  EXPECT_THROW(t.EncodePairBatch({"a", "b"}, {"c"}), EngineError);
  BatchEncoding none = t.EncodeBatch({});
  EXPECT_EQ(none.batch_size, 0);
  EXPECT_TRUE(none.input_ids.empty());
}

TEST(WordPieceTokenizerTest, ConcurrentCallsAgree) {
  const auto t = TinyTokenizer(true);
  const std::vector<std::string> texts = {"Hello, WORLD!", "unaffable café", "ΣΣ 中文 e\xCC\x81",
                                          "hello [SEP] world", std::string(300, 'b')};
  std::vector<Encoding> want;
  for (const auto& s : texts) want.push_back(t.EncodePair(s, s));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int iter = 0; iter < 200; ++iter) {
        for (size_t i = 0; i < texts.size(); ++i) {
          Encoding got = t.EncodePair(texts[i], texts[i]);
          if (got.input_ids != want[i].input_ids) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---------------------------------------------------------------------------
// Parity with HF BertTokenizer on the shared goldens.

TEST(WordPieceTokenizerGoldenTest, MatchesHuggingFaceGoldens) {
  const std::string dir = SharedDir() + "/data";
  const std::string golden = dir + "/hf_parity/tokenizer_golden.jsonl";
  const std::string vocab_path = dir + "/vocab/bert-base-uncased-vocab.txt";
  if (!FileExists(golden) || !FileExists(vocab_path)) {
    GTEST_SKIP() << "HF parity data not found (" << golden << ", " << vocab_path
                 << "); set MASKSERVE_SHARED_DIR to the shared data checkout";
  }
  Vocab vocab = Vocab::LoadFromFile(vocab_path);
  ASSERT_EQ(vocab.size(), 30522);
  WordPieceOptions lower_options, cased_options;
  lower_options.do_lower_case = true;
  cased_options.do_lower_case = false;
  const WordPieceTokenizer lower(vocab, lower_options);
  const WordPieceTokenizer cased(vocab, cased_options);

  std::ifstream in(golden, std::ios::binary);
  std::string line;
  int line_no = 0, records = 0, matched = 0, reported = 0;
  int with_tokens = 0, pairs = 0, truncated = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::string source = golden + ":" + std::to_string(line_no);
    JsonValue rec = JsonValue::Parse(line, source);
    ++records;
    const WordPieceTokenizer& t = rec.GetBool("lower") ? lower : cased;
    const std::string& text = rec.GetString("text");
    EncodeOptions options;
    if (const JsonValue* max_length = rec.Find("max_length")) {
      options.max_length = max_length->AsInt64();
      EXPECT_EQ(rec.GetString("truncation"), "longest_first") << source;
      ++truncated;
    }
    Encoding got;
    if (const JsonValue* pair = rec.Find("text_pair")) {
      got = t.EncodePair(text, pair->AsString(), options);
      ++pairs;
    } else {
      got = t.Encode(text, options);
    }
    Ids want_ids, want_types;
    for (const JsonValue& v : rec.At("input_ids").items()) want_ids.push_back(v.AsInt64());
    for (const JsonValue& v : rec.At("token_type_ids").items()) {
      want_types.push_back(v.AsInt64());
    }
    bool ok = got.input_ids == want_ids && got.token_type_ids == want_types &&
              got.attention_mask == Ids(want_ids.size(), 1);
    Strings want_tokens, got_tokens;
    if (const JsonValue* tokens = rec.Find("tokens")) {
      ++with_tokens;
      for (const JsonValue& v : tokens->items()) want_tokens.push_back(v.AsString());
      got_tokens.push_back("[CLS]");
      for (std::string& s : t.Tokenize(text)) got_tokens.push_back(std::move(s));
      got_tokens.push_back("[SEP]");
      ok = ok && got_tokens == want_tokens;
    }
    if (ok) {
      ++matched;
    } else if (reported++ < 10) {
      std::ostringstream msg;
      msg << source << ": mismatch for " << JsonValue::Parse(line, source).At("text").Serialize()
          << "\n  want ids:";
      for (int64_t id : want_ids) msg << ' ' << id;
      msg << "\n  got  ids:";
      for (int64_t id : got.input_ids) msg << ' ' << id;
      if (!want_tokens.empty()) {
        msg << "\n  want tokens:";
        for (const auto& s : want_tokens) msg << ' ' << s;
        msg << "\n  got  tokens:";
        for (const auto& s : got_tokens) msg << ' ' << s;
      }
      ADD_FAILURE() << msg.str();
    }
  }
  std::printf(
      "[ golden ] %d/%d records match (%d with tokens, %d pairs, %d "
      "truncated)\n",
      matched, records, with_tokens, pairs, truncated);
  EXPECT_EQ(records, 5310);
  EXPECT_EQ(matched, records);
}

}  // namespace
}  // namespace maskserve
