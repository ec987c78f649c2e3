// File: core/base/json.h
//
// A small, strict JSON (RFC 8259) value and parser for the few documents the
// engine reads: HF `config.json`, the safetensors header, and JSON-lines test
// fixtures. Standard library only.
//
// Parsing is strict: exactly one value with optional surrounding whitespace
// (space, \t, \n, \r); no comments, trailing commas, NaN/Infinity, leading
// zeros, byte-order mark, unescaped control characters, invalid UTF-8, lone
// surrogate escapes or duplicate object keys. Nesting deeper than
// kMaxJsonDepth is rejected, so hostile input cannot exhaust the stack.
// Malformed input throws DataLoss naming the source and the byte offset.
//
// Numbers keep their double value and, when the value is integral and fits,
// an exact int64 (an integer literal such as 9007199254740993 keeps every
// digit; 1e3 and 2.0 are integral too). Object members keep document order.
//
// Accessors throw EngineError (core/base/error.h) with messages that name the
// source, the key (or array index) by which the value was reached and its
// byte offset, e.g.
//   config.json: key 'hidden_size' (byte 57): expected an integer, got string
// A missing key throws NotFound; a value of the wrong type InvalidArgument.
//
// Thread safety: a JsonValue is immutable after parsing; concurrent reads are
// safe.
#ifndef MASKSERVE_CORE_BASE_JSON_H_
#define MASKSERVE_CORE_BASE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace maskserve {

// Maximum nesting of arrays/objects accepted by the parser.
inline constexpr int kMaxJsonDepth = 256;

// One parsed JSON value (null, bool, number, string, array or object) that
// remembers where it came from (source name, key or index, byte offset) so
// accessor errors can say exactly which field is wrong. Contract and error
// behaviour as described in the file comment.
// Thread safety: immutable after Parse(); safe for concurrent reads.
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  // A null value (also what a default-constructed value is).
  JsonValue() = default;

  // Parses `text` (a complete JSON document). `source_name` (e.g. a file
  // path) prefixes every error message. Throws DataLoss on malformed input.
  static JsonValue Parse(std::string_view text, std::string_view source_name);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  // A number whose value is integral and representable as int64.
  bool is_int64() const { return type_ == Type::kNumber && has_int_; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Typed access; each throws InvalidArgument naming this value's key when
  // the type does not match.
  bool AsBool() const;
  double AsDouble() const;
  // Integral numbers only (throws on 1.5, on values beyond int64, ...).
  int64_t AsInt64() const;
  const std::string& AsString() const;

  // Arrays: number of elements; objects: number of members.
  size_t size() const;
  // Array elements, or object member values in document order (each knows
  // its key()). Throws unless this is an array or an object.
  const std::vector<JsonValue>& items() const;
  // Array element `index`; throws InvalidArgument unless this is an array,
  // NotFound when out of range.
  const JsonValue& operator[](size_t index) const;

  // Object member access. At() throws NotFound naming the key when missing;
  // Find() returns nullptr instead. Both throw InvalidArgument unless this is
  // an object. Lookup is linear in the number of members.
  const JsonValue& At(std::string_view key) const;
  const JsonValue* Find(std::string_view key) const;
  bool Contains(std::string_view key) const { return Find(key) != nullptr; }

  // Convenience typed member getters: At(key).AsX().
  const std::string& GetString(std::string_view key) const;
  int64_t GetInt64(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  bool GetBool(std::string_view key) const;

  // The key under which this value is an object member ("" otherwise).
  const std::string& key() const { return key_; }
  // Byte offset of this value in the parsed text.
  size_t offset() const { return offset_; }
  // "string", "number", ... for messages.
  static const char* TypeName(Type type);

  // Compact serialisation (RFC 8259; non-ASCII is emitted as UTF-8, control
  // characters as \u escapes). Integers print exactly; other numbers with 17
  // significant digits so they round-trip.
  std::string Serialize() const;

 private:
  friend class JsonParser;

  // "<source>: key 'k' (byte N)" etc., the prefix of accessor errors.
  std::string Context() const;
  [[noreturn]] void ThrowType(const char* expected) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  bool has_int_ = false;
  int64_t int_ = 0;
  double number_ = 0.0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::string key_;
  bool is_member_ = false;  // reached as an object member (key_ is valid)
  int64_t index_ = -1;      // position in the parent array, -1 otherwise
  size_t offset_ = 0;
  std::shared_ptr<const std::string> source_;
};

// `text` as a JSON string literal, quotes included, escaped as Serialize()
// escapes strings.
std::string JsonQuote(const std::string& text);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BASE_JSON_H_
