#include "core/peft/composed_profile.h"

#include <ATen/ATen.h>

#include <map>
#include <utility>

#include "core/base/error.h"
#include "core/peft/peft_composition.h"
#include "core/peft/profile_tensors.h"

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

// A diverged fit or a doctored payload would serve NaN probabilities.
void RequireFinite(const ComposedProfile& c) {
  const std::pair<const char*, const at::Tensor*> parts[] = {
      {"head", &c.head_weight},    {"head", &c.head_bias},   {"adapter", &c.down},
      {"adapter", &c.down_bias},   {"adapter", &c.up},       {"adapter", &c.up_bias},
      {"adapter", &c.norm_weight}, {"adapter", &c.norm_bias}};
  for (const auto& [name, t] : parts) {
    if (t->defined() && t->numel() > 0 && !at::isfinite(*t).all().item<bool>()) {
      throw DataLoss(std::string("profile has non-finite (NaN or infinite) values in its ") + name);
    }
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
    const AdapterBank& bank = banks.RequireAdapters(p.method);
    if (p.bank_fingerprint != bank.fingerprint()) {
      throw FailedPrecondition("profile was trained for adapter bank " + Short(p.bank_fingerprint) +
                               "..., this server has " + Short(bank.fingerprint()) + "...");
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
    const PrototypeBank& proto = banks.RequirePrototype(p.method);
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
    // Every adapter a batch runs has one bottleneck: this server's.
    const int64_t served = banks.AdapterBottleneck(d);
    if (int64_t(p.shape.bottleneck) != served) {
      throw FailedPrecondition(
          "ADAPTER profile has bottleneck b=" + std::to_string(p.shape.bottleneck) +
          "; this server serves b=" + std::to_string(served) + " (--bottleneck)");
    }
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
