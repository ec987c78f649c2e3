// File: core/benchmarks/eval_datasets.h
//
// Single-profile evaluation tasks on public data (../shared/data/README.md)
// for the quality benchmark:
//
// - SST-2 (GLUE TSV: a header naming the columns `sentence` and `label`,
//   then `sentence<TAB>label` rows with label 0 or 1): labels
//   {"negative", "positive"}; the sentence is trimmed of surrounding
//   whitespace. BalancedSubsample() draws a class-balanced training set.
// - Few-shot news topics from the HuffPost News Category file: the
//   `num_classes` most frequent categories (ties by name), `per_class`
//   training articles and up to `test_per_class` held-out articles of each,
//   drawn without overlap; the text is headline + " " + short_description
//   (core/training/bank_corpus.h). Articles whose text repeats an earlier one are
//   skipped, so no test text is also a training text. Labels are the chosen
//   categories, sorted.
//
// Every draw is a deterministic function of the input and `seed` (its own
// Fisher-Yates shuffle over std::mt19937_64, the same on every platform).
//
// Readers throw NotFound for a file that cannot be opened and DataLoss
// naming file:line for a malformed row; impossible draws (too few examples)
// throw InvalidArgument naming the option. Standard library only. Plain
// value types.
#ifndef MASKSERVE_CORE_BENCHMARKS_EVAL_DATASETS_H_
#define MASKSERVE_CORE_BENCHMARKS_EVAL_DATASETS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/training/training_example.h"

namespace maskserve {

// Examples and the label names their label ids index.
struct LabelledExamples {
  std::vector<std::string> labels;
  std::vector<TrainingExample> examples;
};

// A task: training and test examples over one label set.
struct EvalTask {
  std::vector<std::string> labels;
  std::vector<TrainingExample> train;
  std::vector<TrainingExample> test;
};

// An SST-2 TSV file (train.tsv or dev.tsv), rows in file order.
LabelledExamples ReadSst2(const std::string& path);

// `n` of `examples`, n / num_labels of each label (the first n % num_labels
// labels get one more), in shuffled order. Throws InvalidArgument ("n")
// when a label has too few examples or n < 1.
std::vector<TrainingExample> BalancedSubsample(const std::vector<TrainingExample>& examples,
                                               int64_t num_labels, int64_t n, uint64_t seed);

struct TopicTaskOptions {
  int64_t num_classes = 4;
  int64_t per_class = 16;        // training articles per class
  int64_t test_per_class = 200;  // at most; fewer when a class has fewer left
  uint64_t seed = 0;
};

// The few-shot topic task of the HuffPost file at `path`; train and test
// are each shuffled. Throws InvalidArgument when the file has fewer than
// num_classes categories or a chosen one has fewer than per_class + 1
// distinct articles.
EvalTask ReadHuffPostTopicTask(const std::string& path, const TopicTaskOptions& options);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BENCHMARKS_EVAL_DATASETS_H_
