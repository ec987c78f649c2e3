#include "core/benchmarks/naive_bayes.h"

#include <cmath>
#include <limits>

#include "core/base/error.h"

namespace maskserve {

namespace {

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

}  // namespace

NaiveBayesClassifier::NaiveBayesClassifier(double alpha) : alpha_(alpha) {
  if (!(alpha > 0)) throw InvalidArgument("alpha: must be positive");
}

std::vector<std::string> NaiveBayesClassifier::Words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (IsWordByte(static_cast<unsigned char>(c))) {
      word += Lower(c);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

void NaiveBayesClassifier::Fit(const std::vector<std::string>& texts,
                               const std::vector<int64_t>& label_ids, int64_t num_labels) {
  if (texts.size() != label_ids.size()) {
    throw InvalidArgument("label_ids: one label id per text is needed");
  }
  if (texts.empty()) throw InvalidArgument("texts: at least one text is needed");
  if (num_labels < 1) throw InvalidArgument("num_labels: must be at least 1");
  for (size_t i = 0; i < label_ids.size(); ++i) {
    if (label_ids[i] < 0 || label_ids[i] >= num_labels) {
      throw InvalidArgument("label_ids[" + std::to_string(i) + "]: out of range");
    }
  }
  word_index_.clear();
  std::vector<std::vector<int64_t>> counts(static_cast<size_t>(num_labels));  // [label][word]
  std::vector<int64_t> texts_of(static_cast<size_t>(num_labels), 0);
  std::vector<int64_t> words_of(static_cast<size_t>(num_labels), 0);
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t label = size_t(label_ids[i]);
    ++texts_of[label];
    for (std::string& word : Words(texts[i])) {
      auto [it, added] = word_index_.emplace(std::move(word), int64_t(word_index_.size()));
      if (added) {
        for (auto& c : counts) c.push_back(0);
      }
      ++counts[label][size_t(it->second)];
      ++words_of[label];
    }
  }
  const double vocabulary = double(word_index_.size());
  log_prior_.assign(size_t(num_labels), 0);
  log_likelihood_.assign(size_t(num_labels), {});
  for (size_t c = 0; c < size_t(num_labels); ++c) {
    log_prior_[c] = texts_of[c] == 0 ? -std::numeric_limits<double>::infinity()
                                     : std::log(double(texts_of[c]) / double(texts.size()));
    const double denominator = std::log(double(words_of[c]) + alpha_ * vocabulary);
    log_likelihood_[c].resize(counts[c].size());
    for (size_t w = 0; w < counts[c].size(); ++w) {
      log_likelihood_[c][w] = std::log(double(counts[c][w]) + alpha_) - denominator;
    }
  }
}

std::vector<double> NaiveBayesClassifier::LogScores(const std::string& text) const {
  if (log_prior_.empty()) throw FailedPrecondition("naive Bayes: Fit() has not been called");
  std::vector<double> scores = log_prior_;
  for (const std::string& word : Words(text)) {
    const auto it = word_index_.find(word);
    if (it == word_index_.end()) continue;
    for (size_t c = 0; c < scores.size(); ++c) scores[c] += log_likelihood_[c][size_t(it->second)];
  }
  return scores;
}

int64_t NaiveBayesClassifier::Predict(const std::string& text) const {
  const std::vector<double> scores = LogScores(text);
  size_t best = 0;
  for (size_t c = 1; c < scores.size(); ++c) {
    if (scores[c] > scores[best]) best = c;
  }
  return int64_t(best);
}

}  // namespace maskserve
