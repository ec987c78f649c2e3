#include "clients/maskctl/predict_io.h"

#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace maskserve {
namespace maskctl {
namespace {

// Reads every input of `content`; the error message when a line is bad.
struct ReadResult {
  std::vector<PredictInput> inputs;
  std::string error;
  InputFormat format;
};

ReadResult ReadAll(const std::string& content, const std::string& source,
                   InputReadOptions options = {}) {
  std::istringstream in(content);
  InputReader reader(&in, source, options);
  ReadResult result;
  PredictInput input;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(&input);
    if (!more.ok()) {
      result.error = std::string(more.status().message());
      break;
    }
    if (!*more) break;
    result.inputs.push_back(input);
  }
  result.format = reader.format();
  return result;
}

TEST(ParseFormatsTest, NamesAndErrors) {
  EXPECT_EQ(*ParseInputFormat("auto"), InputFormat::kAuto);
  EXPECT_EQ(*ParseInputFormat("TEXT"), InputFormat::kText);
  EXPECT_EQ(*ParseInputFormat("jsonl"), InputFormat::kJsonl);
  EXPECT_TRUE(absl::StrContains(ParseInputFormat("csv").status().message(),
                                "input_format: expected auto, text or jsonl, got 'csv'"));
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("CSV"), OutputFormat::kCsv);
  EXPECT_EQ(*ParseOutputFormat("jsonl"), OutputFormat::kJsonl);
  EXPECT_FALSE(ParseOutputFormat("xml").ok());
}

TEST(InputReaderTest, TextLinesSkipBlanksAndKeepLineNumbersAsIds) {
  ReadResult r =
      ReadAll("\xEF\xBB\xBFgood film\r\n\n   \nbad, plot\n{not json} at the end", "t.txt");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.format, InputFormat::kText);
  ASSERT_EQ(r.inputs.size(), 3u);
  EXPECT_EQ(r.inputs[0].text, "good film");
  EXPECT_EQ(r.inputs[0].id, "1");
  EXPECT_TRUE(r.inputs[0].id_is_number);
  EXPECT_EQ(r.inputs[1].text, "bad, plot");
  EXPECT_EQ(r.inputs[1].id, "4");
  EXPECT_EQ(r.inputs[1].line, 4u);
  EXPECT_EQ(r.inputs[2].text, "{not json} at the end");  // text: the first line decided
}

TEST(InputReaderTest, TextPairsSplitAtTheFirstTab) {
  InputReadOptions options;
  options.pairs = true;
  ReadResult r = ReadAll("premise\thypo\tthesis\nalone\n", "-", options);
  ASSERT_EQ(r.inputs.size(), 2u) << r.error;
  EXPECT_EQ(r.inputs[0].text, "premise");
  EXPECT_EQ(r.inputs[0].text_pair, "hypo\tthesis");
  EXPECT_EQ(r.inputs[1].text_pair, "");
  // Without --pairs a tab is part of the text.
  r = ReadAll("premise\thypo\n", "-");
  EXPECT_EQ(r.inputs[0].text, "premise\thypo");
}

TEST(InputReaderTest, JsonlByExtensionOrFirstCharacter) {
  const std::string jsonl =
      "{\"id\": \"a1\", \"text\": \"great\", \"extra\": [1]}\n"
      "\n"
      "  {\"id\": 7, \"text\": \"meh\", \"text_pair\": \"ok\"}\n"
      "{\"text\": \"no id\"}\n";
  for (const char* source : {"x.jsonl", "<stdin>", "x.txt"}) {
    ReadResult r = ReadAll(jsonl, source);
    ASSERT_EQ(r.error, "") << source;
    EXPECT_EQ(r.format, InputFormat::kJsonl) << source;
    ASSERT_EQ(r.inputs.size(), 3u);
    EXPECT_EQ(r.inputs[0].id, "a1");
    EXPECT_FALSE(r.inputs[0].id_is_number);
    EXPECT_EQ(r.inputs[0].text, "great");
    EXPECT_EQ(r.inputs[1].id, "7");
    EXPECT_TRUE(r.inputs[1].id_is_number);
    EXPECT_EQ(r.inputs[1].text_pair, "ok");
    EXPECT_EQ(r.inputs[2].id, "4");  // the line number
  }
  // A .jsonl file whose first line is not JSON is still JSONL: an error.
  ReadResult bad = ReadAll("plain text\n", "x.jsonl");
  EXPECT_TRUE(absl::StartsWith(bad.error, "x.jsonl: line 1")) << bad.error;
  // Forced text: JSON-looking lines are texts.
  InputReadOptions text;
  text.format = InputFormat::kText;
  EXPECT_EQ(ReadAll(jsonl, "x.jsonl", text).inputs.size(), 3u);
}

TEST(InputReaderTest, JsonlCustomTextKey) {
  InputReadOptions options;
  options.text_key = "headline";
  ReadResult r =
      ReadAll("{\"headline\": \"Big news\", \"category\": \"POLITICS\"}\n", "h.jsonl", options);
  ASSERT_EQ(r.inputs.size(), 1u) << r.error;
  EXPECT_EQ(r.inputs[0].text, "Big news");
}

