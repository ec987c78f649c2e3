#include "clients/maskctl/predict_io.h"

#include <cmath>
#include <istream>
#include <ostream>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/maskctl/example_reader.h"
#include "clients/maskctl/format.h"
#include "core/base/json.h"
#include "core/base/utf8.h"

namespace maskserve {
namespace maskctl {
namespace {

bool IsBlank(absl::string_view text) {
  return text.find_first_not_of(" \t\r") == absl::string_view::npos;
}

// A probability or logit for CSV and JSON: 6 significant digits; empty when
// not finite.
std::string Number(float value) {
  if (!std::isfinite(value)) return "";
  return absl::StrCat(value);
}

std::string JsonNumber(float value) {
  const std::string text = Number(value);
  return text.empty() ? "null" : text;
}

}  // namespace

absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (lower == "auto" || lower.empty()) return InputFormat::kAuto;
  if (lower == "text" || lower == "txt") return InputFormat::kText;
  if (lower == "jsonl" || lower == "ndjson") return InputFormat::kJsonl;
  return absl::InvalidArgumentError(
      absl::StrCat("input_format: expected auto, text or jsonl, got '", name, "'"));
}

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (lower == "table" || lower.empty()) return OutputFormat::kTable;
  if (lower == "csv") return OutputFormat::kCsv;
  if (lower == "jsonl" || lower == "ndjson") return OutputFormat::kJsonl;
  return absl::InvalidArgumentError(
      absl::StrCat("output_format: expected table, csv or jsonl, got '", name, "'"));
}

InputReader::InputReader(std::istream* in, std::string source, InputReadOptions options)
    : in_(in), source_(std::move(source)), options_(std::move(options)), format_(options_.format) {
  if (format_ == InputFormat::kAuto) {
    const std::string lower = absl::AsciiStrToLower(source_);
    if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson") ||
        absl::EndsWith(lower, ".json")) {
      format_ = InputFormat::kJsonl;
    }
  }
}

absl::StatusOr<bool> InputReader::Next(PredictInput* input) {
  if (!failed_.ok()) return failed_;
  std::string line;
  while (std::getline(*in_, line)) {
    ++line_;
    absl::string_view view = line;
    if (line_ == 1 && absl::StartsWith(view, "\xEF\xBB\xBF")) view.remove_prefix(3);
    if (absl::EndsWith(view, "\r")) view.remove_suffix(1);
    if (IsBlank(view)) continue;
    if (format_ == InputFormat::kAuto) {
      format_ = absl::StartsWith(absl::StripLeadingAsciiWhitespace(view), "{") ? InputFormat::kJsonl
                                                                               : InputFormat::kText;
    }
    *input = PredictInput();
    input->line = line_;
    input->id = absl::StrCat(line_);
    input->id_is_number = true;
    failed_ = ParseLine(view, input);
    if (!failed_.ok()) return failed_;
    return true;
  }
  if (in_->bad()) {
    failed_ = absl::InvalidArgumentError(absl::StrCat(source_, ": read error after line ", line_));
    return failed_;
  }
  return false;
}

absl::Status InputReader::ParseLine(absl::string_view line, PredictInput* input) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": line ", line_, ": ", what));
  };
  if (const size_t bad = InvalidUtf8At(std::string_view(line.data(), line.size()));
      bad != std::string_view::npos) {
    return error(absl::StrCat("invalid UTF-8 at byte ", bad));
  }
  if (format_ == InputFormat::kText) {
    const size_t tab = options_.pairs ? line.find('\t') : absl::string_view::npos;
    input->text = std::string(line.substr(0, tab));
    if (tab != absl::string_view::npos) input->text_pair = std::string(line.substr(tab + 1));
  } else {
    absl::StatusOr<JsonValue> parsed = ParseJsonLine(line, source_, line_);
    if (!parsed.ok()) return parsed.status();
    const JsonValue& object = *parsed;
    if (const JsonValue* id = object.Find("id"); id != nullptr && !id->is_null()) {
      if (id->is_string()) {
        input->id = id->AsString();
        input->id_is_number = false;
      } else if (id->is_int64()) {
        input->id = absl::StrCat(id->AsInt64());
      } else {
        return error(absl::StrCat("key 'id': expected a string or an integer, got ",
                                  JsonValue::TypeName(id->type())));
      }
    }
    const JsonValue* text = object.Find(options_.text_key);
    if (text == nullptr || text->is_null()) {
      return error(absl::StrCat("missing key '", options_.text_key, "'"));
    }
    if (!text->is_string()) {
      return error(absl::StrCat("key '", options_.text_key, "': expected a string, got ",
                                JsonValue::TypeName(text->type())));
    }
    input->text = text->AsString();
    if (const JsonValue* pair = object.Find(options_.text_pair_key);
        pair != nullptr && !pair->is_null()) {
      if (!pair->is_string()) {
        return error(absl::StrCat("key '", options_.text_pair_key, "': expected a string, got ",
                                  JsonValue::TypeName(pair->type())));
      }
      input->text_pair = pair->AsString();
    }
  }
  if (input->text.empty()) return error("empty text");
  const size_t max = options_.max_text_bytes;
  if (max > 0 && (input->text.size() > max || input->text_pair.size() > max)) {
    return error(absl::StrCat("text of ", std::max(input->text.size(), input->text_pair.size()),
                              " bytes; the server takes at most ", max, " (max_text_bytes)"));
  }
  return absl::OkStatus();
}

