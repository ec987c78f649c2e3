#include "core/training/bank_corpus.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "core/base/error.h"
#include "core/base/json.h"

namespace maskserve {

namespace {

void Check(bool ok, const std::string& field, const std::string& rule) {
  if (!ok) throw InvalidArgument(field + ": " + rule);
}

// Calls `row(json, where)` for every non-blank line of a JSON lines file.
template <typename Row>
void ForEachJsonLine(const std::string& path, Row row) {
  std::ifstream in(path);
  if (!in) throw NotFound(path + ": cannot open the corpus file");
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    row(JsonValue::Parse(line, where), where);
  }
}

std::vector<std::string> SortedLabels(const std::set<std::string>& labels) {
  return std::vector<std::string>(labels.begin(), labels.end());
}

int64_t IndexOf(const std::vector<std::string>& labels, const std::string& label) {
  return int64_t(std::lower_bound(labels.begin(), labels.end(), label) - labels.begin());
}

}  // namespace

void BankCorpus::Validate() const {
  Check(labels.size() >= 2, "corpus.labels", "at least 2 labels are needed");
  std::set<std::string> distinct(labels.begin(), labels.end());
  Check(distinct.size() == labels.size() && !distinct.count(""), "corpus.labels",
        "labels must be distinct and non-empty");
  Check(!tasks.empty(), "corpus.tasks", "at least one task is needed");
  Check(task_names.empty() || task_names.size() == tasks.size(), "corpus.task_names",
        "one name per task");
  for (size_t t = 0; t < tasks.size(); ++t) {
    const std::string field = "corpus.tasks[" + std::to_string(t) + "]";
    Check(!tasks[t].empty(), field, "has no examples");
    for (size_t i = 0; i < tasks[t].size(); ++i) {
      const int64_t label = tasks[t][i].label;
      Check(label >= 0 && label < int64_t(labels.size()),
            field + ".examples[" + std::to_string(i) + "].label", "out of range");
    }
  }
}

int64_t BankCorpus::num_examples() const {
  int64_t n = 0;
  for (const auto& task : tasks) n += int64_t(task.size());
  return n;
}

BankCorpus ReadJsonlCorpus(const std::string& path) {
  struct Row {
    std::string profile, text, text_pair, label;
  };
  std::vector<Row> rows;
  std::set<std::string> labels;
  ForEachJsonLine(path, [&](const JsonValue& json, const std::string& where) {
    Row row{json.GetString("profile"), json.GetString("text"), "", json.GetString("label")};
    if (const JsonValue* pair = json.Find("text_pair")) row.text_pair = pair->AsString();
    Check(!row.profile.empty(), where + ": profile", "must not be empty");
    Check(!row.text.empty(), where + ": text", "must not be empty");
    Check(!row.label.empty(), where + ": label", "must not be empty");
    labels.insert(row.label);
    rows.push_back(std::move(row));
  });
  BankCorpus corpus;
  corpus.labels = SortedLabels(labels);
  std::map<std::string, size_t> task_of;
  for (Row& row : rows) {
    auto [it, added] = task_of.emplace(row.profile, corpus.tasks.size());
    if (added) {
      corpus.task_names.push_back(row.profile);
      corpus.tasks.emplace_back();
    }
    corpus.tasks[it->second].push_back(
        {std::move(row.text), std::move(row.text_pair), IndexOf(corpus.labels, row.label)});
  }
  return corpus;
}

BankCorpus SplitCorpus::TrainingCorpus(size_t first, size_t stride) const {
  Check(stride >= 1, "stride", "must be at least 1");
  BankCorpus corpus;
  corpus.labels = labels;
  for (size_t i = first; i < profiles.size(); i += stride) {
    if (profiles[i].train.empty()) continue;
    corpus.task_names.push_back(profiles[i].name);
    corpus.tasks.push_back(profiles[i].train);
  }
  return corpus;
}

std::vector<HuffPostArticle> ReadHuffPostArticles(const std::string& path) {
  std::vector<HuffPostArticle> articles;
  ForEachJsonLine(path, [&](const JsonValue& json, const std::string&) {
    try {
      articles.push_back({json.GetString("date"), json.GetString("authors"),
                          json.GetString("headline") + " " + json.GetString("short_description"),
                          json.GetString("category")});
    } catch (const EngineError& e) {
      throw DataLoss(e.what());  // names the file, line and key
    }
  });
  return articles;
}

SplitCorpus ReadHuffPostAuthors(const std::string& path, int64_t min_articles,
                                double test_fraction) {
  Check(test_fraction >= 0 && test_fraction < 1, "test_fraction", "must be in [0, 1)");
  std::map<std::string, std::vector<HuffPostArticle>> by_author;
  std::set<std::string> categories;
  for (HuffPostArticle& a : ReadHuffPostArticles(path)) {
    categories.insert(a.category);
    if (!a.authors.empty()) by_author[a.authors].push_back(std::move(a));
  }
  SplitCorpus corpus;
  corpus.labels = SortedLabels(categories);
  for (auto& [author, articles] : by_author) {
    if (int64_t(articles.size()) < min_articles) continue;
    std::stable_sort(
        articles.begin(), articles.end(),
        [](const HuffPostArticle& a, const HuffPostArticle& b) { return a.date < b.date; });
    const size_t train = size_t(std::floor((1.0 - test_fraction) * double(articles.size())));
    ProfileSplit split;
    split.name = author;
    for (size_t i = 0; i < articles.size(); ++i) {
      TrainingExample e{articles[i].text, "", IndexOf(corpus.labels, articles[i].category)};
      (i < train ? split.train : split.test).push_back(std::move(e));
    }
    corpus.profiles.push_back(std::move(split));
  }
  std::stable_sort(corpus.profiles.begin(), corpus.profiles.end(),
                   [](const ProfileSplit& a, const ProfileSplit& b) {
                     const size_t na = a.train.size() + a.test.size();
                     const size_t nb = b.train.size() + b.test.size();
                     return na != nb ? na > nb : a.name < b.name;
                   });
  return corpus;
}

}  // namespace maskserve
