#include "clients/maskctl/example_reader.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace maskserve {
namespace maskctl {
namespace {

ExampleReadOptions Format(ExampleFormat format) {
  ExampleReadOptions options;
  options.format = format;
  return options;
}

TEST(CsvReaderTest, ReadsHeaderAndRows) {
  auto examples = ParseExamples("text,label\ngreat movie,pos\nawful,neg\n", "a.csv",
                                Format(ExampleFormat::kCsv));
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 2u);
  EXPECT_EQ((*examples)[0].text, "great movie");
  EXPECT_EQ((*examples)[0].label, "pos");
  EXPECT_EQ((*examples)[0].line, 2u);
  EXPECT_EQ((*examples)[1].text, "awful");
  EXPECT_EQ((*examples)[1].text_pair, "");
}

TEST(CsvReaderTest, HandlesQuotesEscapesAndEmbeddedNewlines) {
  const std::string csv =
      "label,text,extra\r\n"
      "pos,\"hello, \"\"world\"\"\",x\r\n"
      "neg,\"two\nlines\",y\r\n"
      "\r\n"
      "pos,last,z";
  auto examples = ParseExamples(csv, "q.csv", Format(ExampleFormat::kCsv));
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 3u);
  EXPECT_EQ((*examples)[0].text, "hello, \"world\"");
  EXPECT_EQ((*examples)[1].text, "two\nlines");
  EXPECT_EQ((*examples)[1].line, 3u);
  EXPECT_EQ((*examples)[2].text, "last");
  EXPECT_EQ((*examples)[2].line, 6u);  // after the two-line field and a blank line
}

TEST(CsvReaderTest, ReadsTextPairsAndStripsBom) {
  auto examples = ParseExamples("\xEF\xBB\xBFtext,text_pair,label\npremise,hypothesis,yes\n",
                                "p.csv", Format(ExampleFormat::kAuto));
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ((*examples)[0].text, "premise");
  EXPECT_EQ((*examples)[0].text_pair, "hypothesis");
}

