#include "core/training/profile_trainer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "core/base/error.h"
#include "core/peft/profile_tensors.h"
#include "core/training/encoded_examples.h"
#include "core/training/scheduled_adamw.h"
#include "core/training/standardized_head.h"
#include "core/training/trainable_profile.h"

namespace maskserve {

namespace {

double Lerp(double start, double end, double t) { return start + (end - start) * t; }

// The head a profile is trained with: its own (standardised, trainable) or
// a frozen shared one.
class TrainingHead {
 public:
  // Own head, standardised with `features`.
  TrainingHead(const at::Tensor& features, int64_t num_labels, at::Generator& gen)
      : own_(std::make_unique<StandardizedHead>(features, num_labels, gen)) {}
  // Frozen shared head.
  TrainingHead(const SharedHead& shared, const at::Device& device)
      : shared_(&shared),
        weight_(shared.weight.to(device, at::kFloat)),
        bias_(shared.bias.to(device, at::kFloat)) {}

  at::Tensor Logits(const at::Tensor& pooled) const {
    return own_ ? own_->Logits(pooled) : at::linear(pooled.to(at::kFloat), weight_, bias_);
  }
  std::vector<at::Tensor> parameters() const {
    return own_ ? own_->parameters() : std::vector<at::Tensor>{};
  }
  void Remember() {
    if (own_) own_->Remember();
  }
  void RestoreRemembered() {
    if (own_) own_->RestoreRemembered();
  }
  // Writes the head (or the shared head reference) into the profile.
  void Export(bool int8, ProfileData* profile) const {
    if (shared_ != nullptr) {
      profile->shared_head = shared_->name;
      profile->shared_head_fingerprint = shared_->fingerprint;
      return;
    }
    // The bias is folded with the weight as stored (fp16 or int8), so that
    // its rounding error multiplies the centred features.
    StoreHeadWeight(own_->FoldedWeight(), int8, profile);
    profile->head_bias = TensorToHalves(own_->FoldedBias(HeadWeightTensor(*profile)));
  }

