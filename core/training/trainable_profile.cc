#include "core/training/trainable_profile.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/base/error.h"
#include "core/peft/peft_composition.h"
#include "core/peft/profile_tensors.h"
#include "core/training/training_options.h"

namespace maskserve {

namespace {

at::Tensor Parameter(at::Tensor t, const at::Device& device) {
  return t.to(device, at::kFloat).set_requires_grad(true);
}

std::vector<AdapterWeights> Unstack(const AdapterStack& s, at::ScalarType dtype) {
  std::vector<AdapterWeights> layers(size_t(s.down.size(0)));
  for (int64_t l = 0; l < s.down.size(0); ++l) {
    AdapterWeights& w = layers[size_t(l)];
    w.down = s.down[l].to(dtype);
    w.down_bias = s.down_bias[l].to(dtype);
    w.up = s.up[l].to(dtype);
    w.up_bias = s.up_bias[l].to(dtype);
    if (s.norm_weight.defined()) {
      w.mid_norm_weight = s.norm_weight[l].to(dtype);
      w.mid_norm_bias = s.norm_bias[l].to(dtype);
    }
  }
  return layers;
}

class XpeftProfile : public TrainableProfile {
 public:
  XpeftProfile(const TrainableProfileOptions& options, std::shared_ptr<const AdapterBank> bank,
               at::ScalarType dtype, at::Generator& gen)
      : hard_(options.method == Method::kXpeftHard),
        k_(options.xpeft_top_k),
        bank_(std::move(bank)),
        dtype_(dtype) {
    const AdapterBankConfig& c = bank_->config();
    if (hard_) ValidateXpeftTopK(k_, *bank_);
    const at::Device device = bank_->device().device;
    logits_a_ = Parameter(at::normal(0.0, 0.01, {c.num_layers, c.num_adapters}, gen), device);
    logits_b_ = Parameter(at::normal(0.0, 0.01, {c.num_layers, c.num_adapters}, gen), device);
    if (options.xpeft_layer_norm) {
      norm_weight_ = Parameter(at::ones({c.num_layers, 1, c.bottleneck}), device);
      norm_bias_ = Parameter(at::zeros({c.num_layers, 1, c.bottleneck}), device);
    }
  }

  std::vector<at::Tensor> mask_parameters() override { return {logits_a_, logits_b_}; }
  std::vector<at::Tensor> weight_parameters() override {
    if (!norm_weight_.defined()) return {};
    return {norm_weight_, norm_bias_};
  }

  std::vector<AdapterWeights> TrainingAdapters(const StepSchedule& schedule,
                                               at::Generator& gen) override {
    if (!hard_) return Compose(at::softmax(logits_a_, -1), at::softmax(logits_b_, -1));
    return Compose(
        XpeftGumbelMask(logits_a_, k_, schedule.gumbel_noise, schedule.temperature, gen),
        XpeftGumbelMask(logits_b_, k_, schedule.gumbel_noise, schedule.temperature, gen));
  }

  std::vector<AdapterWeights> InferenceAdapters() override {
    if (!hard_) return Compose(at::softmax(logits_a_, -1), at::softmax(logits_b_, -1));
    return Compose(XpeftHardMask(logits_a_, k_), XpeftHardMask(logits_b_, k_));
  }

  void Export(ProfileData* p) const override {
    const AdapterBankConfig& c = bank_->config();
    p->bank_fingerprint = bank_->fingerprint();
    p->shape.bottleneck = uint32_t(c.bottleneck);
    p->shape.num_adapters = uint32_t(c.num_adapters);
    if (hard_) {
      StoreXpeftHardMasks(logits_a_, logits_b_, k_, p);
    } else {
      StoreXpeftSoftMasks(logits_a_, logits_b_, p);
    }
    if (norm_weight_.defined()) {
      p->norm_params = TensorToHalves(at::stack({norm_weight_.squeeze(1), norm_bias_.squeeze(1)}));
    }
  }