TEST(CsvReaderTest, ErrorsNameTheLine) {
  auto missing_column =
      ParseExamples("sentence,label\na,b\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_EQ(missing_column.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing_column.status().message().find("x.csv: line 1"), std::string::npos);
  EXPECT_NE(missing_column.status().message().find("'text'"), std::string::npos);

  auto fields =
      ParseExamples("text,label\nok,pos\na, b,pos\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_NE(fields.status().message().find("line 3: expected 2 fields"), std::string::npos)
      << fields.status();

  auto unterminated =
      ParseExamples("text,label\n\"open,pos\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_NE(unterminated.status().message().find("line 2: unterminated"), std::string::npos)
      << unterminated.status();

  auto empty_text = ParseExamples("text,label\n,pos\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_NE(empty_text.status().message().find("line 2: empty text"), std::string::npos);

  auto empty_label = ParseExamples("text,label\nhi,\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_NE(empty_label.status().message().find("line 2: empty label"), std::string::npos);

  auto no_rows = ParseExamples("text,label\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_NE(no_rows.status().message().find("no examples"), std::string::npos);

  auto junk = ParseExamples("text,label\n\"a\"b,pos\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_NE(junk.status().message().find("after a closing quote"), std::string::npos);

  // The server would refuse it; the gRPC client could not even send it.
  auto latin1 =
      ParseExamples("text,label\nok,pos\ncaf\xe9,pos\n", "x.csv", Format(ExampleFormat::kCsv));
  EXPECT_EQ(latin1.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(latin1.status().message().find("x.csv: line 3: invalid UTF-8 at byte 21"),
            std::string::npos)
      << latin1.status();
}

TEST(CsvReaderTest, LimitKeepsTheFirstExamples) {
  ExampleReadOptions options = Format(ExampleFormat::kCsv);
  options.limit = 2;
  auto examples = ParseExamples("text,label\na,x\nb,y\nc,z\n", "l.csv", options);
  ASSERT_TRUE(examples.ok());
  EXPECT_EQ(examples->size(), 2u);
}

TEST(TsvReaderTest, ReadsGlueStyleWithCustomColumns) {
  ExampleReadOptions options = Format(ExampleFormat::kAuto);
  options.text_column = "sentence";
  auto examples = ParseExamples("sentence\tlabel\nit 's a \"charming\" film \t1\nbad\t0\n",
                                "train.tsv", options);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 2u);
  EXPECT_EQ((*examples)[0].text, "it 's a \"charming\" film ");
  EXPECT_EQ((*examples)[0].label, "1");
}

TEST(JsonlReaderTest, ReadsObjectsWithOptionalPairAndIntegerLabels) {
  const std::string jsonl =
      "{\"text\": \"good\", \"label\": \"pos\", \"id\": 7}\n"
      "\n"
      "{\"text\": \"q\", \"text_pair\": \"a\", \"label\": 1}\n";
  auto examples = ParseExamples(jsonl, "d.jsonl", Format(ExampleFormat::kAuto));
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 2u);
  EXPECT_EQ((*examples)[0].label, "pos");
  EXPECT_EQ((*examples)[1].text_pair, "a");
  EXPECT_EQ((*examples)[1].label, "1");
  EXPECT_EQ((*examples)[1].line, 3u);
}

TEST(JsonlReaderTest, ErrorsNameTheLine) {
  auto malformed = ParseExamples("{\"text\":\"a\",\"label\":\"x\"}\n{\"text\": \n", "d.jsonl",
                                 Format(ExampleFormat::kJsonl));
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(malformed.status().message().find("d.jsonl: line 2"), std::string::npos)
      << malformed.status();
  auto missing = ParseExamples("{\"text\":\"a\"}\n", "d.jsonl", Format(ExampleFormat::kJsonl));
  EXPECT_NE(missing.status().message().find("line 1: missing key 'label'"), std::string::npos);
  auto wrong_type =
      ParseExamples("{\"text\":[1],\"label\":\"x\"}\n", "d.jsonl", Format(ExampleFormat::kJsonl));
  EXPECT_NE(wrong_type.status().message().find("key 'text': expected a string"), std::string::npos)
      << wrong_type.status();
  auto not_object = ParseExamples("[1,2]\n", "d.jsonl", Format(ExampleFormat::kJsonl));
  EXPECT_NE(not_object.status().message().find("expected a JSON object"), std::string::npos);
}

TEST(FormatTest, ResolvesByExtensionThenContent) {
  EXPECT_EQ(ResolveFormat(ExampleFormat::kAuto, "x.JSONL", ""), ExampleFormat::kJsonl);
  EXPECT_EQ(ResolveFormat(ExampleFormat::kAuto, "x.ndjson", ""), ExampleFormat::kJsonl);
  EXPECT_EQ(ResolveFormat(ExampleFormat::kAuto, "x.tsv", ""), ExampleFormat::kTsv);
  EXPECT_EQ(ResolveFormat(ExampleFormat::kAuto, "x.csv", "{"), ExampleFormat::kCsv);
  EXPECT_EQ(ResolveFormat(ExampleFormat::kAuto, "<stdin>", "  \n{\"a\":1}"), ExampleFormat::kJsonl);
  EXPECT_EQ(ResolveFormat(ExampleFormat::kAuto, "<stdin>", "text,label"), ExampleFormat::kCsv);
  EXPECT_EQ(ResolveFormat(ExampleFormat::kTsv, "x.csv", ""), ExampleFormat::kTsv);
  EXPECT_EQ(*ParseExampleFormat("JSONL"), ExampleFormat::kJsonl);
  EXPECT_FALSE(ParseExampleFormat("xml").ok());
}

TEST(LabelsTest, InfersInFirstSeenOrder) {
  std::vector<LabeledExample> examples = {
      {"a", "", "pos", 2}, {"b", "", "neg", 3}, {"c", "", "pos", 4}, {"d", "", "mixed", 5}};
  EXPECT_EQ(InferLabels(examples), (std::vector<std::string>{"pos", "neg", "mixed"}));
}

TEST(LabelsTest, ParsesAndChecksGivenLabels) {
  auto labels = ParseLabelList(" neg, pos ");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_FALSE(ParseLabelList("a,,b").ok());
  EXPECT_FALSE(ParseLabelList("a,b,a").ok());

  std::vector<LabeledExample> examples = {{"a", "", "pos", 2}, {"b", "", "meh", 9}};
  absl::Status status = CheckLabels(examples, *labels, "t.csv");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("t.csv: line 9: label 'meh'"), std::string::npos) << status;
  examples.pop_back();
  EXPECT_TRUE(CheckLabels(examples, *labels, "t.csv").ok());
}

TEST(ReadExamplesTest, ReadsFilesAndReportsMissingOnes) {
  const std::string path = ::testing::TempDir() + "/maskctl_examples.jsonl";
  std::ofstream(path) << "{\"text\":\"a\",\"label\":\"x\"}\n";
  auto examples = ReadExamples(path, ExampleReadOptions());
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ(examples->size(), 1u);
  std::remove(path.c_str());
  auto missing = ReadExamples(path, ExampleReadOptions());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace maskctl
}  // namespace maskserve
