#include "core/base/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/base/error.h"

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

JsonValue P(const std::string& text) { return JsonValue::Parse(text, "test.json"); }

// Expects Parse(text) to throw DataLoss whose message names the source and
// contains `fragment`.
void ExpectMalformed(const std::string& text, const std::string& fragment = "") {
  try {
    JsonValue::Parse(text, "bad.json");
    ADD_FAILURE() << "parsed malformed input: " << text;
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
    std::string what = e.what();
    EXPECT_EQ(what.rfind("bad.json: malformed JSON at byte ", 0), 0u) << what;
    if (!fragment.empty()) {
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
    }
  }
}

TEST(JsonTest, Scalars) {
  EXPECT_TRUE(P("null").is_null());
  EXPECT_TRUE(P("true").AsBool());
  EXPECT_FALSE(P(" false ").AsBool());
  EXPECT_EQ(P("\"hi\"").AsString(), "hi");
  EXPECT_EQ(P("42").AsInt64(), 42);
  EXPECT_EQ(P("-7").AsInt64(), -7);
  EXPECT_DOUBLE_EQ(P("1.5").AsDouble(), 1.5);
  EXPECT_DOUBLE_EQ(P("-2.5e-3").AsDouble(), -2.5e-3);
  EXPECT_DOUBLE_EQ(P("1E2").AsDouble(), 100.0);
  EXPECT_EQ(P("\t\r\n 0 \n").AsInt64(), 0);
}

TEST(JsonTest, IntegersAreExact) {
  EXPECT_EQ(P("9007199254740993").AsInt64(), 9007199254740993LL);  // 2^53 + 1
  EXPECT_EQ(P("9223372036854775807").AsInt64(), INT64_MAX);
  EXPECT_EQ(P("-9223372036854775808").AsInt64(), INT64_MIN);
  EXPECT_TRUE(P("1e3").is_int64());
  EXPECT_EQ(P("1e3").AsInt64(), 1000);
  EXPECT_EQ(P("2.0").AsInt64(), 2);
  EXPECT_FALSE(P("1.5").is_int64());
  EXPECT_THROW(P("1.5").AsInt64(), EngineError);
  // Beyond int64: still a number, not an integer.
  JsonValue big = P("9223372036854775808");
  EXPECT_TRUE(big.is_number());
  EXPECT_FALSE(big.is_int64());
  EXPECT_DOUBLE_EQ(big.AsDouble(), 9223372036854775808.0);
  EXPECT_THROW(big.AsInt64(), EngineError);
  EXPECT_EQ(P("-0").AsInt64(), 0);
  EXPECT_EQ(P("1e-400").AsDouble(), 0.0);  // underflow rounds to zero
}

TEST(JsonTest, StringEscapes) {
  EXPECT_EQ(P(R"("a\"b\\c\/d\b\f\n\r\t")").AsString(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(P(R"("\u0041\u00e9\u4e2d")").AsString(), "A\xC3\xA9\xE4\xB8\xAD");
  EXPECT_EQ(P(R"("\ud83d\ude00")").AsString(), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(P(R"("\uD83D\uDE00")").AsString(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(P(R"("\u0000")").AsString(), std::string("\0", 1));
  EXPECT_EQ(P("\"caf\xC3\xA9 \xF0\x9F\x91\x8D\"").AsString(), "caf\xC3\xA9 \xF0\x9F\x91\x8D");
}

TEST(JsonTest, ObjectsKeepOrderAndNest) {
  JsonValue v = P(R"({"b": 1, "a": [true, null, {"x": "y"}], "c": {}})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.items()[0].key(), "b");
  EXPECT_EQ(v.items()[1].key(), "a");
  EXPECT_EQ(v.items()[2].key(), "c");
  EXPECT_EQ(v.GetInt64("b"), 1);
  const JsonValue& a = v.At("a");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_TRUE(a[0].AsBool());
  EXPECT_TRUE(a[1].is_null());
  EXPECT_EQ(a[2].GetString("x"), "y");
  EXPECT_EQ(v.At("c").size(), 0u);
  EXPECT_EQ(v.Find("zzz"), nullptr);
  EXPECT_TRUE(v.Contains("a"));
  EXPECT_EQ(P("[]").size(), 0u);
  EXPECT_EQ(P("[ ]").size(), 0u);
  EXPECT_EQ(P("{ }").size(), 0u);
}

TEST(JsonTest, AccessorErrorsNameKeyAndSource) {
  JsonValue v = JsonValue::Parse(R"({"hidden_size": "128", "layers": [1, 2]})", "config.json");
  try {
    v.GetInt64("hidden_size");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()),
              "config.json: key 'hidden_size' (byte 16): expected an integer, "
              "got string");
  }
  try {
    v.At("vocab_size");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()),
              "config.json: top-level value (byte 0): missing key 'vocab_size'");
  }
  try {
    v.At("layers")[1].AsString();
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(std::string(e.what()),
              "config.json: element [1] (byte 37): expected a string, got number");
  }
  try {
    v.At("layers")[5];
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("index 5 out of range (size 2)"), std::string::npos);
  }
  EXPECT_THROW(v.At("layers").At("x"), EngineError);      // not an object
  EXPECT_THROW(v.At("hidden_size").size(), EngineError);  // not a container
  EXPECT_THROW(JsonValue().AsBool(), EngineError);
}

