// File: core/training/training_example.h
//
// One labelled example for training: a text (or a text pair) and the index
// of its label in the label names that come with it. Plain value type.
#ifndef MASKSERVE_CORE_TRAINING_TRAINING_EXAMPLE_H_
#define MASKSERVE_CORE_TRAINING_TRAINING_EXAMPLE_H_

#include <cstdint>
#include <string>

namespace maskserve {

struct TrainingExample {
  std::string text;
  std::string text_pair;  // empty for single texts
  int64_t label = 0;      // index into the label names
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_TRAINING_EXAMPLE_H_
