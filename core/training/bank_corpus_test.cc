#include "core/training/bank_corpus.h"

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/testing/temp_file.h"

namespace maskserve {
namespace {

using testing::WriteTempFile;

std::string HuffPostRow(const std::string& author, const std::string& date,
                        const std::string& category, const std::string& headline) {
  return "{\"link\": \"x\", \"headline\": \"" + headline + "\", \"category\": \"" + category +
         "\", \"short_description\": \"desc\", \"authors\": \"" + author + "\", \"date\": \"" +
         date + "\"}\n";
}

TEST(BankCorpusTest, ReadsJsonLinesGroupingByProfileWithSortedLabels) {
  const std::string path = WriteTempFile(
      "corpus.jsonl",
      "{\"profile\": \"bob\", \"text\": \"t1\", \"label\": \"sports\"}\n"
      "\n"
      "{\"profile\": \"alice\", \"text\": \"t2\", \"text_pair\": \"p2\", \"label\": \"arts\"}\n"
      "{\"profile\": \"bob\", \"text\": \"t3\", \"label\": \"arts\"}\n");
  BankCorpus corpus = ReadJsonlCorpus(path);
  EXPECT_EQ(corpus.labels, (std::vector<std::string>{"arts", "sports"}));
  EXPECT_EQ(corpus.task_names, (std::vector<std::string>{"bob", "alice"}));
  ASSERT_EQ(corpus.tasks.size(), 2u);
  ASSERT_EQ(corpus.tasks[0].size(), 2u);
  EXPECT_EQ(corpus.tasks[0][0].text, "t1");
  EXPECT_EQ(corpus.tasks[0][0].label, 1);
  EXPECT_EQ(corpus.tasks[0][1].label, 0);
  EXPECT_EQ(corpus.tasks[1][0].text_pair, "p2");
  EXPECT_EQ(corpus.num_examples(), 3);
  EXPECT_NO_THROW(corpus.Validate());
}

TEST(BankCorpusTest, JsonLinesErrorsNameTheLineAndKey) {
  const std::string path =
      WriteTempFile("bad_corpus.jsonl",
                    "{\"profile\": \"bob\", \"text\": \"t1\", \"label\": \"sports\"}\n"
                    "{\"profile\": \"bob\", \"label\": \"sports\"}\n");
  try {
    ReadJsonlCorpus(path);
    FAIL() << "a row without text was accepted";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find(":2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("text"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ReadJsonlCorpus(WriteTempFile("broken.jsonl", "{not json\n")), EngineError);
  try {
    ReadJsonlCorpus("/nonexistent/corpus.jsonl");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(BankCorpusTest, HuffPostSplitsEachAuthorByDateAndDropsSmallAuthors) {
  std::string rows;
  // Ten articles by "A", out of date order; three by "B"; one without author.
  for (int i = 9; i >= 0; --i) {
    rows += HuffPostRow("A", "2020-01-" + std::string(i < 10 ? "0" : "") + std::to_string(i),
                        i % 2 ? "POLITICS" : "SPORTS", "a" + std::to_string(i));
  }
  for (int i = 0; i < 3; ++i) rows += HuffPostRow("B", "2021-01-01", "ARTS", "b");
  rows += HuffPostRow("", "2021-01-01", "TRAVEL", "nobody");
  SplitCorpus corpus = ReadHuffPostAuthors(WriteTempFile("huffpost.jsonl", rows), 5);
  // Every category of the file is a label, sorted, even those of dropped rows.
  EXPECT_EQ(corpus.labels, (std::vector<std::string>{"ARTS", "POLITICS", "SPORTS", "TRAVEL"}));
  ASSERT_EQ(corpus.profiles.size(), 1u);
  const ProfileSplit& a = corpus.profiles[0];
  EXPECT_EQ(a.name, "A");
  ASSERT_EQ(a.train.size(), 7u);
  ASSERT_EQ(a.test.size(), 3u);
  EXPECT_EQ(a.train.front().text, "a0 desc");  // earliest first
  EXPECT_EQ(a.test.back().text, "a9 desc");    // latest held out
  EXPECT_EQ(a.train.front().label, 2);         // SPORTS

  SplitCorpus both = ReadHuffPostAuthors(WriteTempFile("huffpost2.jsonl", rows), 3);
  ASSERT_EQ(both.profiles.size(), 2u);
  EXPECT_EQ(both.profiles[0].name, "A");  // more articles first
  BankCorpus odd = both.TrainingCorpus(1, 2);
  EXPECT_EQ(odd.task_names, (std::vector<std::string>{"B"}));
  EXPECT_EQ(odd.tasks[0].size(), 2u);  // floor(0.7 * 3) for training
}

}  // namespace
}  // namespace maskserve
