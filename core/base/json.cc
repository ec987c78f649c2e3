#include "core/base/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "core/base/error.h"
#include "core/base/utf8.h"

namespace maskserve {
namespace {

// Renders `s` for an error message: at most 80 bytes, control bytes escaped.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  out += "'";
  return out;
}

std::string DescribeByte(const char* p, const char* end) {
  if (p >= end) return "end of input";
  unsigned char c = static_cast<unsigned char>(*p);
  if (c >= 0x21 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  static const char kHex[] = "0123456789abcdef";
  std::string out = "byte 0x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// Recursive-descent parser over a byte range. Depth is bounded by
// kMaxJsonDepth, so recursion is bounded too.
class JsonParser {
 public:
  JsonParser(std::string_view text, std::string_view source_name)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        source_(std::make_shared<const std::string>(source_name)) {}

  JsonValue ParseDocument() {
    if (end_ - p_ >= 3 && static_cast<unsigned char>(p_[0]) == 0xEF &&
        static_cast<unsigned char>(p_[1]) == 0xBB && static_cast<unsigned char>(p_[2]) == 0xBF) {
      Fail("a UTF-8 byte-order mark is not allowed");
    }
    SkipWhitespace();
    if (p_ == end_) Fail("empty document (expected a JSON value)");
    JsonValue root;
    ParseValue(&root, 0);
    SkipWhitespace();
    if (p_ != end_) {
      Fail("unexpected " + DescribeByte(p_, end_) + " after the JSON value (trailing characters)");
    }
    return root;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const { FailAt(p_, what); }
  [[noreturn]] void FailAt(const char* at, const std::string& what) const {
    throw DataLoss(*source_ + ": malformed JSON at byte " + std::to_string(at - begin_) + ": " +
                   what);
  }

  void SkipWhitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
      ++p_;
    }
  }

  void Stamp(JsonValue* v, const char* at) const {
    v->offset_ = static_cast<size_t>(at - begin_);
    v->source_ = source_;
  }

  void ParseValue(JsonValue* out, int depth) {
    Stamp(out, p_);
    if (p_ == end_) Fail("unexpected end of input (expected a value)");
    switch (*p_) {
      case '{':
        ParseObject(out, depth + 1);
        return;
      case '[':
        ParseArray(out, depth + 1);
        return;
      case '"':
        out->type_ = JsonValue::Type::kString;
        ParseString(&out->string_);
        return;
      case 't':
        ExpectLiteral("true");
        out->type_ = JsonValue::Type::kBool;
        out->bool_ = true;
        return;
      case 'f':
        ExpectLiteral("false");
        out->type_ = JsonValue::Type::kBool;
        out->bool_ = false;
        return;
      case 'n':
        ExpectLiteral("null");
        out->type_ = JsonValue::Type::kNull;
        return;
      default:
        if (*p_ == '-' || IsDigit(*p_)) {
          ParseNumber(out);
          return;
        }
        Fail("unexpected " + DescribeByte(p_, end_) + " (expected a value)");
    }
  }

  void ExpectLiteral(const char* literal) {
    size_t n = std::strlen(literal);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, literal, n) != 0) {
      Fail(std::string("invalid literal (expected '") + literal + "')");
    }
    p_ += n;
  }

