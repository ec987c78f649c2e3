#include "core/training/profile_trainer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <utility>

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

// One Train() call: the encoded examples and their split, the trainable
// profile and its head, and the loop. Each step is a method; they run in
// the order Train() calls them, so the random draws are always the same.
class TrainingRun {
 public:
  TrainingRun(const Backbone& backbone, const ServingBanks& banks,
              const std::vector<TrainingExample>& examples, const std::vector<std::string>& labels,
              const TrainingOptions& options, std::function<bool()> cancelled)
      : cancelled_(std::move(cancelled)),
        model_(*backbone.model),
        device_(model_.device()),
        options_(options),
        labels_(labels),
        num_labels_(int64_t(labels.size())),
        all_(*backbone.tokenizer, examples, num_labels_,
             std::min(options.max_sequence_length, model_.config().max_position_embeddings)),
        rng_(options.seed),
        gen_(at::detail::createCPUGenerator(options.seed * 0x9e3779b97f4a7c15ull + 1)) {
    SplitRows(examples.size());
    TrainableProfileOptions method_options;
    method_options.method = options.method;
    method_options.xpeft_top_k = options.xpeft_top_k;
    method_options.xpeft_layer_norm = options.xpeft_layer_norm;
    method_options.propetl_keep_fraction = options.propetl_keep_fraction;
    trainable_ = MakeTrainableProfile(method_options, model_, banks, gen_);
    if (options.method == Method::kHeadOnly) CachePooledFeatures(examples.size());
    all_labels_ = at::tensor(all_.labels(), at::kLong).to(device_.device);
  }

  // An own head sees the pooled features standardised with the statistics
  // of the training split under the initial adapters
  // (core/training/standardized_head.h); a shared head is frozen.
  void MakeHead(const SharedHead* shared_head) {
    if (shared_head != nullptr) {
      head_ = std::make_unique<TrainingHead>(*shared_head, device_.device);
      return;
    }
    at::NoGradGuard no_grad;
    std::vector<AdapterWeights> adapters = trainable_->InferenceAdapters();
    std::vector<at::Tensor> chunks;
    for (const auto& chunk : Chunks(train_rows_, 64)) {
      CheckCancelled();
      chunks.push_back(Pooled(chunk, adapters));
    }
    head_ = std::make_unique<TrainingHead>(at::cat(chunks), num_labels_, gen_);
  }

  // The epochs, with early stopping on the validation split; leaves the
  // best validated state in place.
  void Fit(const std::function<void(const TrainingProgress&)>& on_progress) {
    const int64_t batch_size = options_.batch_size;
    const int64_t steps_per_epoch = (int64_t(train_rows_.size()) + batch_size - 1) / batch_size;
    progress_.total_epochs = options_.epochs;
    progress_.total_steps = options_.epochs * steps_per_epoch;
    progress_.has_validation = !val_rows_.empty();
    const int64_t warmup_steps =
        int64_t(std::llround(options_.warmup_fraction * double(progress_.total_steps)));
    ScheduledAdamW optimizer(warmup_steps, progress_.total_steps);
    optimizer.AddGroup(trainable_->mask_parameters(), options_.mask_learning_rate, 0.0);
    std::vector<at::Tensor> weight_params = trainable_->weight_parameters();
    for (const at::Tensor& t : head_->parameters()) weight_params.push_back(t);
    optimizer.AddGroup(weight_params, options_.head_learning_rate, options_.weight_decay);
    std::vector<at::Tensor> best_state;
    int64_t epochs_without_improvement = 0;

    for (int64_t epoch = 1; epoch <= options_.epochs; ++epoch) {
      progress_.epoch = epoch;
      RunEpoch(optimizer, on_progress);
      if (!val_rows_.empty()) {
        progress_.validation = Evaluate(val_rows_);
        if (best_state.empty() || BetterEval(progress_.validation, progress_.best_validation)) {
          progress_.best_validation = progress_.validation;
          best_state = trainable_->Snapshot();
          head_->Remember();
          epochs_without_improvement = 0;
        } else {
          ++epochs_without_improvement;
        }
      }
      if (on_progress) on_progress(progress_);
      if (options_.early_stopping_patience > 0 &&
          epochs_without_improvement >= options_.early_stopping_patience) {
        break;
      }
    }
    if (!best_state.empty()) {
      trainable_->Restore(best_state);
      head_->RestoreRemembered();
    }
  }

  // The trained profile, with how well it fits what it was trained on,
  // scored like serving (noise-free masks).
  ProfileData Export() {
    const EvalResult fit = Evaluate(train_rows_);
    ProfileData profile;
    profile.method = options_.method;
    profile.backbone_fingerprint = model_.fingerprint();
    profile.shape.num_layers = uint32_t(model_.config().num_hidden_layers);
    profile.shape.hidden_size = uint32_t(model_.config().hidden_size);
    profile.labels = labels_;
    trainable_->Export(&profile);
    head_->Export(options_.head_int8, &profile);
    profile.metrics.validation_accuracy = float(progress_.best_validation.accuracy);
    profile.metrics.validation_loss = float(progress_.best_validation.loss);
    profile.metrics.validation_macro_f1 = float(progress_.best_validation.macro_f1);
    profile.metrics.validation_examples = uint32_t(val_rows_.size());
    profile.metrics.train_examples = uint32_t(train_rows_.size());
    profile.metrics.train_accuracy = float(fit.accuracy);
    profile.metrics.train_loss = float(fit.loss);
    profile.metrics.train_macro_f1 = float(fit.macro_f1);
    return profile;
  }