TEST(JsonTest, SerializeRoundTrips) {
  const std::string doc =
      R"({"a":[1,-2,3.5,1e+300,true,false,null],"s":"q\"\\\n\u0001\u00e9","o":{"k":{}},"e":[]})";
  JsonValue v = P(doc);
  std::string s = v.Serialize();
  EXPECT_EQ(s,
            "{\"a\":[1,-2,3.5,1e+300,true,false,null],\"s\":"
            "\"q\\\"\\\\\\n\\u0001\xC3\xA9\","
            "\"o\":{\"k\":{}},\"e\":[]}");
  EXPECT_EQ(P(s).Serialize(), s);
  EXPECT_EQ(P("9007199254740993").Serialize(), "9007199254740993");
  EXPECT_EQ(P("0.1").Serialize(), "0.1");
}

TEST(JsonTest, RejectsMalformedInput) {
  ExpectMalformed("", "empty document");
  ExpectMalformed("   ", "empty document");
  ExpectMalformed("{", "end of input");
  ExpectMalformed("[1, 2", "end of input");
  ExpectMalformed("{\"a\": 1,}", "expected a string key");
  ExpectMalformed("[1, 2,]", "expected a value");
  ExpectMalformed("[1 2]", "expected ',' or ']'");
  ExpectMalformed("{\"a\" 1}", "expected ':'");
  ExpectMalformed("{a: 1}", "expected a string key");
  ExpectMalformed("{'a': 1}");
  ExpectMalformed("\"abc", "unterminated string");
  ExpectMalformed("\"a\\x\"", "invalid escape");
  ExpectMalformed("\"a\\", "truncated escape");
  ExpectMalformed("\"\\u12G4\"", "invalid hex digit");
  ExpectMalformed("\"\\u12\"", "\\u escape");
  ExpectMalformed("\"\\ud83d\"", "low surrogate");
  ExpectMalformed("\"\\ud83dx\"", "low surrogate");
  ExpectMalformed("\"\\ud83d\\u0041\"", "low surrogate");
  ExpectMalformed("\"\\ude00\"", "lone low surrogate");
  ExpectMalformed("\"tab\there\"", "control character");
  ExpectMalformed("\"bad \xFF utf8\"", "invalid UTF-8");
  ExpectMalformed("\"overlong \xC0\xAF\"", "invalid UTF-8");
  ExpectMalformed("\"surrogate \xED\xA0\x80\"", "invalid UTF-8");
  ExpectMalformed("\"truncated \xE4\xB8\"", "invalid UTF-8");
  ExpectMalformed("01", "leading zeros");
  ExpectMalformed("-", "expected a digit");
  ExpectMalformed("1.", "after '.'");
  ExpectMalformed(".5", "expected a value");
  ExpectMalformed("1e", "exponent digit");
  ExpectMalformed("+1", "expected a value");
  ExpectMalformed("1e400", "out of the range");
  ExpectMalformed("NaN");
  ExpectMalformed("Infinity");
  ExpectMalformed("-Infinity");
  ExpectMalformed("tru", "invalid literal");
  ExpectMalformed("nul", "invalid literal");
  ExpectMalformed("truex", "trailing characters");
  ExpectMalformed("{} {}", "trailing characters");
  ExpectMalformed("1 2", "trailing characters");
  ExpectMalformed("[1] // comment", "trailing characters");
  ExpectMalformed("/* c */ 1", "expected a value");
  ExpectMalformed("\xEF\xBB\xBF{}", "byte-order mark");
  ExpectMalformed("{\"a\": 1, \"a\": 2}", "duplicate object key 'a'");
  ExpectMalformed(std::string("[1]\0", 4), "trailing characters");
  ExpectMalformed("[\v1]", "expected a value");
}

TEST(JsonTest, DuplicateKeysInLargeObjects) {
  std::string doc = "{";
  for (int i = 0; i < 100; ++i) doc += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ",";
  JsonValue ok = P(doc.substr(0, doc.size() - 1) + "}");
  EXPECT_EQ(ok.size(), 100u);
  EXPECT_EQ(ok.GetInt64("k99"), 99);
  ExpectMalformed(doc + "\"k42\": 0}", "duplicate object key 'k42'");
}

TEST(JsonTest, ErrorOffsetsPointAtTheProblem) {
  try {
    JsonValue::Parse("{\"a\": [1, 2, x]}", "f.json");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(std::string(e.what()),
              "f.json: malformed JSON at byte 13: unexpected 'x' (expected a value)");
  }
}

