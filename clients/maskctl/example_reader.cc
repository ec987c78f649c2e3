#include "clients/maskctl/example_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/utf8.h"

namespace maskserve {
namespace maskctl {
namespace {

// One parsed CSV/TSV row and the line it started on.
struct Row {
  std::vector<std::string> fields;
  size_t line = 0;
};

absl::Status LineError(absl::string_view source, size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": line ", line, ": ", what));
}

bool IsBlank(absl::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

absl::string_view StripBom(absl::string_view content) {
  if (absl::StartsWith(content, "\xEF\xBB\xBF")) content.remove_prefix(3);
  return content;
}

// RFC 4180 CSV: comma-separated, optional double quotes, "" escapes a quote,
// line breaks allowed inside quotes. Blank lines are skipped.
absl::StatusOr<std::vector<Row>> SplitCsv(absl::string_view content, absl::string_view source) {
  std::vector<Row> rows;
  Row row;
  std::string field;
  size_t line = 1;
  row.line = 1;
  bool in_quotes = false;
  bool after_quote = false;  // just closed a quoted field
  bool field_started = false;
  size_t quote_line = 0;

  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    after_quote = false;
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    const bool blank = row.fields.size() == 1 && row.fields[0].empty();
    if (!blank) rows.push_back(std::move(row));
    row = Row();
  };

  for (size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < content.size() && content[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < content.size() && content[i + 1] == '\n') ++i;
      end_row();
      ++line;
      row.line = line;
    } else if (after_quote) {
      return LineError(source, line, "unexpected character after a closing quote");
    } else if (c == '"' && !field_started) {
      in_quotes = true;
      field_started = true;
      quote_line = line;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (in_quotes) return LineError(source, quote_line, "unterminated quoted field");
  if (field_started || !row.fields.empty()) end_row();
  return rows;
}

// GLUE-style TSV: tab-separated, no quoting.
std::vector<Row> SplitTsv(absl::string_view content) {
  std::vector<Row> rows;
  size_t line = 0;
  for (absl::string_view text : absl::StrSplit(content, '\n')) {
    ++line;
    if (absl::EndsWith(text, "\r")) text.remove_suffix(1);
    if (IsBlank(text)) continue;
    Row row;
    row.line = line;
    for (absl::string_view field : absl::StrSplit(text, '\t')) row.fields.emplace_back(field);
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::StatusOr<std::vector<LabeledExample>> ExamplesFromRows(const std::vector<Row>& rows,
                                                             absl::string_view source,
                                                             const ExampleReadOptions& options) {
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no header row"));
  const Row& header = rows[0];
  int text = -1, text_pair = -1, label = -1;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name(absl::StripAsciiWhitespace(header.fields[i]));
    if (name == options.text_column && text < 0) text = static_cast<int>(i);
    if (name == options.text_pair_column && text_pair < 0) text_pair = static_cast<int>(i);
    if (name == options.label_column && label < 0) label = static_cast<int>(i);
  }
  if (text < 0 || label < 0) {
    return LineError(
        source, header.line,
        absl::StrCat("the header must name the columns '", options.text_column, "' and '",
                     options.label_column, "' (got '", absl::StrJoin(header.fields, "', '"), "')"));
  }
  std::vector<LabeledExample> examples;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (options.limit > 0 && examples.size() >= options.limit) break;
    const Row& row = rows[r];
    if (row.fields.size() != header.fields.size()) {
      return LineError(
          source, row.line,
          absl::StrCat("expected ", header.fields.size(), " fields like the header, got ",
                       row.fields.size(), " (quote fields that contain a separator)"));
    }
    LabeledExample example;
    example.line = row.line;
    example.text = row.fields[size_t(text)];
    if (text_pair >= 0) example.text_pair = row.fields[size_t(text_pair)];
    example.label = std::string(absl::StripAsciiWhitespace(row.fields[size_t(label)]));
    examples.push_back(std::move(example));
  }
  return examples;
}

// A JSONL member as a string: strings as they are, integers in decimal.
absl::StatusOr<std::string> MemberString(const JsonValue& object, const std::string& key,
                                         bool required, absl::string_view source, size_t line) {
  const JsonValue* value = object.Find(key);
  if (value == nullptr || value->is_null()) {
    if (!required) return std::string();
    return LineError(source, line, absl::StrCat("missing key '", key, "'"));
  }
  if (value->is_string()) return value->AsString();
  if (value->is_int64()) return std::to_string(value->AsInt64());
  return LineError(
      source, line,
      absl::StrCat("key '", key, "': expected a string, got ", JsonValue::TypeName(value->type())));
}

absl::StatusOr<std::vector<LabeledExample>> ParseJsonl(absl::string_view content,
                                                       absl::string_view source,
                                                       const ExampleReadOptions& options) {
  std::vector<LabeledExample> examples;
  size_t line = 0;
  for (absl::string_view text : absl::StrSplit(content, '\n')) {
    ++line;
    if (IsBlank(text)) continue;
    if (options.limit > 0 && examples.size() >= options.limit) break;
    absl::StatusOr<JsonValue> parsed = ParseJsonLine(text, source, line);
    if (!parsed.ok()) return parsed.status();
    const JsonValue& object = *parsed;
    LabeledExample example;
    example.line = line;
    absl::StatusOr<std::string> field =
        MemberString(object, options.text_column, true, source, line);
    if (!field.ok()) return field.status();
    example.text = *std::move(field);
    field = MemberString(object, options.text_pair_column, false, source, line);
    if (!field.ok()) return field.status();
    example.text_pair = *std::move(field);
    field = MemberString(object, options.label_column, true, source, line);
    if (!field.ok()) return field.status();
    example.label = *std::move(field);
    examples.push_back(std::move(example));
  }
  return examples;
}

}  // namespace

absl::StatusOr<JsonValue> ParseJsonLine(absl::string_view text, absl::string_view source,
                                        size_t line) {
  JsonValue object;
  try {
    object = JsonValue::Parse(std::string_view(text.data(), text.size()),
                              absl::StrCat(source, ": line ", line));
  } catch (const EngineError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (!object.is_object()) return LineError(source, line, "expected a JSON object");
  return object;
}

absl::StatusOr<ExampleFormat> ParseExampleFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "auto" || lower.empty()) return ExampleFormat::kAuto;
  if (lower == "csv") return ExampleFormat::kCsv;
  if (lower == "tsv") return ExampleFormat::kTsv;
  if (lower == "jsonl" || lower == "ndjson") return ExampleFormat::kJsonl;
  return absl::InvalidArgumentError(
      absl::StrCat("format: expected auto, csv, tsv or jsonl, got '", name, "'"));
}