  void CheckDepth(int depth) const {
    if (depth > kMaxJsonDepth) {
      Fail("nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
  }

  void ParseArray(JsonValue* out, int depth) {
    CheckDepth(depth);
    out->type_ = JsonValue::Type::kArray;
    ++p_;  // '['
    SkipWhitespace();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return;
    }
    while (true) {
      SkipWhitespace();
      out->items_.emplace_back();
      JsonValue& item = out->items_.back();
      item.index_ = static_cast<int64_t>(out->items_.size() - 1);
      ParseValue(&item, depth);
      SkipWhitespace();
      if (p_ == end_) Fail("unexpected end of input inside an array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return;
      }
      Fail("unexpected " + DescribeByte(p_, end_) + " in an array (expected ',' or ']')");
    }
  }

  void ParseObject(JsonValue* out, int depth) {
    CheckDepth(depth);
    out->type_ = JsonValue::Type::kObject;
    ++p_;  // '{'
    SkipWhitespace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return;
    }
    std::vector<const char*> key_offsets;
    while (true) {
      SkipWhitespace();
      if (p_ == end_) Fail("unexpected end of input inside an object");
      if (*p_ != '"') {
        Fail("unexpected " + DescribeByte(p_, end_) + " in an object (expected a string key)");
      }
      key_offsets.push_back(p_);
      out->items_.emplace_back();
      JsonValue& member = out->items_.back();
      member.is_member_ = true;
      ParseString(&member.key_);
      SkipWhitespace();
      if (p_ == end_ || *p_ != ':') {
        Fail("unexpected " + DescribeByte(p_, end_) + " after an object key (expected ':')");
      }
      ++p_;
      SkipWhitespace();
      ParseValue(&member, depth);
      SkipWhitespace();
      if (p_ == end_) Fail("unexpected end of input inside an object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        break;
      }
      Fail("unexpected " + DescribeByte(p_, end_) + " in an object (expected ',' or '}')");
    }
    CheckDuplicateKeys(*out, key_offsets);
  }