TEST(InputReaderTest, BadLinesNameTheSourceAndLine) {
  struct Case {
    std::string content;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"{\"text\":\"ok\"}\n\n{\"txt\":\"x\"}\n", "in.jsonl: line 3: missing key 'text'"},
      {"{\"text\": 5}\n", "in.jsonl: line 1: key 'text': expected a string, got number"},
      {"{\"text\": \"\"}\n", "in.jsonl: line 1: empty text"},
      {"{\"text\": \"a\", \"id\": 1.5}\n", "in.jsonl: line 1: key 'id': expected a string or an"},
      {"{\"text\": \"a\", \"text_pair\": true}\n", "in.jsonl: line 1: key 'text_pair': expected"},
      {"[1, 2]\n", "in.jsonl: line 1: expected a JSON object"},
      {"{\"text\": \"a\"\n", "in.jsonl: line 1"},
      {"{\"text\": \"caf\xe9\"}\n", "in.jsonl: line 1: invalid UTF-8 at byte 13"},
  };
  for (const Case& c : cases) {
    ReadResult r = ReadAll(c.content, "in.jsonl");
    EXPECT_TRUE(absl::StartsWith(r.error, c.error)) << r.error << " for " << c.content;
  }
  ReadResult latin1 = ReadAll("fine\ncaf\xe9\n", "<stdin>");
  EXPECT_EQ(latin1.error, "<stdin>: line 2: invalid UTF-8 at byte 3");
  EXPECT_EQ(latin1.inputs.size(), 1u);
  InputReadOptions limited;
  limited.max_text_bytes = 5;
  ReadResult long_text = ReadAll("short\ntoo long\n", "t.txt", limited);
  EXPECT_EQ(long_text.error,
            "t.txt: line 2: text of 8 bytes; the server takes at most 5 (max_text_bytes)");
}

v1::PredictResponse Response() {
  v1::PredictResponse response;
  response.add_label_names("neg");
  response.add_label_names("pos");
  v1::Prediction* p = response.add_predictions();
  p->set_label("pos");
  p->set_label_index(1);
  p->add_probabilities(0.1f);
  p->add_probabilities(0.9f);
  v1::LabelScore* top = p->add_top();
  top->set_label("pos");
  top->set_index(1);
  top->set_probability(0.9f);
  top = p->add_top();
  top->set_label("neg");
  top->set_probability(0.1f);
  p = response.add_predictions();
  p->set_label("neg");
  p->set_label_index(0);
  p->add_probabilities(0.75f);
  p->add_probabilities(0.25f);
  return response;
}

std::vector<PredictInput> Inputs() {
  PredictInput a;
  a.id = "r1";
  a.text = "say \"hi\", then\nleave";
  PredictInput b;
  b.id = "2";
  b.id_is_number = true;
  b.text = "plain";
  return {a, b};
}

TEST(CsvFieldTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvField("plain text"), "plain text");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
  EXPECT_EQ(CsvField(""), "");
}

TEST(PredictionWriterTest, CsvHeaderOnceAndAColumnPerLabel) {
  std::ostringstream out;
  PredictWriteOptions options;
  options.format = OutputFormat::kCsv;
  PredictionWriter writer(&out, options);
  writer.Write(Inputs(), Response());
  // A later response with the labels in another order still lands in the
  // header's columns.
  v1::PredictResponse swapped;
  swapped.add_label_names("pos");
  swapped.add_label_names("neg");
  v1::Prediction* p = swapped.add_predictions();
  p->set_label("neg");
  p->set_label_index(1);
  p->add_probabilities(0.4f);
  p->add_probabilities(0.6f);
  PredictInput c;
  c.id = "3";
  c.text = "third";
  writer.Write({c}, swapped);
  EXPECT_EQ(out.str(),
            "id,text,label,probability,p_neg,p_pos\n"
            "r1,\"say \"\"hi\"\", then\nleave\",pos,0.9,0.1,0.9\n"
            "2,plain,neg,0.75,0.75,0.25\n"
            "3,third,neg,0.6,0.6,0.4\n");
}

TEST(PredictionWriterTest, CsvWithPairs) {
  std::ostringstream out;
  PredictWriteOptions options;
  options.format = OutputFormat::kCsv;
  options.pairs = true;
  PredictionWriter writer(&out, options);
  std::vector<PredictInput> inputs = Inputs();
  inputs[1].text_pair = "second, text";
  writer.Write(inputs, Response());
  EXPECT_TRUE(absl::StartsWith(out.str(), "id,text,text_pair,label,probability,p_neg,p_pos\n"))
      << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "\n2,plain,\"second, text\",neg,0.75,")) << out.str();
}

TEST(PredictionWriterTest, JsonlPerInput) {
  std::ostringstream out;
  PredictWriteOptions options;
  options.format = OutputFormat::kJsonl;
  options.top_k = 2;
  PredictionWriter writer(&out, options);
  v1::PredictResponse response = Response();
  response.mutable_predictions(1)->add_logits(1.5f);
  response.mutable_predictions(1)->add_logits(-0.5f);
  writer.Write(Inputs(), response);
  EXPECT_EQ(out.str(),
            "{\"id\":\"r1\",\"label\":\"pos\",\"probability\":0.9,"
            "\"probabilities\":{\"neg\":0.1,\"pos\":0.9},"
            "\"top\":[{\"label\":\"pos\",\"probability\":0.9},"
            "{\"label\":\"neg\",\"probability\":0.1}]}\n"
            "{\"id\":2,\"label\":\"neg\",\"probability\":0.75,"
            "\"probabilities\":{\"neg\":0.75,\"pos\":0.25},\"top\":[],"
            "\"logits\":{\"neg\":1.5,\"pos\":-0.5}}\n");
}

TEST(PredictionWriterTest, TableAsBefore) {
  std::ostringstream out;
  PredictWriteOptions options;
  options.top_k = 2;
  PredictionWriter writer(&out, options);
  std::vector<PredictInput> inputs = Inputs();
  inputs[1].text_pair = "pair";
  writer.Write(inputs, Response());
  EXPECT_EQ(out.str(),
            "pos\t0.9000\tpos=0.9000 neg=0.1000\tsay \"hi\", then\nleave\n"
            "neg\t0.7500\t\tplain\tpair\n");
}

}  // namespace
}  // namespace maskctl
}  // namespace maskserve