 private:
  std::unique_ptr<StandardizedHead> own_;
  const SharedHead* shared_ = nullptr;
  at::Tensor weight_, bias_;
};

// The shared head `options` names, checked against the labels; nullptr when
// the profile trains its own.
const SharedHead* ResolveSharedHead(const TrainingOptions& options, const ServingBanks& banks,
                                    const std::vector<std::string>& labels) {
  if (options.shared_head.empty()) return nullptr;
  if (options.method == Method::kHeadOnly) {
    throw InvalidArgument(
        "shared_head: HEAD_ONLY trains only a head, so it cannot use a shared one");
  }
  const SharedHead* head = banks.heads ? banks.heads->Find(options.shared_head) : nullptr;
  if (head == nullptr) {
    throw InvalidArgument("shared_head: no shared head '" + options.shared_head + "' is loaded");
  }
  if (head->labels != labels) {
    throw InvalidArgument("label_names: must equal the labels of shared head '" + head->name +
                          "' (" + std::to_string(head->labels.size()) + " labels, in order)");
  }
  return head;
}

}  // namespace

ProfileTrainer::ProfileTrainer(Backbone backbone, ServingBanks banks)
    : backbone_(std::move(backbone)), banks_(std::move(banks)) {}

ProfileData ProfileTrainer::Train(const std::vector<TrainingExample>& examples,
                                  const std::vector<std::string>& labels, TrainingOptions options,
                                  const std::function<void(const TrainingProgress&)>& on_progress,
                                  const std::function<bool()>& cancelled) const {
  options.ResolveDefaults(banks_, int64_t(examples.size()));
  options.Validate();
  const BertModel& model = *backbone_.model;
  const DeviceSpec& device = model.device();
  const int64_t num_labels = int64_t(labels.size());
  if (num_labels < 2) throw InvalidArgument("label_names: at least 2 labels are needed");
  if (examples.empty()) throw InvalidArgument("examples: at least 1 example is needed");

  const SharedHead* shared_head = ResolveSharedHead(options, banks_, labels);
  if (shared_head != nullptr && shared_head->weight.size(1) != model.config().hidden_size) {
    throw InvalidArgument("shared_head: '" + shared_head->name + "' is for another hidden size");
  }
  const EncodedExamples all(
      *backbone_.tokenizer, examples, num_labels,
      std::min(options.max_sequence_length, model.config().max_position_embeddings));

  // Deterministic split.
  std::mt19937_64 rng(options.seed);
  std::vector<int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t num_val =
      TrainingOptions::NumValidationExamples(options.validation_fraction, int64_t(order.size()));
  std::vector<int64_t> val_rows(order.begin(), order.begin() + num_val);
  std::vector<int64_t> train_rows(order.begin() + num_val, order.end());

  at::Generator gen = at::detail::createCPUGenerator(options.seed * 0x9e3779b97f4a7c15ull + 1);
  TrainableProfileOptions method_options;
  method_options.method = options.method;
  method_options.xpeft_top_k = options.xpeft_top_k;
  method_options.xpeft_layer_norm = options.xpeft_layer_norm;
  method_options.propetl_keep_fraction = options.propetl_keep_fraction;
  std::unique_ptr<TrainableProfile> trainable =
      MakeTrainableProfile(method_options, model, banks_, gen);

  // HEAD_ONLY: the backbone output does not depend on any trainable
  // parameter, so compute the pooled features once.
  at::Tensor cached_pooled;
  auto pooled_of = [&](const std::vector<int64_t>& rows,
                       const std::vector<AdapterWeights>& adapters) {
    if (cached_pooled.defined()) {
      return cached_pooled.index_select(0, at::tensor(rows, at::kLong).to(device.device));
    }
    ExampleBatch batch = all.Batch(rows, device.device);
    return model.Forward(batch.ids, batch.mask, batch.types, adapters.empty() ? nullptr : &adapters)
        .pooled.to(at::kFloat);
  };
  if (options.method == Method::kHeadOnly) {
    at::NoGradGuard no_grad;
    std::vector<int64_t> rows(examples.size());
    std::iota(rows.begin(), rows.end(), 0);
    std::vector<at::Tensor> chunks;
    for (const auto& chunk : Chunks(rows, 64)) chunks.push_back(pooled_of(chunk, {}));
    cached_pooled = at::cat(chunks);
  }
  at::Tensor all_labels = at::tensor(all.labels(), at::kLong).to(device.device);

  // An own head sees the pooled features standardised with the statistics
  // of the training split under the initial adapters (core/training/standardized_head.h).
  std::unique_ptr<TrainingHead> head;
  if (shared_head != nullptr) {
    head = std::make_unique<TrainingHead>(*shared_head, device.device);
  } else {
    at::NoGradGuard no_grad;
    std::vector<AdapterWeights> adapters = trainable->InferenceAdapters();
    std::vector<at::Tensor> chunks;
    for (const auto& chunk : Chunks(train_rows, 64)) chunks.push_back(pooled_of(chunk, adapters));
    head = std::make_unique<TrainingHead>(at::cat(chunks), num_labels, gen);
  }

  auto evaluate = [&](const std::vector<int64_t>& rows) {
    at::NoGradGuard no_grad;
    std::vector<AdapterWeights> adapters = trainable->InferenceAdapters();
    std::vector<at::Tensor> logits;
    for (const auto& chunk : Chunks(rows, 64))
      logits.push_back(head->Logits(pooled_of(chunk, adapters)));
    at::Tensor index = at::tensor(rows, at::kLong).to(device.device);
    return ClassificationMetrics(at::cat(logits), all_labels.index_select(0, index), num_labels);
  };

  const int64_t batch_size = options.batch_size;
  const int64_t steps_per_epoch = (int64_t(train_rows.size()) + batch_size - 1) / batch_size;
  TrainingProgress progress;
  progress.total_epochs = options.epochs;
  progress.total_steps = options.epochs * steps_per_epoch;
  progress.has_validation = !val_rows.empty();
  const int64_t warmup_steps =
      int64_t(std::llround(options.warmup_fraction * double(progress.total_steps)));
  ScheduledAdamW optimizer(warmup_steps, progress.total_steps);
  optimizer.AddGroup(trainable->mask_parameters(), options.mask_learning_rate, 0.0);
  std::vector<at::Tensor> weight_params = trainable->weight_parameters();
  for (const at::Tensor& t : head->parameters()) weight_params.push_back(t);
  optimizer.AddGroup(weight_params, options.head_learning_rate, options.weight_decay);
  std::vector<at::Tensor> best_state;
  int64_t epochs_without_improvement = 0;

  for (int64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    progress.epoch = epoch;
    std::shuffle(train_rows.begin(), train_rows.end(), rng);
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (const auto& rows : Chunks(train_rows, size_t(batch_size))) {
      if (cancelled && cancelled()) throw Cancelled("training was cancelled");
      const int64_t step = progress.step;
      const double t =
          progress.total_steps > 1 ? double(step) / double(progress.total_steps - 1) : 1.0;
      StepSchedule schedule{Lerp(options.gumbel_noise_start, options.gumbel_noise_end, t),
                            Lerp(options.temperature_start, options.temperature_end, t)};
      at::Tensor logits = head->Logits(pooled_of(rows, trainable->TrainingAdapters(schedule, gen)));
      at::Tensor loss = at::cross_entropy_loss(
          logits, all_labels.index_select(0, at::tensor(rows, at::kLong).to(device.device)));
      optimizer.Step(loss, step);
      loss_sum += loss.item<double>() * double(rows.size());
      loss_count += int64_t(rows.size());
      progress.step = step + 1;
      progress.train_loss = loss_sum / double(loss_count);
      if (on_progress) on_progress(progress);
    }

    if (!val_rows.empty()) {
      progress.validation = evaluate(val_rows);
      if (best_state.empty() || BetterEval(progress.validation, progress.best_validation)) {
        progress.best_validation = progress.validation;
        best_state = trainable->Snapshot();
        head->Remember();
        epochs_without_improvement = 0;
      } else {
        ++epochs_without_improvement;
      }
    }
    if (on_progress) on_progress(progress);
    if (options.early_stopping_patience > 0 &&
        epochs_without_improvement >= options.early_stopping_patience) {
      break;
    }
  }
  if (!best_state.empty()) {
    trainable->Restore(best_state);
    head->RestoreRemembered();
  }
  // How well the published profile fits what it was trained on, scored
  // like serving (noise-free masks).
  const EvalResult fit = evaluate(train_rows);

  ProfileData profile;
  profile.method = options.method;
  profile.backbone_fingerprint = model.fingerprint();
  profile.shape.num_layers = uint32_t(model.config().num_hidden_layers);
  profile.shape.hidden_size = uint32_t(model.config().hidden_size);
  profile.labels = labels;
  trainable->Export(&profile);
  head->Export(options.head_int8, &profile);
  profile.metrics.validation_accuracy = float(progress.best_validation.accuracy);
  profile.metrics.validation_loss = float(progress.best_validation.loss);
  profile.metrics.validation_macro_f1 = float(progress.best_validation.macro_f1);
  profile.metrics.validation_examples = uint32_t(val_rows.size());
  profile.metrics.train_examples = uint32_t(train_rows.size());
  profile.metrics.train_accuracy = float(fit.accuracy);
  profile.metrics.train_loss = float(fit.loss);
  profile.metrics.train_macro_f1 = float(fit.macro_f1);
  return profile;
}

}  // namespace maskserve