  void CheckDuplicateKeys(const JsonValue& object,
                          const std::vector<const char*>& key_offsets) const {
    const std::vector<JsonValue>& items = object.items_;
    const size_t n = items.size();
    if (n < 2) return;
    if (n <= 16) {
      for (size_t i = 1; i < n; ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (items[i].key_ == items[j].key_) {
            FailAt(key_offsets[i], "duplicate object key " + Quote(items[i].key_));
          }
        }
      }
      return;
    }
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (items[a].key_ != items[b].key_) return items[a].key_ < items[b].key_;
      return a < b;
    });
    for (size_t i = 1; i < n; ++i) {
      if (items[order[i]].key_ == items[order[i - 1]].key_) {
        FailAt(key_offsets[order[i]], "duplicate object key " + Quote(items[order[i]].key_));
      }
    }
  }

  // Parses a string literal at p_ (which points at the opening quote).
  void ParseString(std::string* out) {
    const char* start = p_;
    ++p_;  // opening quote
    while (true) {
      // Fast path: copy a run of plain ASCII bytes.
      const char* run = p_;
      while (p_ < end_) {
        unsigned char c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      out->append(run, p_ - run);
      if (p_ == end_) FailAt(start, "unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return;
      }
      if (c == '\\') {
        ParseEscape(out);
        continue;
      }
      if (c < 0x20) {
        Fail("unescaped control character " + DescribeByte(p_, end_) + " in a string");
      }
      char32_t cp;
      const size_t len =
          DecodeUtf8(reinterpret_cast<const unsigned char*>(p_), size_t(end_ - p_), &cp);
      if (len == 0) Fail("invalid UTF-8 in a string");
      out->append(p_, len);
      p_ += len;
    }
  }

  uint32_t ParseHex4() {
    if (end_ - p_ < 4) Fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexValue(p_[i]);
      if (h < 0) Fail("invalid hex digit in a \\u escape");
      v = (v << 4) | static_cast<uint32_t>(h);
    }
    p_ += 4;
    return v;
  }

  void ParseEscape(std::string* out) {
    const char* escape_start = p_;
    ++p_;  // backslash
    if (p_ == end_) FailAt(escape_start, "truncated escape sequence");
    char e = *p_++;
    switch (e) {
      case '"':
        out->push_back('"');
        return;
      case '\\':
        out->push_back('\\');
        return;
      case '/':
        out->push_back('/');
        return;
      case 'b':
        out->push_back('\b');
        return;
      case 'f':
        out->push_back('\f');
        return;
      case 'n':
        out->push_back('\n');
        return;
      case 'r':
        out->push_back('\r');
        return;
      case 't':
        out->push_back('\t');
        return;
      case 'u': {
        uint32_t cp = ParseHex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
            FailAt(escape_start, "high surrogate \\u escape not followed by a low surrogate");
          }
          p_ += 2;
          uint32_t low = ParseHex4();
          if (low < 0xDC00 || low > 0xDFFF) {
            FailAt(escape_start, "high surrogate \\u escape not followed by a low surrogate");
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          FailAt(escape_start, "lone low surrogate \\u escape");
        }
        AppendUtf8(char32_t(cp), out);
        return;
      }
      default:
        FailAt(escape_start, "invalid escape sequence '\\" + std::string(1, e) + "'");
    }
  }

  void ParseNumber(JsonValue* out) {
    const char* start = p_;
    bool negative = false;
    if (*p_ == '-') {
      negative = true;
      ++p_;
    }
    if (p_ == end_ || !IsDigit(*p_)) Fail("invalid number (expected a digit)");
    const char* int_begin = p_;
    if (*p_ == '0') {
      ++p_;
      if (p_ < end_ && IsDigit(*p_)) FailAt(start, "leading zeros are not allowed");
    } else {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    const char* int_end = p_;
    bool is_integer_literal = true;
    if (p_ < end_ && *p_ == '.') {
      is_integer_literal = false;
      ++p_;
      if (p_ == end_ || !IsDigit(*p_)) Fail("invalid number (expected a digit after '.')");
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    int64_t exponent_hint = 0;
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      is_integer_literal = false;
      ++p_;
      bool exp_negative = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) {
        exp_negative = *p_ == '-';
        ++p_;
      }
      if (p_ == end_ || !IsDigit(*p_)) Fail("invalid number (expected an exponent digit)");
      while (p_ < end_ && IsDigit(*p_)) {
        if (exponent_hint < 100000) exponent_hint = exponent_hint * 10 + (*p_ - '0');
        ++p_;
      }
      if (exp_negative) exponent_hint = -exponent_hint;
    }
    out->type_ = JsonValue::Type::kNumber;

    if (is_integer_literal) {
      // Exact int64 when it fits.
      uint64_t magnitude = 0;
      bool overflow = false;
      for (const char* q = int_begin; q < int_end; ++q) {
        uint64_t digit = static_cast<uint64_t>(*q - '0');
        if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
          overflow = true;
          break;
        }
        magnitude = magnitude * 10 + digit;
      }
      const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
      if (!overflow && magnitude <= limit) {
        out->has_int_ = true;
        out->int_ =
            negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
        out->number_ = static_cast<double>(out->int_);
        return;
      }
    }
    double value = 0.0;
    auto result = std::from_chars(start, p_, value);
    if (result.ec == std::errc::result_out_of_range) {
      // Decimal magnitude estimate: digits before the point plus exponent.
      int64_t magnitude_hint = (int_end - int_begin) + exponent_hint;
      if (*int_begin == '0') magnitude_hint = exponent_hint;
      if (magnitude_hint > 0) FailAt(start, "number out of the range of a double");
      value = negative ? -0.0 : 0.0;  // underflow
    } else if (result.ec != std::errc() || result.ptr != p_) {
      FailAt(start, "invalid number");
    }
    out->number_ = value;
    if (std::isfinite(value) && std::trunc(value) == value && value >= -9223372036854775808.0 &&
        value < 9223372036854775808.0) {
      out->has_int_ = true;
      out->int_ = static_cast<int64_t>(value);
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::shared_ptr<const std::string> source_;
};

JsonValue JsonValue::Parse(std::string_view text, std::string_view source_name) {
  JsonParser parser(text, source_name);
  return parser.ParseDocument();
}

const char* JsonValue::TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kNumber:
      return "number";
    case Type::kString:
      return "string";
    case Type::kArray:
      return "array";
    case Type::kObject:
      return "object";
  }
  return "?";
}

std::string JsonValue::Context() const {
  std::string out = source_ ? *source_ : std::string("<json>");
  out += ": ";
  if (is_member_) {
    out += "key " + Quote(key_);
  } else if (index_ >= 0) {
    out += "element [" + std::to_string(index_) + "]";
  } else {
    out += "top-level value";
  }
  out += " (byte " + std::to_string(offset_) + ")";
  return out;
}

