#include "core/benchmarks/eval_datasets.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/testing/temp_file.h"

namespace maskserve {
namespace {

using testing::WriteTempFile;

// The error `read` throws, or a failure when it throws none.
template <typename Read>
EngineError ErrorOf(Read read) {
  try {
    read();
  } catch (const EngineError& e) {
    return e;
  }
  ADD_FAILURE() << "no error was thrown";
  return EngineError(ErrorCode::kInternal, "");
}

std::string HuffPostRow(const std::string& category, const std::string& headline) {
  return "{\"link\": \"x\", \"headline\": \"" + headline + "\", \"category\": \"" + category +
         "\", \"short_description\": \"d\", \"authors\": \"\", \"date\": \"2020-01-01\"}\n";
}

TEST(EvalDatasetsTest, ReadsSst2WithTrimmedSentences) {
  const LabelledExamples sst = ReadSst2(
      WriteTempFile("sst.tsv", "sentence\tlabel\nit 's charming \t1\r\n\nbleak and dull \t0\n"));
  EXPECT_EQ(sst.labels, (std::vector<std::string>{"negative", "positive"}));
  ASSERT_EQ(sst.examples.size(), 2u);
  EXPECT_EQ(sst.examples[0].text, "it 's charming");
  EXPECT_EQ(sst.examples[0].label, 1);
  EXPECT_EQ(sst.examples[1].text, "bleak and dull");
  EXPECT_EQ(sst.examples[1].label, 0);
}

TEST(EvalDatasetsTest, Sst2ErrorsNameTheFileAndLine) {
  const std::string bad_label =
      WriteTempFile("bad_label.tsv", "sentence\tlabel\ngood\t1\nbad\t2\n");
  EngineError e = ErrorOf([&] { ReadSst2(bad_label); });
  EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
  EXPECT_NE(std::string(e.what()).find(bad_label + ":3"), std::string::npos) << e.what();

  const std::string no_tab = WriteTempFile("no_tab.tsv", "sentence\tlabel\njust text\n");
  e = ErrorOf([&] { ReadSst2(no_tab); });
  EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
  EXPECT_NE(std::string(e.what()).find(no_tab + ":2"), std::string::npos) << e.what();

  EXPECT_EQ(ErrorOf([&] { ReadSst2(WriteTempFile("no_header.tsv", "text\tgold\nx\t1\n")); }).code(),
            ErrorCode::kDataLoss);
  EXPECT_EQ(ErrorOf([] { ReadSst2("/nonexistent/sst.tsv"); }).code(), ErrorCode::kNotFound);
}

TEST(EvalDatasetsTest, BalancedSubsampleIsBalancedAndDeterministic) {
  std::vector<TrainingExample> all;
  for (int i = 0; i < 30; ++i) all.push_back({"t" + std::to_string(i), "", i % 3 == 0 ? 1 : 0});
  const std::vector<TrainingExample> a = BalancedSubsample(all, 2, 7, 5);
  ASSERT_EQ(a.size(), 7u);
  std::map<int64_t, int> per_label;
  std::set<std::string> texts;
  for (const TrainingExample& e : a) {
    ++per_label[e.label];
    texts.insert(e.text);
  }
  EXPECT_EQ(per_label[0], 4);  // the first label gets the odd one
  EXPECT_EQ(per_label[1], 3);
  EXPECT_EQ(texts.size(), 7u);  // no example twice
  const std::vector<TrainingExample> again = BalancedSubsample(all, 2, 7, 5);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].text, again[i].text);
  const std::vector<TrainingExample> other = BalancedSubsample(all, 2, 7, 6);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs |= a[i].text != other[i].text;
  EXPECT_TRUE(differs);
  EXPECT_EQ(ErrorOf([&] { BalancedSubsample(all, 2, 22, 0); }).code(),
            ErrorCode::kInvalidArgument);  // label 1 has only 10
}

TEST(EvalDatasetsTest, TopicTaskTakesTheMostFrequentCategoriesDisjointly) {
  std::string rows;
  for (int i = 0; i < 10; ++i) rows += HuffPostRow("POLITICS", "p" + std::to_string(i));
  for (int i = 0; i < 6; ++i) rows += HuffPostRow("ARTS", "a" + std::to_string(i));
  rows += HuffPostRow("ARTS", "a0");  // a repeated text is skipped
  for (int i = 0; i < 6; ++i) rows += HuffPostRow("WORLD", "w" + std::to_string(i));
  for (int i = 0; i < 2; ++i) rows += HuffPostRow("COMEDY", "c" + std::to_string(i));
  const std::string path = WriteTempFile("topics.jsonl", rows);
  TopicTaskOptions options;
  options.num_classes = 3;
  options.per_class = 2;
  options.test_per_class = 5;
  const EvalTask task = ReadHuffPostTopicTask(path, options);
  EXPECT_EQ(task.labels, (std::vector<std::string>{"ARTS", "POLITICS", "WORLD"}));
  EXPECT_EQ(task.train.size(), 6u);
  EXPECT_EQ(task.test.size(), 4u + 5u + 4u);  // ARTS and WORLD have 6 distinct, POLITICS 10
  std::set<std::string> train_texts;
  std::map<int64_t, int> train_per_label;
  for (const TrainingExample& e : task.train) {
    train_texts.insert(e.text);
    ++train_per_label[e.label];
    EXPECT_EQ(e.text.substr(e.text.size() - 2), " d");  // headline + " " + description
  }
  EXPECT_EQ(train_per_label, (std::map<int64_t, int>{{0, 2}, {1, 2}, {2, 2}}));
  for (const TrainingExample& e : task.test) EXPECT_EQ(train_texts.count(e.text), 0u) << e.text;

  const EvalTask again = ReadHuffPostTopicTask(path, options);
  for (size_t i = 0; i < task.train.size(); ++i) EXPECT_EQ(task.train[i].text, again.train[i].text);
  for (size_t i = 0; i < task.test.size(); ++i) EXPECT_EQ(task.test[i].text, again.test[i].text);

  options.per_class = 6;  // ARTS has 6 distinct articles: none left to test
  EXPECT_EQ(ErrorOf([&] { ReadHuffPostTopicTask(path, options); }).code(),
            ErrorCode::kInvalidArgument);
}

TEST(EvalDatasetsTest, TopicTaskErrorsNameTheFileAndLine) {
  const std::string path =
      WriteTempFile("bad_topics.jsonl", HuffPostRow("ARTS", "a") + "{\"headline\": \"x\"}\n");
  const EngineError e = ErrorOf([&] { ReadHuffPostTopicTask(path, TopicTaskOptions()); });
  EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
  EXPECT_NE(std::string(e.what()).find(path + ":2"), std::string::npos) << e.what();
  EXPECT_EQ(
      ErrorOf([&] { ReadHuffPostTopicTask(WriteTempFile("broken.jsonl", "{x\n"), {}); }).code(),
      ErrorCode::kDataLoss);
  EXPECT_EQ(ErrorOf([] { ReadHuffPostTopicTask("/nonexistent/h.jsonl", {}); }).code(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace maskserve