ExampleFormat ResolveFormat(ExampleFormat requested, absl::string_view source_name,
                            absl::string_view content) {
  if (requested != ExampleFormat::kAuto) return requested;
  const std::string lower = absl::AsciiStrToLower(source_name);
  if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson") ||
      absl::EndsWith(lower, ".json")) {
    return ExampleFormat::kJsonl;
  }
  if (absl::EndsWith(lower, ".tsv")) return ExampleFormat::kTsv;
  if (absl::EndsWith(lower, ".csv")) return ExampleFormat::kCsv;
  for (char c : StripBom(content)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' ? ExampleFormat::kJsonl : ExampleFormat::kCsv;
  }
  return ExampleFormat::kCsv;
}

absl::StatusOr<std::vector<LabeledExample>> ParseExamples(absl::string_view content,
                                                          absl::string_view source_name,
                                                          const ExampleReadOptions& options) {
  if (const size_t bad = InvalidUtf8At(std::string_view(content.data(), content.size()));
      bad != std::string_view::npos) {
    const size_t line = 1 + size_t(std::count(content.begin(), content.begin() + long(bad), '\n'));
    return LineError(source_name, line, absl::StrCat("invalid UTF-8 at byte ", bad));
  }
  content = StripBom(content);
  absl::StatusOr<std::vector<LabeledExample>> examples;
  switch (ResolveFormat(options.format, source_name, content)) {
    case ExampleFormat::kJsonl:
      examples = ParseJsonl(content, source_name, options);
      break;
    case ExampleFormat::kTsv:
      examples = ExamplesFromRows(SplitTsv(content), source_name, options);
      break;
    case ExampleFormat::kCsv:
    case ExampleFormat::kAuto: {
      absl::StatusOr<std::vector<Row>> rows = SplitCsv(content, source_name);
      if (!rows.ok()) return rows.status();
      examples = ExamplesFromRows(*rows, source_name, options);
      break;
    }
  }
  if (!examples.ok()) return examples.status();
  for (const LabeledExample& example : *examples) {
    if (example.text.empty()) return LineError(source_name, example.line, "empty text");
    if (example.label.empty()) return LineError(source_name, example.line, "empty label");
  }
  if (examples->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": no examples"));
  }
  return examples;
}

absl::StatusOr<std::vector<LabeledExample>> ReadExamples(const std::string& path,
                                                         const ExampleReadOptions& options) {
  std::string content;
  if (path == "-") {
    content.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return ParseExamples(content, "<stdin>", options);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseExamples(buffer.str(), path, options);
}

std::vector<std::string> InferLabels(const std::vector<LabeledExample>& examples) {
  std::vector<std::string> labels;
  std::unordered_set<std::string> seen;
  for (const LabeledExample& example : examples) {
    if (seen.insert(example.label).second) labels.push_back(example.label);
  }
  return labels;
}

absl::StatusOr<std::vector<std::string>> ParseLabelList(absl::string_view list) {
  std::vector<std::string> labels;
  std::set<std::string> seen;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::string label(absl::StripAsciiWhitespace(part));
    if (label.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("labels: empty name in '", list, "'"));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(absl::StrCat("labels: '", label, "' given twice"));
    }
    labels.push_back(std::move(label));
  }
  return labels;
}

absl::Status CheckLabels(const std::vector<LabeledExample>& examples,
                         const std::vector<std::string>& labels, absl::string_view source_name) {
  const std::unordered_set<std::string> known(labels.begin(), labels.end());
  for (const LabeledExample& example : examples) {
    if (known.count(example.label) == 0) {
      return LineError(source_name, example.line,
                       absl::StrCat("label '", example.label, "' is not in --labels (",
                                    absl::StrJoin(labels, ","), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace maskctl
}  // namespace maskserve
