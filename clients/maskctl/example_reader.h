// File: clients/maskctl/example_reader.h
//
// Reads labelled training examples for `maskctl train` from CSV, TSV or
// JSON-lines text, and works out the label list.
//
// Formats (the column / key names are configurable, defaults shown):
// - CSV (RFC 4180): a header row naming the columns, at least `text` and
//   `label`, optionally `text_pair`; other columns are ignored. Fields may be
//   quoted ("a, b"), with "" for a quote and line breaks inside quotes. CRLF
//   or LF line ends; blank lines are skipped.
// - TSV (GLUE style): a header row, fields separated by tabs, no quoting.
// - JSONL: one JSON object per line with string members `text`, `label` and
//   optionally `text_pair`; an integer label is taken as its decimal string.
//   Other members are ignored; blank lines are skipped.
//
// Every error names the source and the 1-based line, e.g.
//   "train.csv: line 7: empty text".
//
// Example:
//   ExampleReadOptions options;  // CSV by extension, default columns
//   absl::StatusOr<std::vector<LabeledExample>> examples =
//       ParseExamples(content, "train.csv", options);
//   std::vector<std::string> labels = InferLabels(*examples);
//
// Thread safety: free functions without shared state.
#ifndef MASKSERVE_CLIENTS_MASKCTL_EXAMPLE_READER_H_
#define MASKSERVE_CLIENTS_MASKCTL_EXAMPLE_READER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/json.h"

namespace maskserve {
namespace maskctl {

enum class ExampleFormat { kAuto, kCsv, kTsv, kJsonl };

// One training example and the line it started on (for messages).
struct LabeledExample {
  std::string text;
  std::string text_pair;
  std::string label;
  size_t line = 0;
};

// How to read an examples file.
struct ExampleReadOptions {
  // kAuto picks by file extension (.jsonl/.ndjson/.json: JSONL, .tsv: TSV,
  // anything else: CSV), or, for stdin, by whether the first non-blank
  // character is '{'.
  ExampleFormat format = ExampleFormat::kAuto;
  std::string text_column = "text";
  // Optional column; absent from a file means single-text examples.
  std::string text_pair_column = "text_pair";
  std::string label_column = "label";
  // Keep only the first `limit` examples; 0 keeps all.
  size_t limit = 0;
};

// Parses "auto", "csv", "tsv" or "jsonl" (case-insensitive).
absl::StatusOr<ExampleFormat> ParseExampleFormat(absl::string_view name);

// The format to use for `source_name` ("-" for stdin) and its content.
ExampleFormat ResolveFormat(ExampleFormat requested, absl::string_view source_name,
                            absl::string_view content);

// Parses `content`; `source_name` prefixes every error. Fails with
// INVALID_ARGUMENT on malformed input, a missing column, an empty text or
// label, or when no example is found.
absl::StatusOr<std::vector<LabeledExample>> ParseExamples(absl::string_view content,
                                                          absl::string_view source_name,
                                                          const ExampleReadOptions& options);

// Reads `path` ("-" = stdin) and parses it. A file that cannot be read
// fails with INVALID_ARGUMENT naming the path and the reason.
absl::StatusOr<std::vector<LabeledExample>> ReadExamples(const std::string& path,
                                                         const ExampleReadOptions& options);

// One JSON-lines record: the object `text` holds, read from `line` of
// `source`; INVALID_ARGUMENT naming them when it is not valid JSON or not an
// object. Shared with `maskctl predict`'s input reader.
absl::StatusOr<JsonValue> ParseJsonLine(absl::string_view text, absl::string_view source,
                                        size_t line);

// The distinct labels in first-seen order.
std::vector<std::string> InferLabels(const std::vector<LabeledExample>& examples);

// Parses a --labels value ("neg,pos"): trims spaces, refuses empty and
// duplicate names.
absl::StatusOr<std::vector<std::string>> ParseLabelList(absl::string_view list);

// OK when every example's label is in `labels`; otherwise INVALID_ARGUMENT
// naming the first offending line and label.
absl::Status CheckLabels(const std::vector<LabeledExample>& examples,
                         const std::vector<std::string>& labels, absl::string_view source_name);

}  // namespace maskctl
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_MASKCTL_EXAMPLE_READER_H_
