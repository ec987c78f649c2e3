#include "core/peft/mixed_batch.h"

#include <ATen/ATen.h>

#include <map>

#include "core/base/error.h"

namespace maskserve {

namespace {

// Per-layer adapter weights for the batch: one weight slice per profile,
// gathered per sequence (or kept at batch size 1 when every sequence
// shares one profile). Empty when no profile has an adapter.
std::vector<AdapterWeights> GatherAdapters(const BertModel& backbone,
                                           const std::vector<const ComposedProfile*>& profiles,
                                           const std::vector<int64_t>& profile_of) {
  const BertConfig& config = backbone.config();
  const DeviceSpec& device = backbone.device();
  const int64_t L = config.num_hidden_layers;
  const int64_t num_profiles = int64_t(profiles.size());
  const ComposedProfile* with_adapter = nullptr;
  bool any_norm = false, all_norm = true;
  for (const ComposedProfile* p : profiles) {
    if (p->has_adapter() && with_adapter == nullptr) with_adapter = p;
    any_norm |= p->norm_weight.defined();
    all_norm &= p->norm_weight.defined();
  }
  std::vector<AdapterWeights> adapters;
  if (with_adapter != nullptr) {
    const int64_t b = with_adapter->down.size(2), d = config.hidden_size;
    for (const ComposedProfile* p : profiles) {
      if (p->has_adapter() && p->down.size(2) != b) {
        throw InvalidArgument("profiles in one batch must share the adapter bottleneck");
      }
    }
    at::Tensor index = at::tensor(profile_of, at::kLong).to(device.device);
    const bool shared = num_profiles == 1;
    const auto opts = at::TensorOptions().dtype(device.dtype).device(device.device);
    auto gather = [&](const std::vector<at::Tensor>& per_profile) {
      at::Tensor stacked = at::stack(per_profile);
      return shared ? stacked : stacked.index_select(0, index);
    };
    at::Tensor norm_enabled;
    if (any_norm && !all_norm) {
      std::vector<int64_t> enabled;
      for (const ComposedProfile* p : profiles) enabled.push_back(p->norm_weight.defined());
      norm_enabled = at::tensor(enabled, at::kLong).to(device.device).index_select(0, index);
    }
    adapters.resize(size_t(L));
    for (int64_t l = 0; l < L; ++l) {
      std::vector<at::Tensor> down, down_bias, up, up_bias, norm_w, norm_b;
      for (const ComposedProfile* p : profiles) {
        if (p->has_adapter()) {
          down.push_back(p->down[l]);
          down_bias.push_back(p->down_bias[l]);
          up.push_back(p->up[l]);
          up_bias.push_back(p->up_bias[l]);
        } else {  // a zero up-projection leaves the layer stock (HEAD_ONLY)
          down.push_back(at::zeros({d, b}, opts));
          down_bias.push_back(at::zeros({b}, opts));
          up.push_back(at::zeros({b, d}, opts));
          up_bias.push_back(at::zeros({d}, opts));
        }
        if (any_norm) {
          norm_w.push_back(p->norm_weight.defined() ? p->norm_weight[l] : at::ones({b}, opts));
          norm_b.push_back(p->norm_bias.defined() ? p->norm_bias[l] : at::zeros({b}, opts));
        }
      }
      AdapterWeights& w = adapters[size_t(l)];
      w.down = gather(down);
      w.down_bias = gather(down_bias);
      w.up = gather(up);
      w.up_bias = gather(up_bias);
      if (any_norm) {
        w.mid_norm_weight = gather(norm_w);
        w.mid_norm_bias = gather(norm_b);
        w.mid_norm_enabled = norm_enabled;
      }
    }
  }
  return adapters;
}

// Each sequence's logits from its profile's head: one GEMM per distinct
// profile over its sequences, as float32 on the CPU.
std::vector<at::Tensor> ApplyHeads(const at::Tensor& pooled, const DeviceSpec& device,
                                   const std::vector<const ComposedProfile*>& profiles,
                                   const std::vector<int64_t>& profile_of) {
  const int64_t batch = int64_t(profile_of.size());
  std::vector<at::Tensor> logits(static_cast<size_t>(batch));
  std::map<int64_t, std::vector<int64_t>> rows_of;
  for (int64_t i = 0; i < batch; ++i) rows_of[profile_of[size_t(i)]].push_back(i);
  for (const auto& [profile, rows] : rows_of) {
    const ComposedProfile& p = *profiles[size_t(profile)];
    at::Tensor index = at::tensor(rows, at::kLong).to(device.device);
    at::Tensor out = at::linear(pooled.index_select(0, index), p.head_weight, p.head_bias)
                         .to(at::kCPU, at::kFloat);
    for (size_t r = 0; r < rows.size(); ++r) logits[size_t(rows[r])] = out[int64_t(r)];
  }
  return logits;
}

}  // namespace

std::vector<at::Tensor> ClassifyMixedBatch(const BertModel& backbone,
                                           const std::vector<const ComposedProfile*>& profiles,
                                           const std::vector<int64_t>& profile_of,
                                           const at::Tensor& ids, const at::Tensor& mask,
                                           const at::Tensor& types) {
  const int64_t batch = ids.size(0);
  if (int64_t(profile_of.size()) != batch) {
    throw InvalidArgument("profile_of: one entry per sequence expected");
  }
  const int64_t num_profiles = int64_t(profiles.size());
  for (int64_t i : profile_of) {
    if (i < 0 || i >= num_profiles) throw InvalidArgument("profile_of: index out of range");
  }
  const std::vector<AdapterWeights> adapters = GatherAdapters(backbone, profiles, profile_of);
  at::Tensor pooled =
      backbone.Forward(ids, mask, types, adapters.empty() ? nullptr : &adapters).pooled;

  return ApplyHeads(pooled, backbone.device(), profiles, profile_of);
}

std::vector<std::vector<float>> ClassifyPooledBatch(
    const BertModel& backbone, const ProfilePool& pool,
    const std::vector<const PooledProfile*>& profiles, const std::vector<int64_t>& profile_of,
    const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types, SublayerKernel kernel,
    CudaGraphForward* graphs) {
  if (int64_t(profile_of.size()) != ids.size(0)) {
    throw InvalidArgument("profile_of: one entry per sequence expected");
  }
  const PooledBatch batch = pool.ComposeBatch(profiles, profile_of);
  at::Tensor pooled;
  if (graphs != nullptr && kernel == SublayerKernel::kAuto) {
    pooled = graphs->Pooled(ids, mask, types, batch.adapters);
  }
  if (!pooled.defined()) pooled = backbone.Forward(ids, mask, types, batch.adapters, kernel).pooled;
  return pool.ApplyHeads(pooled, batch);
}

}  // namespace maskserve