 private:
  std::vector<AdapterWeights> Compose(const at::Tensor& mask_a, const at::Tensor& mask_b) {
    AdapterStack s = ComposeXpeft(mask_a.unsqueeze(1), mask_b.unsqueeze(1), *bank_);
    if (norm_weight_.defined()) {
      s.norm_weight = norm_weight_;
      s.norm_bias = norm_bias_;
    }
    return Unstack(s, dtype_);
  }

  bool hard_;
  int64_t k_;
  std::shared_ptr<const AdapterBank> bank_;
  at::ScalarType dtype_;
  at::Tensor logits_a_, logits_b_, norm_weight_, norm_bias_;
};

class PropetlProfile : public TrainableProfile {
 public:
  PropetlProfile(const TrainableProfileOptions& options, std::shared_ptr<const PrototypeBank> proto,
                 at::ScalarType dtype, at::Generator& gen)
      : hybrid_(options.method == Method::kPropetlHybrid),
        keep_(options.propetl_keep_fraction),
        proto_(std::move(proto)),
        dtype_(dtype) {
    if (!(keep_ > 0.0 && keep_ <= 1.0)) {
      throw InvalidArgument("hyper_parameters.propetl_keep_fraction: must be in (0, 1]");
    }
    const PrototypeBankConfig& c = proto_->config();
    const int64_t d = c.hidden_size, b = c.bottleneck;
    std::vector<int64_t> down_shape = {d, b}, up_shape = {b, d};
    if (!hybrid_) {
      down_shape.insert(down_shape.begin(), c.num_layers);
      up_shape.insert(up_shape.begin(), c.num_layers);
    }
    const at::Device device = proto_->device().device;
    // U(+-1/sqrt(fan_in)): fan_in is d for the down and b for the up projection.
    const double down_bound = 1.0 / std::sqrt(double(d)), up_bound = 1.0 / std::sqrt(double(b));
    down_scores_ = Parameter(
        at::rand(down_shape, gen, at::TensorOptions()) * 2 * down_bound - down_bound, device);
    up_scores_ =
        Parameter(at::rand(up_shape, gen, at::TensorOptions()) * 2 * up_bound - up_bound, device);
  }

  std::vector<at::Tensor> mask_parameters() override { return {down_scores_, up_scores_}; }
  std::vector<at::Tensor> weight_parameters() override { return {}; }

  std::vector<AdapterWeights> TrainingAdapters(const StepSchedule&, at::Generator&) override {
    return Compose();
  }
  std::vector<AdapterWeights> InferenceAdapters() override { return Compose(); }

  void Export(ProfileData* p) const override {
    p->bank_fingerprint = proto_->fingerprint();
    p->shape.bottleneck = uint32_t(proto_->config().bottleneck);
    p->shape.keep_fraction = float(keep_);
    StorePropetlMasks(TopFractionMask(down_scores_, keep_, slice_dims()),
                      TopFractionMask(up_scores_, keep_, slice_dims()), p);
  }

 private:
  std::vector<AdapterWeights> Compose() {
    at::Tensor down = PropetlMask(down_scores_, keep_, slice_dims());
    at::Tensor up = PropetlMask(up_scores_, keep_, slice_dims());
    if (hybrid_) {
      down = MaskOr(proto_->layer_down_masks().to(at::kFloat), down.unsqueeze(0));
      up = MaskOr(proto_->layer_up_masks().to(at::kFloat), up.unsqueeze(0));
    }
    return Unstack(ComposePropetl(down.unsqueeze(1), up.unsqueeze(1), *proto_), dtype_);
  }

  // Per-layer masks ([L, ...] scores) keep the top fraction of each layer.
  int64_t slice_dims() const { return hybrid_ ? 0 : 1; }

