// File: clients/maskctl/predict_io.h
//
// The input and output of `maskctl predict --input=FILE`, streamed one input
// at a time so that a file of any length is classified in bounded memory.
//
// Input (--input_format):
// - text: one text per line (UTF-8; a trailing CR is dropped; lines of only
//   spaces and tabs are skipped). The id of a text is its 1-based line
//   number. With `pairs`, a tab splits the line into text and text_pair.
// - jsonl: one JSON object per line, {"id": "a1", "text": "..."} with an
//   optional "text_pair"; the id may be a string or an integer and defaults
//   to the line number; other members are ignored; blank lines are skipped.
//   The text keys are configurable (`text_key`, `text_pair_key`).
// - auto: jsonl for a name ending in .jsonl, .ndjson or .json, or when the
//   first non-blank line starts with '{'; text otherwise.
// Every error names the source and the 1-based line, e.g.
//   "texts.jsonl: line 7: missing key 'text'".
//
// Output (--output_format):
// - table: "label<TAB>probability[<TAB>top labels]<TAB>text[<TAB>text_pair]"
//   per input, as maskctl has always printed.
// - csv: a header "id,text,label,probability,p_<label>..." (one probability
//   column per label of the profile, in label-index order; with `pairs` a
//   text_pair column after text), then a row per input; fields are quoted
//   per RFC 4180 when they hold a comma, quote, CR or LF; LF line ends.
// - jsonl: {"id":...,"label":"pos","probability":0.9,
//   "probabilities":{"neg":0.1,"pos":0.9}} per input, plus "top" (with
//   top_k > 1) and "logits" (with return_logits).
// CSV and JSONL probabilities have 6 significant digits.
//
// Thread safety: one reader or writer per thread.
#ifndef MASKSERVE_CLIENTS_MASKCTL_PREDICT_IO_H_
#define MASKSERVE_CLIENTS_MASKCTL_PREDICT_IO_H_

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "maskserve/v1/maskserve.pb.h"

namespace maskserve {
namespace maskctl {

enum class InputFormat { kAuto, kText, kJsonl };
enum class OutputFormat { kTable, kCsv, kJsonl };

// "auto", "text" (or "txt") and "jsonl" (or "ndjson"), case-insensitive.
absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name);
// "table", "csv" and "jsonl", case-insensitive.
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name);

// One text to classify.
struct PredictInput {
  // The id as given (an integer id in decimal), or the line number.
  std::string id;
  // Whether `id` is an integer (written unquoted in JSONL).
  bool id_is_number = false;
  std::string text;
  std::string text_pair;
  // 1-based line in the source (0 for command-line arguments).
  size_t line = 0;
};

// How to read inputs.
struct InputReadOptions {
  InputFormat format = InputFormat::kAuto;
  // text format: split each line at its first tab into text and text_pair.
  bool pairs = false;
  std::string text_key = "text";
  std::string text_pair_key = "text_pair";
  // Longest text (and text_pair) accepted in bytes; 0 = no limit.
  size_t max_text_bytes = 0;
};

// Reads inputs from a stream, one line at a time.
class InputReader {
 public:
  // `in` is not owned and must outlive the reader. `source` ("<stdin>" or
  // the path) prefixes errors and, for kAuto, picks the format by extension.
  InputReader(std::istream* in, std::string source, InputReadOptions options);

  // Reads the next input into `*input`: true, or false at the end of the
  // stream; INVALID_ARGUMENT naming the source and line on a bad line
  // (invalid UTF-8, malformed JSON, a missing or non-string text, an empty
  // text, a text over max_text_bytes). A failed reader stays failed.
  absl::StatusOr<bool> Next(PredictInput* input);

  // The format in use (kAuto until the first non-blank line was read).
  InputFormat format() const { return format_; }

 private:
  absl::Status ParseLine(absl::string_view line, PredictInput* input);

  std::istream* const in_;
  const std::string source_;
  const InputReadOptions options_;
  InputFormat format_;
  size_t line_ = 0;
  absl::Status failed_;
};

// How to write predictions.
struct PredictWriteOptions {
  OutputFormat format = OutputFormat::kTable;
  // table: add the top labels column; jsonl: add "top".
  uint32_t top_k = 0;
  // csv: add a text_pair column.
  bool pairs = false;
};

// Writes predictions as they arrive, one response at a time.
class PredictionWriter {
 public:
  // `out` is not owned and must outlive the writer.
  PredictionWriter(std::ostream* out, PredictWriteOptions options);

  // Writes the predictions of `response`, which answered `inputs` in order.
  // The CSV header is written before the first rows, with the labels of the
  // first response; later responses are matched to it by label name.
  void Write(const std::vector<PredictInput>& inputs, const v1::PredictResponse& response);

 private:
  std::ostream* const out_;
  const PredictWriteOptions options_;
  bool header_written_ = false;
  std::vector<std::string> csv_labels_;
};

// `field` as an RFC 4180 CSV field: quoted (with "" for a quote) when it
// holds a comma, quote, CR or LF, else as it is.
std::string CsvField(absl::string_view field);

// The probability of the predicted label: probabilities[label_index], else
// the best top score, else 0.
float PredictedProbability(const v1::Prediction& prediction);

}  // namespace maskctl
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_MASKCTL_PREDICT_IO_H_