 private:
  // Deterministic split into validation and training rows.
  void SplitRows(size_t n) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng_);
    const int64_t num_val =
        TrainingOptions::NumValidationExamples(options_.validation_fraction, int64_t(n));
    val_rows_.assign(order.begin(), order.begin() + num_val);
    train_rows_.assign(order.begin() + num_val, order.end());
  }

  // HEAD_ONLY: the backbone output does not depend on any trainable
  // parameter, so the pooled features are computed once.
  void CachePooledFeatures(size_t n) {
    at::NoGradGuard no_grad;
    std::vector<int64_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0);
    std::vector<at::Tensor> chunks;
    for (const auto& chunk : Chunks(rows, 64)) {
      CheckCancelled();
      chunks.push_back(Pooled(chunk, {}));
    }
    cached_pooled_ = at::cat(chunks);
  }

  at::Tensor Pooled(const std::vector<int64_t>& rows,
                    const std::vector<AdapterWeights>& adapters) const {
    if (cached_pooled_.defined()) {
      return cached_pooled_.index_select(0, at::tensor(rows, at::kLong).to(device_.device));
    }
    ExampleBatch batch = all_.Batch(rows, device_.device);
    return model_
        .Forward(batch.ids, batch.mask, batch.types, adapters.empty() ? nullptr : &adapters)
        .pooled.to(at::kFloat);
  }

  at::Tensor LabelsOf(const std::vector<int64_t>& rows) const {
    return all_labels_.index_select(0, at::tensor(rows, at::kLong).to(device_.device));
  }

  EvalResult Evaluate(const std::vector<int64_t>& rows) const {
    at::NoGradGuard no_grad;
    std::vector<AdapterWeights> adapters = trainable_->InferenceAdapters();
    std::vector<at::Tensor> logits;
    for (const auto& chunk : Chunks(rows, 64)) {
      CheckCancelled();
      logits.push_back(head_->Logits(Pooled(chunk, adapters)));
    }
    return ClassificationMetrics(at::cat(logits), LabelsOf(rows), num_labels_);
  }

  // Every loop over examples checks between chunks, so that a cancel or a
  // shutdown waits for one chunk at most.
  void CheckCancelled() const {
    if (cancelled_ && cancelled_()) throw Cancelled("training was cancelled");
  }

  void RunEpoch(ScheduledAdamW& optimizer,
                const std::function<void(const TrainingProgress&)>& on_progress) {
    std::shuffle(train_rows_.begin(), train_rows_.end(), rng_);
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (const auto& rows : Chunks(train_rows_, size_t(options_.batch_size))) {
      CheckCancelled();
      const int64_t step = progress_.step;
      const double t =
          progress_.total_steps > 1 ? double(step) / double(progress_.total_steps - 1) : 1.0;
      StepSchedule schedule{Lerp(options_.gumbel_noise_start, options_.gumbel_noise_end, t),
                            Lerp(options_.temperature_start, options_.temperature_end, t)};
      at::Tensor logits = head_->Logits(Pooled(rows, trainable_->TrainingAdapters(schedule, gen_)));
      at::Tensor loss = at::cross_entropy_loss(logits, LabelsOf(rows));
      optimizer.Step(loss, step);
      loss_sum += loss.item<double>() * double(rows.size());
      loss_count += int64_t(rows.size());
      progress_.step = step + 1;
      progress_.train_loss = loss_sum / double(loss_count);
      if (on_progress) on_progress(progress_);
    }
  }

  const std::function<bool()> cancelled_;
  const BertModel& model_;
  const DeviceSpec& device_;
  const TrainingOptions& options_;
  const std::vector<std::string>& labels_;
  const int64_t num_labels_;
  const EncodedExamples all_;
  std::mt19937_64 rng_;
  at::Generator gen_;
  std::vector<int64_t> val_rows_, train_rows_;
  std::unique_ptr<TrainableProfile> trainable_;
  at::Tensor cached_pooled_;
  at::Tensor all_labels_;
  std::unique_ptr<TrainingHead> head_;
  TrainingProgress progress_;
};

}  // namespace

ProfileTrainer::ProfileTrainer(Backbone backbone, ServingBanks banks)
    : backbone_(std::move(backbone)), banks_(std::move(banks)) {}

ProfileData ProfileTrainer::Train(const std::vector<TrainingExample>& examples,
                                  const std::vector<std::string>& labels, TrainingOptions options,
                                  const std::function<void(const TrainingProgress&)>& on_progress,
                                  const std::function<bool()>& cancelled) const {
  options.ResolveDefaults(banks_, int64_t(examples.size()));  // no-op for resolved options
  options.Validate(banks_);
  if (labels.size() < 2) throw InvalidArgument("label_names: at least 2 labels are needed");
  if (examples.empty()) throw InvalidArgument("examples: at least 1 example is needed");
  const SharedHead* shared_head =
      banks_.ResolveSharedHead(options.shared_head, options.method, labels);
  if (shared_head != nullptr &&
      shared_head->weight.size(1) != backbone_.model->config().hidden_size) {
    throw InvalidArgument("shared_head: '" + shared_head->name + "' is for another hidden size");
  }
  TrainingRun run(backbone_, banks_, examples, labels, options, cancelled);
  run.MakeHead(shared_head);
  run.Fit(on_progress);
  return run.Export();
}

}  // namespace maskserve