  bool hybrid_;
  double keep_;
  std::shared_ptr<const PrototypeBank> proto_;
  at::ScalarType dtype_;
  at::Tensor down_scores_, up_scores_;
};

class AdapterProfile : public TrainableProfile {
 public:
  AdapterProfile(int64_t layers, int64_t d, int64_t b, const DeviceSpec& device, at::Generator& gen)
      : dtype_(device.dtype) {
    down_ = Parameter(at::normal(0.0, 0.02, {layers, 1, d, b}, gen), device.device);
    down_bias_ = Parameter(at::zeros({layers, 1, b}), device.device);
    up_ = Parameter(at::zeros({layers, 1, b, d}), device.device);
    up_bias_ = Parameter(at::zeros({layers, 1, d}), device.device);
  }

  std::vector<at::Tensor> mask_parameters() override { return {}; }
  std::vector<at::Tensor> weight_parameters() override {
    return {down_, down_bias_, up_, up_bias_};
  }
  std::vector<AdapterWeights> TrainingAdapters(const StepSchedule&, at::Generator&) override {
    return InferenceAdapters();
  }
  std::vector<AdapterWeights> InferenceAdapters() override {
    AdapterStack s;
    s.down = down_;
    s.down_bias = down_bias_;
    s.up = up_;
    s.up_bias = up_bias_;
    return Unstack(s, dtype_);
  }
  void Export(ProfileData* p) const override {
    const int64_t L = down_.size(0);
    p->shape.bottleneck = uint32_t(down_.size(3));
    p->adapter_params = TensorToHalves(at::cat({down_.reshape({L, -1}), down_bias_.reshape({L, -1}),
                                                up_.reshape({L, -1}), up_bias_.reshape({L, -1})},
                                               1));
  }

 private:
  at::ScalarType dtype_;
  at::Tensor down_, down_bias_, up_, up_bias_;
};

class HeadOnlyProfile : public TrainableProfile {
 public:
  std::vector<at::Tensor> mask_parameters() override { return {}; }
  std::vector<at::Tensor> weight_parameters() override { return {}; }
  std::vector<AdapterWeights> TrainingAdapters(const StepSchedule&, at::Generator&) override {
    return {};
  }
  std::vector<AdapterWeights> InferenceAdapters() override { return {}; }
  void Export(ProfileData*) const override {}
};

}  // namespace

std::vector<at::Tensor> TrainableProfile::Snapshot() {
  std::vector<at::Tensor> out;
  for (const auto& group : {mask_parameters(), weight_parameters()}) {
    for (const at::Tensor& t : group) out.push_back(t.detach().clone());
  }
  return out;
}

void TrainableProfile::Restore(const std::vector<at::Tensor>& snapshot) {
  at::NoGradGuard no_grad;
  size_t i = 0;
  for (const auto& group : {mask_parameters(), weight_parameters()}) {
    for (const at::Tensor& t : group) const_cast<at::Tensor&>(t).copy_(snapshot.at(i++));
  }
}

std::unique_ptr<TrainableProfile> MakeTrainableProfile(const TrainableProfileOptions& options,
                                                       const BertModel& backbone,
                                                       const ServingBanks& banks,
                                                       at::Generator& generator) {
  const BertConfig& c = backbone.config();
  const DeviceSpec& device = backbone.device();
  if (IsXpeft(options.method)) {
    banks.RequireAdapters(options.method);
    return std::make_unique<XpeftProfile>(options, banks.adapters, device.dtype, generator);
  }
  if (IsPropetl(options.method)) {
    banks.RequirePrototype(options.method);
    return std::make_unique<PropetlProfile>(options, banks.prototype, device.dtype, generator);
  }
  if (options.method == Method::kAdapter) {
    const int64_t b = banks.AdapterBottleneck(c.hidden_size);
    return std::make_unique<AdapterProfile>(c.num_hidden_layers, c.hidden_size, b, device,
                                            generator);
  }
  if (options.method == Method::kHeadOnly) return std::make_unique<HeadOnlyProfile>();
  throw InvalidArgument("method: must be set");
}

}  // namespace maskserve
