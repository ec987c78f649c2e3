// File: core/training/lr_schedule.h
//
// The learning-rate schedule of both trainers: linear warm-up over the
// first `warmup_steps` steps, then linear decay to 0 at `total_steps`.
// Returns the factor the base learning rate is multiplied by at `step`
// (0-based). Pure function.
#ifndef MASKSERVE_CORE_TRAINING_LR_SCHEDULE_H_
#define MASKSERVE_CORE_TRAINING_LR_SCHEDULE_H_

#include <algorithm>
#include <cstdint>

namespace maskserve {

inline double WarmupDecayFactor(int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) return double(step + 1) / double(warmup_steps);
  return std::max(
      0.0, double(total_steps - step) / double(std::max<int64_t>(1, total_steps - warmup_steps)));
}

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_LR_SCHEDULE_H_
