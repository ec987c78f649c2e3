#include "core/peft/composed_profile.h"

#include <ATen/ATen.h>

#include <utility>

#include "core/base/error.h"
#include "core/peft/peft_composition.h"
#include "core/peft/profile_tensors.h"
#include "core/peft/servable_check.h"

namespace maskserve {

namespace {

void RequireFinite(const ComposedProfile& c) {
  const std::pair<const char*, const at::Tensor*> parts[] = {
      {"head", &c.head_weight},    {"head", &c.head_bias},   {"adapter", &c.down},
      {"adapter", &c.down_bias},   {"adapter", &c.up},       {"adapter", &c.up_bias},
      {"adapter", &c.norm_weight}, {"adapter", &c.norm_bias}};
  for (const auto& [name, t] : parts) RequireFiniteValues(*t, name);
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
  const ServableParts parts = CheckServable(p, backbone, banks);
  const BertConfig& config = backbone.config();
  const DeviceSpec& device = backbone.device();
  auto place = [&](const at::Tensor& t) { return t.to(device.device, device.dtype).contiguous(); };

  ComposedProfile out;
  out.method = p.method;
  out.labels = p.labels;
  const int64_t C = int64_t(p.labels.size()), d = config.hidden_size;
  const int64_t L = config.num_hidden_layers, b = p.shape.bottleneck;
  if (parts.shared_head != nullptr) {
    out.head_weight = place(parts.shared_head->weight);  // no copy once the set is placed
    out.head_bias = place(parts.shared_head->bias);
    out.head_is_shared = true;
  } else {
    out.head_weight = place(HeadWeightTensor(p));  // fp16 or dequantised int8
    out.head_bias = place(HalvesToTensor(p.head_bias, {C}));
  }

  AdapterStack stack;
  if (parts.bank != nullptr) {
    auto [mask_a, mask_b] = XpeftMasks(p);
    stack = ComposeXpeft(place(mask_a), place(mask_b), *parts.bank);
    if (!p.norm_params.empty()) {
      at::Tensor norm = HalvesToTensor(p.norm_params, {2, L, b});
      out.norm_weight = place(norm[0]);
      out.norm_bias = place(norm[1]);
    }
  } else if (parts.prototype != nullptr) {
    const PrototypeBank& proto = *parts.prototype;
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
  RequireFinite(out);
  return out;
}

}  // namespace maskserve