std::string CsvField(absl::string_view field) {
  if (field.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

float PredictedProbability(const v1::Prediction& p) {
  if (p.label_index() < static_cast<uint32_t>(p.probabilities_size())) {
    return p.probabilities(static_cast<int>(p.label_index()));
  }
  return p.top_size() > 0 ? p.top(0).probability() : 0.0f;
}

PredictionWriter::PredictionWriter(std::ostream* out, PredictWriteOptions options)
    : out_(out), options_(options) {}

void PredictionWriter::Write(const std::vector<PredictInput>& inputs,
                             const v1::PredictResponse& response) {
  const auto& labels = response.label_names();
  std::string text;
  if (options_.format == OutputFormat::kCsv && !header_written_) {
    header_written_ = true;
    csv_labels_.assign(labels.begin(), labels.end());
    text = options_.pairs ? "id,text,text_pair,label,probability" : "id,text,label,probability";
    for (const std::string& label : csv_labels_)
      absl::StrAppend(&text, ",", CsvField("p_" + label));
    text += "\n";
  }
  for (int i = 0; i < response.predictions_size(); ++i) {
    const v1::Prediction& p = response.predictions(i);
    const PredictInput empty;
    const PredictInput& input = static_cast<size_t>(i) < inputs.size() ? inputs[size_t(i)] : empty;
    // The probability of `labels[j]`, if the response has it.
    auto probability = [&](int j) {
      return j < p.probabilities_size() ? Number(p.probabilities(j)) : std::string();
    };
    switch (options_.format) {
      case OutputFormat::kTable: {
        absl::StrAppend(&text, p.label(), "\t", FormatFloat(PredictedProbability(p)));
        if (options_.top_k > 1) {
          std::string top;
          for (const v1::LabelScore& score : p.top()) {
            absl::StrAppend(&top, top.empty() ? "" : " ", score.label(), "=",
                            FormatFloat(score.probability()));
          }
          absl::StrAppend(&text, "\t", top);
        }
        absl::StrAppend(&text, "\t", input.text);
        if (!input.text_pair.empty()) absl::StrAppend(&text, "\t", input.text_pair);
        text += "\n";
        break;
      }
      case OutputFormat::kCsv: {
        absl::StrAppend(&text, CsvField(input.id), ",", CsvField(input.text));
        if (options_.pairs) absl::StrAppend(&text, ",", CsvField(input.text_pair));
        absl::StrAppend(&text, ",", CsvField(p.label()), ",", Number(PredictedProbability(p)));
        for (const std::string& label : csv_labels_) {
          int j = 0;
          while (j < labels.size() && labels[j] != label) ++j;
          absl::StrAppend(&text, ",", j < labels.size() ? probability(j) : std::string());
        }
        text += "\n";
        break;
      }
      case OutputFormat::kJsonl: {
        absl::StrAppend(&text, "{\"id\":", input.id_is_number ? input.id : JsonQuote(input.id),
                        ",\"label\":", JsonQuote(p.label()),
                        ",\"probability\":", JsonNumber(PredictedProbability(p)),
                        ",\"probabilities\":{");
        for (int j = 0; j < labels.size() && j < p.probabilities_size(); ++j) {
          absl::StrAppend(&text, j > 0 ? "," : "", JsonQuote(labels[j]), ":",
                          JsonNumber(p.probabilities(j)));
        }
        text += "}";
        if (options_.top_k > 1) {
          text += ",\"top\":[";
          for (int j = 0; j < p.top_size(); ++j) {
            absl::StrAppend(&text, j > 0 ? "," : "", "{\"label\":", JsonQuote(p.top(j).label()),
                            ",\"probability\":", JsonNumber(p.top(j).probability()), "}");
          }
          text += "]";
        }
        if (p.logits_size() > 0) {
          text += ",\"logits\":{";
          for (int j = 0; j < labels.size() && j < p.logits_size(); ++j) {
            absl::StrAppend(&text, j > 0 ? "," : "", JsonQuote(labels[j]), ":",
                            JsonNumber(p.logits(j)));
          }
          text += "}";
        }
        text += "}\n";
        break;
      }
    }
  }
  *out_ << text << std::flush;
}

}  // namespace maskctl
}  // namespace maskserve
