// File: core/training/bank_corpus.h
//
// Corpora of many profiles ("tasks") that share one label set, for bank
// building and for per-profile evaluation, and their readers:
//
// - JSON lines, one example a line:
//     {"profile": "alice", "text": "...", "text_pair": "...", "label": "sports"}
//   ("text_pair" optional). Labels are the sorted distinct labels of the file.
// - The HuffPost News Category JSON lines (LaMP-2N style split, see
//   ../shared/data/README.md): a profile is one `authors` value (rows
//   without authors are skipped), the text is headline + " " +
//   short_description, the label is `category`; every author's articles are
//   ordered by date and the latest `test_fraction` is held out as that
//   author's test set. Authors with fewer than `min_articles` are dropped;
//   the rest are ordered by article count (descending), then name. The
//   label set is every category of the file, sorted. ReadHuffPostArticles()
//   gives the file's rows as they are, for other splits
//   (core/benchmarks/eval_datasets.h).
//
// Readers throw NotFound (file) or DataLoss / InvalidArgument naming the
// file, line and key. Standard library only. Plain value types.
#ifndef MASKSERVE_CORE_TRAINING_BANK_CORPUS_H_
#define MASKSERVE_CORE_TRAINING_BANK_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/training/training_example.h"

namespace maskserve {

// Profiles ("tasks") that share one label set.
struct BankCorpus {
  std::vector<std::string> labels;
  std::vector<std::string> task_names;
  std::vector<std::vector<TrainingExample>> tasks;  // tasks[t]: task t's examples

  // Throws InvalidArgument naming the field (no tasks, a task without
  // examples, fewer than 2 or duplicate labels, a label out of range).
  void Validate() const;
  int64_t num_examples() const;
};

BankCorpus ReadJsonlCorpus(const std::string& path);

// One profile's examples split by time.
struct ProfileSplit {
  std::string name;
  std::vector<TrainingExample> train;  // the earliest articles
  std::vector<TrainingExample> test;   // the latest `test_fraction`
};

struct SplitCorpus {
  std::vector<std::string> labels;
  std::vector<ProfileSplit> profiles;

  // The training parts of the profiles at positions `first`, `first +
  // stride`, ... as a bank corpus.
  BankCorpus TrainingCorpus(size_t first = 0, size_t stride = 1) const;
};

// One row of the HuffPost file: `text` is headline + " " + short_description,
// `authors` may be empty.
struct HuffPostArticle {
  std::string date, authors, text, category;
};

// Every article of the file, in file order (blank lines skipped). A missing
// key or a value of the wrong type throws DataLoss naming the file, line and
// key.
std::vector<HuffPostArticle> ReadHuffPostArticles(const std::string& path);

SplitCorpus ReadHuffPostAuthors(const std::string& path, int64_t min_articles,
                                double test_fraction = 0.3);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_BANK_CORPUS_H_
