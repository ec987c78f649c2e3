#include "core/profile_trainer.h"

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/profile_tensors.h"
#include "core/trainable_profile.h"

namespace maskserve {

namespace {

void Check(bool ok, const std::string& field, const std::string& rule) {
  if (!ok) throw InvalidArgument("hyper_parameters." + field + ": " + rule);
}

double Lerp(double start, double end, double t) { return start + (end - start) * t; }

// Token ids of the examples, padded per batch.
struct EncodedSet {
  std::vector<Encoding> encodings;
  std::vector<int64_t> labels;
};

struct Batch {
  at::Tensor ids, mask, types, labels;
};

Batch MakeBatch(const EncodedSet& set, const std::vector<int64_t>& rows, const DeviceSpec& device) {
  int64_t seq = 0;
  for (int64_t r : rows) seq = std::max<int64_t>(seq, int64_t(set.encodings[size_t(r)].input_ids.size()));
  const int64_t n = int64_t(rows.size());
  std::vector<int64_t> ids(size_t(n * seq), 0), mask(size_t(n * seq), 0), types(size_t(n * seq), 0),
      labels;
  for (int64_t i = 0; i < n; ++i) {
    const Encoding& e = set.encodings[size_t(rows[size_t(i)])];
    std::copy(e.input_ids.begin(), e.input_ids.end(), ids.begin() + i * seq);
    std::copy(e.attention_mask.begin(), e.attention_mask.end(), mask.begin() + i * seq);
    std::copy(e.token_type_ids.begin(), e.token_type_ids.end(), types.begin() + i * seq);
    labels.push_back(set.labels[size_t(rows[size_t(i)])]);
  }
  auto make = [&](std::vector<int64_t>& v, std::vector<int64_t> shape) {
    return at::from_blob(v.data(), shape, at::kLong).clone().to(device.device);
  };
  return {make(ids, {n, seq}), make(mask, {n, seq}), make(types, {n, seq}), make(labels, {n})};
}

EvalResult Metrics(const at::Tensor& logits, const at::Tensor& labels, int64_t num_labels) {
  EvalResult r;
  r.examples = labels.size(0);
  if (r.examples == 0) return r;
  r.loss = at::cross_entropy_loss(logits, labels).item<double>();
  at::Tensor predicted = logits.argmax(1);
  r.accuracy = predicted.eq(labels).to(at::kFloat).mean().item<double>();
  double f1_sum = 0;
  int64_t classes = 0;
  for (int64_t c = 0; c < num_labels; ++c) {
    const double tp = (predicted.eq(c) & labels.eq(c)).sum().item<double>();
    const double fp = (predicted.eq(c) & labels.ne(c)).sum().item<double>();
    const double fn = (predicted.ne(c) & labels.eq(c)).sum().item<double>();
    if (tp + fp + fn == 0) continue;  // class absent from both
    f1_sum += 2 * tp / (2 * tp + fp + fn);
    ++classes;
  }
  r.macro_f1 = classes ? f1_sum / double(classes) : 0;
  return r;
}

bool Better(const EvalResult& a, const EvalResult& b) {
  return a.accuracy > b.accuracy + 1e-12 ||
         (std::abs(a.accuracy - b.accuracy) <= 1e-12 && a.loss < b.loss);
}

}  // namespace

void TrainingOptions::ResolveDefaults(const ServingBanks& banks) {
  if (mask_learning_rate == 0) mask_learning_rate = IsXpeft(method) ? 1e-1 : 3e-3;
  if (xpeft_top_k == 0 && banks.adapters) xpeft_top_k = banks.adapters->config().top_k;
  if (propetl_keep_fraction == 0) propetl_keep_fraction = method == Method::kPropetlHybrid ? 0.3 : 0.5;
}

void TrainingOptions::Validate() const {
  Check(epochs >= 1 && epochs <= 1000, "epochs", "must be in 1..1000");
  Check(batch_size >= 1 && batch_size <= 4096, "batch_size", "must be in 1..4096");
  Check(mask_learning_rate > 0 && mask_learning_rate <= 10, "mask_learning_rate", "must be in (0, 10]");
  Check(head_learning_rate > 0 && head_learning_rate <= 10, "head_learning_rate", "must be in (0, 10]");
  Check(weight_decay >= 0 && weight_decay <= 1, "weight_decay", "must be in [0, 1]");
  Check(warmup_fraction >= 0 && warmup_fraction < 1, "warmup_fraction", "must be in [0, 1)");
  Check(max_sequence_length >= 3 && max_sequence_length <= 4096, "max_sequence_length",
        "must be in 3..4096");
  Check(early_stopping_patience >= 0, "early_stopping_patience", "must not be negative");
  Check(gumbel_noise_start >= 0 && gumbel_noise_end >= 0, "gumbel_noise_start",
        "noise levels must not be negative");
  Check(temperature_start > 0 && temperature_end > 0, "temperature_start",
        "temperatures must be positive");
  Check(validation_fraction >= 0 && validation_fraction <= 0.5, "validation_fraction",
        "must be in [0, 0.5]");
  if (IsPropetl(method)) {
    Check(propetl_keep_fraction > 0 && propetl_keep_fraction <= 1, "propetl_keep_fraction",
          "must be in (0, 1]");
  }
}

ProfileTrainer::ProfileTrainer(Backbone backbone, ServingBanks banks)
    : backbone_(std::move(backbone)), banks_(std::move(banks)) {}

ProfileData ProfileTrainer::Train(const std::vector<TrainingExample>& examples,
                                  const std::vector<std::string>& labels, TrainingOptions options,
                                  const std::function<void(const TrainingProgress&)>& on_progress,
                                  const std::function<bool()>& cancelled) const {
  options.ResolveDefaults(banks_);
  options.Validate();
  const BertModel& model = *backbone_.model;
  const DeviceSpec& device = model.device();
  const int64_t num_labels = int64_t(labels.size());
  if (num_labels < 2) throw InvalidArgument("label_names: at least 2 labels are needed");
  if (examples.empty()) throw InvalidArgument("examples: at least 1 example is needed");

  // Tokenize once.
  EncodedSet all;
  EncodeOptions encode;
  encode.max_length = std::min(options.max_sequence_length, model.config().max_position_embeddings);
  for (size_t i = 0; i < examples.size(); ++i) {
    const TrainingExample& ex = examples[i];
    if (ex.label < 0 || ex.label >= num_labels) {
      throw InvalidArgument("examples[" + std::to_string(i) + "].label: out of range");
    }
    all.encodings.push_back(ex.text_pair.empty()
                                ? backbone_.tokenizer->Encode(ex.text, encode)
                                : backbone_.tokenizer->EncodePair(ex.text, ex.text_pair, encode));
    all.labels.push_back(ex.label);
  }

  // Deterministic split.
  std::mt19937_64 rng(options.seed);
  std::vector<int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  int64_t num_val = int64_t(std::floor(options.validation_fraction * double(order.size())));
  if (options.validation_fraction > 0 && num_val == 0 && order.size() >= 2) num_val = 1;
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

  const int64_t d = model.config().hidden_size;
  at::Tensor head_weight =
      at::normal(0.0, 0.02, {num_labels, d}, gen).to(device.device).set_requires_grad(true);
  at::Tensor head_bias = at::zeros({num_labels}, at::TensorOptions().device(device.device))
                             .set_requires_grad(true);

  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<at::Tensor> mask_params = trainable->mask_parameters();
  std::vector<at::Tensor> weight_params = trainable->weight_parameters();
  weight_params.push_back(head_weight);
  weight_params.push_back(head_bias);
  if (!mask_params.empty()) {
    groups.emplace_back(mask_params, std::make_unique<torch::optim::AdamWOptions>(
                                         torch::optim::AdamWOptions(options.mask_learning_rate)
                                             .weight_decay(0.0)));
  }
  groups.emplace_back(weight_params, std::make_unique<torch::optim::AdamWOptions>(
                                         torch::optim::AdamWOptions(options.head_learning_rate)
                                             .weight_decay(options.weight_decay)));
  torch::optim::AdamW optimizer(std::move(groups));
  std::vector<double> base_lrs;
  for (auto& group : optimizer.param_groups()) {
    base_lrs.push_back(static_cast<torch::optim::AdamWOptions&>(group.options()).lr());
  }

  // HEAD_ONLY: the backbone output does not depend on any trainable
  // parameter, so compute the pooled features once.
  at::Tensor cached_pooled;
  auto pooled_of = [&](const std::vector<int64_t>& rows, const std::vector<AdapterWeights>& adapters) {
    if (cached_pooled.defined()) {
      return cached_pooled.index_select(0, at::tensor(rows, at::kLong).to(device.device));
    }
    Batch batch = MakeBatch(all, rows, device);
    return model.Forward(batch.ids, batch.mask, batch.types, adapters.empty() ? nullptr : &adapters)
        .pooled.to(at::kFloat);
  };
  if (options.method == Method::kHeadOnly) {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> chunks;
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < int64_t(examples.size()); ++i) {
      rows.push_back(i);
      if (int64_t(rows.size()) == 64 || i + 1 == int64_t(examples.size())) {
        chunks.push_back(pooled_of(rows, {}));
        rows.clear();
      }
    }
    cached_pooled = at::cat(chunks);
  }
  at::Tensor all_labels = at::tensor(all.labels, at::kLong).to(device.device);

