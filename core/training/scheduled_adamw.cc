#include "core/training/scheduled_adamw.h"

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include "core/base/error.h"
#include "core/training/lr_schedule.h"

namespace maskserve {

struct ScheduledAdamW::Impl {
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  std::vector<torch::optim::OptimizerParamGroup> pending;
  std::vector<double> base_lrs;
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

ScheduledAdamW::ScheduledAdamW(int64_t warmup_steps, int64_t total_steps)
    : impl_(std::make_unique<Impl>()) {
  impl_->warmup_steps = warmup_steps;
  impl_->total_steps = total_steps;
}

ScheduledAdamW::~ScheduledAdamW() = default;

void ScheduledAdamW::AddGroup(const std::vector<at::Tensor>& params, double learning_rate,
                              double weight_decay) {
  if (impl_->optimizer) throw Internal("ScheduledAdamW: AddGroup after the first Step");
  if (params.empty()) return;
  impl_->pending.emplace_back(
      params, std::make_unique<torch::optim::AdamWOptions>(
                  torch::optim::AdamWOptions(learning_rate).weight_decay(weight_decay)));
  impl_->base_lrs.push_back(learning_rate);
}

void ScheduledAdamW::Step(const at::Tensor& loss, int64_t step) {
  if (!impl_->optimizer) {
    if (impl_->pending.empty()) throw Internal("ScheduledAdamW: no parameters to train");
    impl_->optimizer = std::make_unique<torch::optim::AdamW>(std::move(impl_->pending));
  }
  auto& groups = impl_->optimizer->param_groups();
  const double factor = WarmupDecayFactor(step, impl_->warmup_steps, impl_->total_steps);
  for (size_t g = 0; g < groups.size(); ++g) {
    static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr(impl_->base_lrs[g] * factor);
  }
  impl_->optimizer->zero_grad();
  loss.backward();
  impl_->optimizer->step();
}

}  // namespace maskserve