TEST(JsonTest, NestingDepthIsLimited) {
  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(P(ok).is_array());
  std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  ExpectMalformed(deep, "nesting deeper than 256");
  std::string objects;
  for (int i = 0; i <= kMaxJsonDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(kMaxJsonDepth + 1, '}');
  ExpectMalformed(objects, "nesting deeper");
  // Hostile: a million unclosed brackets must fail cleanly, not overflow.
  ExpectMalformed(std::string(1000000, '['), "nesting deeper");
}

TEST(JsonTest, EveryTruncationOfAValidDocumentFails) {
  const std::string doc =
      R"({"config": {"hidden_size": 128, "eps": 1e-12, "act": "gelu", "ok": true},)"
      R"( "ids": [101, 7592, -1, 0.5], "s": "\u00e9\ud83d\ude00\n", "n": null})";
  EXPECT_NO_THROW(P(doc));
  for (size_t n = 0; n < doc.size(); ++n) {
    ExpectMalformed(doc.substr(0, n));
  }
}

// Random byte mutations of a valid document must never crash: each either
// parses (and then re-serialises stably) or throws DataLoss.
TEST(JsonTest, HostileMutationsNeverCrash) {
  const std::string seed =
      R"({"__metadata__": {"format": "pt"}, "bert.embeddings.word_embeddings.weight":)"
      R"( {"dtype": "F32", "shape": [30522, 128], "data_offsets": [0, 15627264]},)"
      R"( "x": [1.5e3, -0, true, false, null, "\u00e9\ud83d\ude00\\\"", [[[]]], {}]})";
  std::mt19937_64 rng(12345);
  const char kInteresting[] = "{}[]\":,\\u0123456789eE+-.tfn \x80\xff\xc3\xed";
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::string doc = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !doc.empty(); ++e) {
      size_t pos = rng() % doc.size();
      switch (rng() % 5) {
        case 0:
          doc[pos] = static_cast<char>(rng() & 0xFF);
          break;
        case 1:
          doc[pos] = kInteresting[rng() % (sizeof(kInteresting) - 1)];
          break;
        case 2:
          doc.insert(pos, 1, kInteresting[rng() % (sizeof(kInteresting) - 1)]);
          break;
        case 3:
          doc.erase(pos, 1 + rng() % 3);
          break;
        case 4:
          doc.resize(pos);
          break;
      }
    }
    try {
      JsonValue v = JsonValue::Parse(doc, "fuzz.json");
      std::string s = v.Serialize();
      EXPECT_EQ(JsonValue::Parse(s, "fuzz2.json").Serialize(), s) << doc;
      ++parsed;
    } catch (const EngineError& e) {
      ASSERT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
}

TEST(JsonTest, RealFilesFromSharedData) {
  const std::string dir = SharedDir() + "/data/hf_parity";
  std::ifstream config_file(dir + "/tiny-bert-random/config.json", std::ios::binary);
  std::ifstream st_file(dir + "/tiny-bert-random/model.safetensors", std::ios::binary);
  if (!config_file || !st_file) {
    GTEST_SKIP() << "shared data not found under " << dir
                 << "; set MASKSERVE_SHARED_DIR to the shared data checkout";
  }
  std::string config((std::istreambuf_iterator<char>(config_file)),
                     std::istreambuf_iterator<char>());
  JsonValue c = JsonValue::Parse(config, "config.json");
  EXPECT_EQ(c.GetInt64("hidden_size"), 128);
  EXPECT_EQ(c.GetInt64("vocab_size"), 30522);
  EXPECT_DOUBLE_EQ(c.GetDouble("layer_norm_eps"), 1e-12);

  // safetensors: 8-byte little-endian header length, then a JSON header.
  unsigned char len_bytes[8];
  ASSERT_TRUE(st_file.read(reinterpret_cast<char*>(len_bytes), 8));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  ASSERT_LT(header_len, 100000000u);
  std::string header(header_len, '\0');
  ASSERT_TRUE(st_file.read(&header[0], static_cast<std::streamsize>(header_len)));
  JsonValue h = JsonValue::Parse(header, "model.safetensors header");
  ASSERT_TRUE(h.is_object());
  int tensors = 0;
  for (const JsonValue& entry : h.items()) {
    if (entry.key() == "__metadata__") continue;
    ++tensors;
    EXPECT_TRUE(entry.GetString("dtype") == "F32") << entry.key();
    EXPECT_EQ(entry.At("data_offsets").size(), 2u);
    for (const JsonValue& dim : entry.At("shape").items()) EXPECT_GE(dim.AsInt64(), 0);
  }
  EXPECT_GT(tensors, 10);
}

}  // namespace
}  // namespace maskserve

namespace maskserve {
namespace {

TEST(JsonQuoteTest, EscapesLikeSerializeAndParsesBack) {
  const std::string text = "say \"hi\"\\ \n\t\x01 caf\xc3\xa9";
  const std::string quoted = JsonQuote(text);
  EXPECT_EQ(quoted, "\"say \\\"hi\\\"\\\\ \\n\\t\\u0001 caf\xc3\xa9\"");
  EXPECT_EQ(JsonValue::Parse(quoted, "test").AsString(), text);
}

}  // namespace
}  // namespace maskserve
