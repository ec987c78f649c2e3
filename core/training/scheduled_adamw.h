// File: core/training/scheduled_adamw.h
//
// The optimiser of both trainers: AdamW over parameter groups, each with
// its own base learning rate and weight decay, all following the linear
// warm-up + linear decay schedule of core/training/lr_schedule.h.
//
//   ScheduledAdamW optimizer(warmup_steps, total_steps);
//   optimizer.AddGroup(mask_scores, 3e-3, 0.0);
//   optimizer.AddGroup(head_params, 1e-2, 0.01);
//   optimizer.Step(loss, step);   // zero grads, backward, update at `step`
//
// Not thread-safe: one trainer owns it.
#ifndef MASKSERVE_CORE_TRAINING_SCHEDULED_ADAMW_H_
#define MASKSERVE_CORE_TRAINING_SCHEDULED_ADAMW_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

namespace maskserve {

class ScheduledAdamW {
 public:
  ScheduledAdamW(int64_t warmup_steps, int64_t total_steps);
  ~ScheduledAdamW();
  ScheduledAdamW(const ScheduledAdamW&) = delete;
  ScheduledAdamW& operator=(const ScheduledAdamW&) = delete;

  // Adds a group (ignored when `params` is empty). All groups must be added
  // before the first Step().
  void AddGroup(const std::vector<at::Tensor>& params, double learning_rate, double weight_decay);

  // Zeroes the gradients, back-propagates `loss` and updates every group
  // with its learning rate scaled for 0-based `step`.
  void Step(const at::Tensor& loss, int64_t step);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_SCHEDULED_ADAMW_H_
