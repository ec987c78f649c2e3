#include "core/benchmarks/eval_datasets.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "core/base/error.h"
#include "core/training/bank_corpus.h"

namespace maskserve {

namespace {

// Fisher-Yates with raw mt19937_64 draws (std::shuffle's use of the engine
// differs between standard libraries).
template <typename T>
void Shuffle(std::vector<T>& items, std::mt19937_64& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[size_t(rng() % i)]);
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    fields.push_back(line.substr(start, tab - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

LabelledExamples ReadSst2(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw NotFound(path + ": cannot open the SST-2 file");
  std::string line;
  if (!std::getline(in, line)) throw DataLoss(path + ":1: missing the header line");
  const std::vector<std::string> header = SplitTabs(Trim(line));
  const auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw DataLoss(path + ":1: the header has no '" + name + "' column");
    return size_t(it - header.begin());
  };
  const size_t sentence_column = column("sentence"), label_column = column("label");
  LabelledExamples out;
  out.labels = {"negative", "positive"};
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) continue;
    const std::string where = path + ":" + std::to_string(number);
    const std::vector<std::string> fields = SplitTabs(line);
    if (fields.size() != header.size()) {
      throw DataLoss(where + ": expected " + std::to_string(header.size()) +
                     " tab-separated fields, got " + std::to_string(fields.size()));
    }
    const std::string label = Trim(fields[label_column]);
    if (label != "0" && label != "1") {
      throw DataLoss(where + ": label must be 0 or 1, got '" + label + "'");
    }
    TrainingExample e{Trim(fields[sentence_column]), "", label == "1" ? 1 : 0};
    if (e.text.empty()) throw DataLoss(where + ": empty sentence");
    out.examples.push_back(std::move(e));
  }
  return out;
}

std::vector<TrainingExample> BalancedSubsample(const std::vector<TrainingExample>& examples,
                                               int64_t num_labels, int64_t n, uint64_t seed) {
  if (n < 1) throw InvalidArgument("n: must be at least 1");
  if (num_labels < 1) throw InvalidArgument("num_labels: must be at least 1");
  std::vector<std::vector<size_t>> rows_of(static_cast<size_t>(num_labels));
  for (size_t i = 0; i < examples.size(); ++i) {
    const int64_t label = examples[i].label;
    if (label < 0 || label >= num_labels) {
      throw InvalidArgument("examples[" + std::to_string(i) + "].label: out of range");
    }
    rows_of[size_t(label)].push_back(i);
  }
  std::mt19937_64 rng(seed);
  std::vector<TrainingExample> out;
  for (int64_t c = 0; c < num_labels; ++c) {
    const size_t want = size_t(n / num_labels + (c < n % num_labels ? 1 : 0));
    std::vector<size_t>& rows = rows_of[size_t(c)];
    if (rows.size() < want) {
      throw InvalidArgument("n: label " + std::to_string(c) + " has " +
                            std::to_string(rows.size()) + " examples, " + std::to_string(want) +
                            " are needed");
    }
    Shuffle(rows, rng);
    for (size_t i = 0; i < want; ++i) out.push_back(examples[rows[i]]);
  }
  Shuffle(out, rng);
  return out;
}

EvalTask ReadHuffPostTopicTask(const std::string& path, const TopicTaskOptions& options) {
  if (options.num_classes < 2) throw InvalidArgument("num_classes: must be at least 2");
  if (options.per_class < 1) throw InvalidArgument("per_class: must be at least 1");
  if (options.test_per_class < 1) throw InvalidArgument("test_per_class: must be at least 1");
  std::map<std::string, std::vector<std::string>> texts_of;  // category -> distinct texts
  std::set<std::string> seen;
  for (HuffPostArticle& a : ReadHuffPostArticles(path)) {
    if (seen.insert(a.text).second) texts_of[a.category].push_back(std::move(a.text));
  }
  if (int64_t(texts_of.size()) < options.num_classes) {
    throw InvalidArgument("num_classes: " + path + " has only " + std::to_string(texts_of.size()) +
                          " categories");
  }
  std::vector<std::string> by_size;
  for (const auto& [category, texts] : texts_of) by_size.push_back(category);
  std::stable_sort(by_size.begin(), by_size.end(), [&](const std::string& a, const std::string& b) {
    return texts_of[a].size() > texts_of[b].size();  // ties keep name order
  });
  EvalTask task;
  task.labels.assign(by_size.begin(), by_size.begin() + options.num_classes);
  std::sort(task.labels.begin(), task.labels.end());
  std::mt19937_64 rng(options.seed);
  for (size_t c = 0; c < task.labels.size(); ++c) {
    std::vector<std::string>& texts = texts_of[task.labels[c]];
    if (int64_t(texts.size()) <= options.per_class) {
      throw InvalidArgument("per_class: category '" + task.labels[c] + "' has only " +
                            std::to_string(texts.size()) + " distinct articles");
    }
    Shuffle(texts, rng);
    const size_t train = size_t(options.per_class);
    const size_t end = std::min(texts.size(), train + size_t(options.test_per_class));
    for (size_t i = 0; i < end; ++i) {
      (i < train ? task.train : task.test).push_back({std::move(texts[i]), "", int64_t(c)});
    }
  }
  Shuffle(task.train, rng);
  Shuffle(task.test, rng);
  return task;
}

}  // namespace maskserve