  // The head sees pooled features standardised with the statistics of the
  // training split under the initial adapters: a reparameterisation of the
  // linear head (folded back into it on export) that keeps optimisation
  // well-conditioned whatever the backbone's feature scale and offset.
  at::Tensor feature_mean, feature_scale;
  {
    at::NoGradGuard no_grad;
    std::vector<AdapterWeights> adapters = trainable->InferenceAdapters();
    std::vector<at::Tensor> chunks;
    for (size_t start = 0; start < train_rows.size(); start += 64) {
      std::vector<int64_t> chunk(train_rows.begin() + start,
                                 train_rows.begin() + std::min(train_rows.size(), start + 64));
      chunks.push_back(pooled_of(chunk, adapters));
    }
    at::Tensor features = at::cat(chunks);
    feature_mean = features.mean(0);
    at::Tensor std = features.size(0) > 1 ? features.std(0) : at::ones_like(feature_mean);
    feature_scale = 1.0 / at::clamp_min(std, std.mean().item<double>() * 1e-2 + 1e-6);
  }
  auto head = [&](const at::Tensor& pooled) {
    return at::linear((pooled - feature_mean) * feature_scale, head_weight, head_bias);
  };

  auto evaluate = [&](const std::vector<int64_t>& rows) {
    at::NoGradGuard no_grad;
    std::vector<AdapterWeights> adapters = trainable->InferenceAdapters();
    std::vector<at::Tensor> logits;
    for (size_t start = 0; start < rows.size(); start += 64) {
      std::vector<int64_t> chunk(rows.begin() + start,
                                 rows.begin() + std::min(rows.size(), start + 64));
      logits.push_back(head(pooled_of(chunk, adapters)));
    }
    at::Tensor index = at::tensor(rows, at::kLong).to(device.device);
    return Metrics(at::cat(logits), all_labels.index_select(0, index), num_labels);
  };

