#include "core/composed_profile.h"

#include <ATen/ATen.h>

#include <map>

#include "core/error.h"
#include "core/peft_composition.h"
#include "core/profile_tensors.h"

namespace maskserve {

namespace {

std::string Short(const std::string& fingerprint) { return fingerprint.substr(0, 12); }

void RequireShape(const ProfileData& p, int64_t layers, int64_t hidden, int64_t bottleneck,
                  const char* what) {
  if (int64_t(p.shape.num_layers) != layers || int64_t(p.shape.hidden_size) != hidden ||
      (bottleneck >= 0 && int64_t(p.shape.bottleneck) != bottleneck)) {
    throw FailedPrecondition(std::string("profile shape (L=") + std::to_string(p.shape.num_layers) +
                             ", d=" + std::to_string(p.shape.hidden_size) + ", b=" +
                             std::to_string(p.shape.bottleneck) + ") does not match the " + what);
  }
}

}  // namespace

int64_t ComposedProfile::device_bytes() const {
  int64_t bytes = 0;
  for (const at::Tensor* t : {&down, &down_bias, &up, &up_bias, &norm_weight, &norm_bias}) {
    if (t->defined()) bytes += t->numel() * t->element_size();
  }
  if (!head_is_shared) {
    bytes += head_weight.numel() * head_weight.element_size() +
             head_bias.numel() * head_bias.element_size();
  }
  return bytes;
}

ComposedProfile ComposeProfile(const ProfileData& p, const BertModel& backbone,
                               const ServingBanks& banks) {
  if (p.backbone_fingerprint != backbone.fingerprint()) {
    throw FailedPrecondition("profile was trained for backbone " + Short(p.backbone_fingerprint) +
                             "..., this server runs " + Short(backbone.fingerprint()) + "...");
  }
  const BertConfig& config = backbone.config();
  const DeviceSpec& device = backbone.device();
  RequireShape(p, config.num_hidden_layers, config.hidden_size, -1, "backbone");
  auto place = [&](const at::Tensor& t) { return t.to(device.device, device.dtype).contiguous(); };

  ComposedProfile out;
  out.method = p.method;
  out.labels = p.labels;
  const int64_t C = int64_t(p.labels.size()), d = config.hidden_size;
  const int64_t L = config.num_hidden_layers, b = p.shape.bottleneck;
  if (p.has_shared_head()) {
    const SharedHead* head = banks.heads ? banks.heads->Find(p.shared_head) : nullptr;
    if (head == nullptr) {
      throw FailedPrecondition("profile uses shared head '" + p.shared_head +
                               "', which this server has not loaded");
    }
    if (head->fingerprint != p.shared_head_fingerprint) {
      throw FailedPrecondition("profile was trained with shared head '" + p.shared_head + "' " +
                               Short(p.shared_head_fingerprint) + "..., this server has " +
                               Short(head->fingerprint) + "...");
    }
    if (head->labels != p.labels || head->weight.size(1) != d) {
      throw FailedPrecondition("shared head '" + p.shared_head +
                               "' does not match the profile's labels or hidden size");
    }
    out.head_weight = place(head->weight);  // no copy once the set is placed
    out.head_bias = place(head->bias);
    out.head_is_shared = true;
  } else {
    out.head_weight = place(HeadWeightTensor(p));  // fp16 or dequantised int8
    out.head_bias = place(HalvesToTensor(p.head_bias, {C}));
  }

  AdapterStack stack;
  if (IsXpeft(p.method)) {
    if (banks.adapters == nullptr) {
      throw FailedPrecondition(std::string(MethodName(p.method)) +
                               " profile but this server has no X-PEFT adapter bank");
    }
    const AdapterBank& bank = *banks.adapters;
    if (p.bank_fingerprint != bank.fingerprint()) {
      throw FailedPrecondition("profile was trained for adapter bank " +
                               Short(p.bank_fingerprint) + "..., this server has " +
                               Short(bank.fingerprint()) + "...");
    }
    RequireShape(p, bank.config().num_layers, bank.config().hidden_size, bank.config().bottleneck,
                 "adapter bank");
    if (int64_t(p.shape.num_adapters) != bank.config().num_adapters) {
      throw FailedPrecondition("profile selects from " + std::to_string(p.shape.num_adapters) +
                               " adapters, the bank has " +
                               std::to_string(bank.config().num_adapters));
    }
    auto [mask_a, mask_b] = XpeftMasks(p);
    stack = ComposeXpeft(place(mask_a), place(mask_b), bank);
    if (!p.norm_params.empty()) {
      at::Tensor norm = HalvesToTensor(p.norm_params, {2, L, b});
      out.norm_weight = place(norm[0]);
      out.norm_bias = place(norm[1]);
    }
  } else if (IsPropetl(p.method)) {
    if (banks.prototype == nullptr) {
      throw FailedPrecondition(std::string(MethodName(p.method)) +
                               " profile but this server has no ProPETL prototype");
    }
    const PrototypeBank& proto = *banks.prototype;
    if (p.bank_fingerprint != proto.fingerprint()) {
      throw FailedPrecondition("profile was trained for prototype " + Short(p.bank_fingerprint) +
                               "..., this server has " + Short(proto.fingerprint()) + "...");
    }
    RequireShape(p, proto.config().num_layers, proto.config().hidden_size,
                 proto.config().bottleneck, "prototype");
    auto [down_mask, up_mask] = PropetlMasks(p);
    if (p.method == Method::kPropetlHybrid) {
      down_mask = MaskOr(proto.layer_down_masks(), place(down_mask)).unsqueeze(1);
      up_mask = MaskOr(proto.layer_up_masks(), place(up_mask)).unsqueeze(1);
    }
    stack = ComposePropetl(place(down_mask), place(up_mask), proto);
  } else if (p.method == Method::kAdapter) {
    at::Tensor flat = HalvesToTensor(p.adapter_params, {L, 2 * d * b + b + d});
    stack.down = flat.narrow(1, 0, d * b).reshape({L, 1, d, b});
    stack.down_bias = flat.narrow(1, d * b, b).reshape({L, 1, b});
    stack.up = flat.narrow(1, d * b + b, b * d).reshape({L, 1, b, d});
    stack.up_bias = flat.narrow(1, 2 * d * b + b, d).reshape({L, 1, d});
  }
  if (stack.down.defined()) {
    out.down = place(stack.down.select(1, 0));
    out.down_bias = place(stack.down_bias.select(1, 0));
    out.up = place(stack.up.select(1, 0));
    out.up_bias = place(stack.up_bias.select(1, 0));
  }
  return out;
}

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
  const BertConfig& config = backbone.config();
  const DeviceSpec& device = backbone.device();
  const int64_t L = config.num_hidden_layers;

  // Adapters: one weight slice per profile, gathered per sequence (or kept
  // at batch size 1 when every sequence shares one profile).
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
  at::Tensor pooled =
      backbone.Forward(ids, mask, types, adapters.empty() ? nullptr : &adapters).pooled;

  // Heads: one GEMM per distinct profile over its sequences.
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

}  // namespace maskserve
