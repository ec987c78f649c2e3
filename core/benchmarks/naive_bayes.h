// File: core/benchmarks/naive_bayes.h
//
// Multinomial naive Bayes over bag-of-words: the cheap floor the quality
// benchmarks compare the profile methods against.
//
// - Words: the text lowercased (ASCII), split at every ASCII character that
//   is not a letter or a digit; bytes >= 0x80 count as word characters, so
//   UTF-8 words stay whole.
// - Fit: class prior log(n_c / n) (a class without training texts gets
//   -infinity and is never predicted), word likelihood
//   log((count(w, c) + alpha) / (words(c) + alpha * |V|)) over the training
//   vocabulary V (Laplace smoothing, alpha = 1 by default). All in log space.
// - Scoring: prior + sum over the text's words of count * log-likelihood;
//   words outside V are ignored. Predict() is the arg max (ties: the lowest
//   label id).
//
//   NaiveBayesClassifier nb;
//   nb.Fit({"good fun", "dull"}, {1, 0}, /*num_labels=*/2);
//   int64_t label = nb.Predict("such fun");  // 1
//
// Standard library only. Thread safety: const methods may run concurrently;
// Fit() needs exclusive access.
#ifndef MASKSERVE_CORE_BENCHMARKS_NAIVE_BAYES_H_
#define MASKSERVE_CORE_BENCHMARKS_NAIVE_BAYES_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace maskserve {

class NaiveBayesClassifier {
 public:
  // `alpha` > 0 is the additive (Laplace) smoothing count.
  explicit NaiveBayesClassifier(double alpha = 1.0);

  // Replaces any previous fit. Throws InvalidArgument naming the argument
  // when texts and label_ids differ in size, there are no texts,
  // num_labels < 1 or a label id is outside [0, num_labels).
  void Fit(const std::vector<std::string>& texts, const std::vector<int64_t>& label_ids,
           int64_t num_labels);

  // The unnormalised log posterior of every label (size num_labels()).
  // Throws FailedPrecondition before Fit().
  std::vector<double> LogScores(const std::string& text) const;

  // The label id with the highest LogScores() (the lowest id on ties).
  int64_t Predict(const std::string& text) const;

  int64_t num_labels() const { return int64_t(log_prior_.size()); }
  int64_t vocabulary_size() const { return int64_t(word_index_.size()); }

  // The words of `text` as described in the file comment, in order.
  static std::vector<std::string> Words(const std::string& text);

 private:
  double alpha_;
  std::unordered_map<std::string, int64_t> word_index_;
  std::vector<double> log_prior_;                    // [label]
  std::vector<std::vector<double>> log_likelihood_;  // [label][word index]
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BENCHMARKS_NAIVE_BAYES_H_