  const int64_t batch_size = options.batch_size;
  const int64_t steps_per_epoch = (int64_t(train_rows.size()) + batch_size - 1) / batch_size;
  TrainingProgress progress;
  progress.total_epochs = options.epochs;
  progress.total_steps = options.epochs * steps_per_epoch;
  progress.has_validation = !val_rows.empty();
  const int64_t warmup_steps = int64_t(std::llround(options.warmup_fraction * double(progress.total_steps)));
  std::vector<at::Tensor> best_state;
  at::Tensor best_head_weight, best_head_bias;
  int64_t epochs_without_improvement = 0;

  for (int64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    progress.epoch = epoch;
    std::shuffle(train_rows.begin(), train_rows.end(), rng);
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (int64_t start = 0; start < int64_t(train_rows.size()); start += batch_size) {
      if (cancelled && cancelled()) throw Cancelled("training was cancelled");
      const int64_t step = progress.step;
      const double factor =
          step < warmup_steps ? double(step + 1) / double(warmup_steps)
                              : std::max(0.0, double(progress.total_steps - step) /
                                                  double(std::max<int64_t>(1, progress.total_steps - warmup_steps)));
      for (size_t g = 0; g < optimizer.param_groups().size(); ++g) {
        static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[g].options())
            .lr(base_lrs[g] * factor);
      }
      const double t = progress.total_steps > 1 ? double(step) / double(progress.total_steps - 1) : 1.0;
      StepSchedule schedule{Lerp(options.gumbel_noise_start, options.gumbel_noise_end, t),
                            Lerp(options.temperature_start, options.temperature_end, t)};
      std::vector<int64_t> rows(train_rows.begin() + start,
                                train_rows.begin() + std::min<int64_t>(start + batch_size, int64_t(train_rows.size())));
      at::Tensor logits = head(pooled_of(rows, trainable->TrainingAdapters(schedule, gen)));
      at::Tensor loss = at::cross_entropy_loss(
          logits, all_labels.index_select(0, at::tensor(rows, at::kLong).to(device.device)));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * double(rows.size());
      loss_count += int64_t(rows.size());
      progress.step = step + 1;
      progress.train_loss = loss_sum / double(loss_count);
      if (on_progress) on_progress(progress);
    }

    if (!val_rows.empty()) {
      progress.validation = evaluate(val_rows);
      if (best_state.empty() || Better(progress.validation, progress.best_validation)) {
        progress.best_validation = progress.validation;
        best_state = trainable->Snapshot();
        best_head_weight = head_weight.detach().clone();
        best_head_bias = head_bias.detach().clone();
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
    at::NoGradGuard no_grad;
    head_weight.copy_(best_head_weight);
    head_bias.copy_(best_head_bias);
  }

  ProfileData profile;
  profile.method = options.method;
  profile.backbone_fingerprint = model.fingerprint();
  profile.shape.num_layers = uint32_t(model.config().num_hidden_layers);
  profile.shape.hidden_size = uint32_t(d);
  profile.labels = labels;
  trainable->Export(&profile);
  // Fold the standardisation into the served linear head:
  // W ((x - mu) * s) + b = (W * s) x + (b - (W * s) mu). The bias is folded
  // with the weight as stored (fp16 or int8), so that its rounding error
  // multiplies the centred features x - mu rather than x.
  {
    at::NoGradGuard no_grad;
    StoreHeadWeight(head_weight * feature_scale, options.head_int8, &profile);
    at::Tensor stored = HeadWeightTensor(profile).to(feature_mean.device());
    profile.head_bias = TensorToHalves(head_bias - at::mv(stored, feature_mean));
  }
  profile.metrics.validation_accuracy = float(progress.best_validation.accuracy);
  profile.metrics.validation_loss = float(progress.best_validation.loss);
  profile.metrics.validation_macro_f1 = float(progress.best_validation.macro_f1);
  profile.metrics.validation_examples = uint32_t(val_rows.size());
  profile.metrics.train_examples = uint32_t(train_rows.size());
  return profile;
}

}  // namespace maskserve