void JsonValue::ThrowType(const char* expected) const {
  throw InvalidArgument(Context() + ": expected " + expected + ", got " + TypeName(type_));
}

bool JsonValue::AsBool() const {
  if (type_ != Type::kBool) ThrowType("a bool");
  return bool_;
}

double JsonValue::AsDouble() const {
  if (type_ != Type::kNumber) ThrowType("a number");
  return number_;
}

int64_t JsonValue::AsInt64() const {
  if (type_ != Type::kNumber) ThrowType("an integer");
  if (!has_int_) {
    throw InvalidArgument(Context() + ": expected an integer, got " + Serialize());
  }
  return int_;
}

const std::string& JsonValue::AsString() const {
  if (type_ != Type::kString) ThrowType("a string");
  return string_;
}

size_t JsonValue::size() const {
  if (type_ != Type::kArray && type_ != Type::kObject) {
    ThrowType("an array or object");
  }
  return items_.size();
}

const std::vector<JsonValue>& JsonValue::items() const {
  if (type_ != Type::kArray && type_ != Type::kObject) {
    ThrowType("an array or object");
  }
  return items_;
}

const JsonValue& JsonValue::operator[](size_t index) const {
  if (type_ != Type::kArray) ThrowType("an array");
  if (index >= items_.size()) {
    throw NotFound(Context() + ": index " + std::to_string(index) + " out of range (size " +
                   std::to_string(items_.size()) + ")");
  }
  return items_[index];
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (type_ != Type::kObject) ThrowType("an object");
  for (const JsonValue& member : items_) {
    if (member.key_ == key) return &member;
  }
  return nullptr;
}

const JsonValue& JsonValue::At(std::string_view key) const {
  const JsonValue* v = Find(key);
  if (v == nullptr) {
    throw NotFound(Context() + ": missing key " + Quote(key));
  }
  return *v;
}

const std::string& JsonValue::GetString(std::string_view key) const { return At(key).AsString(); }
int64_t JsonValue::GetInt64(std::string_view key) const { return At(key).AsInt64(); }
double JsonValue::GetDouble(std::string_view key) const { return At(key).AsDouble(); }
bool JsonValue::GetBool(std::string_view key) const { return At(key).AsBool(); }

namespace {

void SerializeString(const std::string& s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string JsonQuote(const std::string& text) {
  std::string out;
  SerializeString(text, &out);
  return out;
}

std::string JsonValue::Serialize() const {
  std::string out;
  // Iterative over an explicit stack would avoid recursion, but parsed values
  // are at most kMaxJsonDepth deep, so recursion is bounded.
  struct Writer {
    static void Write(const JsonValue& v, std::string* out) {
      switch (v.type_) {
        case Type::kNull:
          out->append("null");
          return;
        case Type::kBool:
          out->append(v.bool_ ? "true" : "false");
          return;
        case Type::kNumber: {
          char buf[64];
          std::to_chars_result r;
          if (v.has_int_ && static_cast<double>(v.int_) == v.number_) {
            r = std::to_chars(buf, buf + sizeof(buf), v.int_);
          } else if (std::isfinite(v.number_)) {
            r = std::to_chars(buf, buf + sizeof(buf), v.number_);
          } else {
            out->append("null");  // not representable in JSON
            return;
          }
          out->append(buf, r.ptr - buf);
          return;
        }
        case Type::kString:
          SerializeString(v.string_, out);
          return;
        case Type::kArray: {
          out->push_back('[');
          for (size_t i = 0; i < v.items_.size(); ++i) {
            if (i) out->push_back(',');
            Write(v.items_[i], out);
          }
          out->push_back(']');
          return;
        }
        case Type::kObject: {
          out->push_back('{');
          for (size_t i = 0; i < v.items_.size(); ++i) {
            if (i) out->push_back(',');
            SerializeString(v.items_[i].key_, out);
            out->push_back(':');
            Write(v.items_[i], out);
          }
          out->push_back('}');
          return;
        }
      }
    }
  };
  Writer::Write(*this, &out);
  return out;
}

}  // namespace maskserve
