// File: core/testing/synthetic_task.h
//
// A deterministic, linearly separable text classification task for tests:
// sentences of filler words plus words from one of two (or more) disjoint
// cue-word sets, all in the built-in vocabulary. Label i's sentences carry
// cue words of set i.
#ifndef MASKSERVE_CORE_TESTING_SYNTHETIC_TASK_H_
#define MASKSERVE_CORE_TESTING_SYNTHETIC_TASK_H_

#include <random>
#include <string>
#include <vector>

namespace maskserve::testing {

struct SyntheticExample {
  std::string text;
  int64_t label;
};

inline std::vector<std::vector<std::string>> SyntheticCueWords() {
  return {
      {"good", "great", "excellent", "wonderful", "best", "love", "beautiful", "fun", "perfect",
       "enjoy"},
      {"bad", "worst", "awful", "boring", "terrible", "poor", "dull", "waste", "ugly", "hate"},
      {"music", "song", "dance", "band", "album", "singer", "concert", "rock", "jazz", "piano"},
  };
}

// `count` examples over `num_labels` (<= 3) labels, balanced, shuffled.
inline std::vector<SyntheticExample> SyntheticTask(int count, int num_labels, unsigned seed) {
  const std::vector<std::string> filler = {"the", "movie", "was",  "a",  "film", "story",
                                           "and", "it",    "this", "of", "with", "is"};
  const auto cues = SyntheticCueWords();
  std::mt19937 rng(seed);
  std::vector<SyntheticExample> out;
  for (int i = 0; i < count; ++i) {
    const int label = i % num_labels;
    std::string text;
    // 3 cue words among 4..6 words.
    const int words = 4 + int(rng() % 3);
    std::vector<bool> is_cue(size_t(words), false);
    for (int c = 0; c < 3; ++c) is_cue[rng() % size_t(words)] = true;
    for (int w = 0; w < words; ++w) {
      if (!text.empty()) text += ' ';
      text += is_cue[size_t(w)] ? cues[size_t(label)][rng() % cues[size_t(label)].size()]
                                : filler[rng() % filler.size()];
    }
    out.push_back({text, label});
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

}  // namespace maskserve::testing

#endif  // MASKSERVE_CORE_TESTING_SYNTHETIC_TASK_H_
