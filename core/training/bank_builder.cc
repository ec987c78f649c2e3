#include "core/training/bank_builder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>

#include "core/base/error.h"
#include "core/peft/peft_composition.h"
#include "core/training/encoded_examples.h"
#include "core/training/scheduled_adamw.h"
#include "core/training/standardized_head.h"

namespace maskserve {

namespace {

void Check(bool ok, const std::string& field, const std::string& rule) {
  if (!ok) throw InvalidArgument(field + ": " + rule);
}

at::Tensor Parameter(const at::Tensor& t, const at::Device& device) {
  return t.detach().to(device, at::kFloat).contiguous().clone().set_requires_grad(true);
}

// The trainable per-task adapters of one kind of bank.
class MultiTaskAdapters {
 public:
  virtual ~MultiTaskAdapters() = default;
  virtual std::vector<at::Tensor> mask_parameters() = 0;
  virtual std::vector<at::Tensor> weight_parameters() = 0;
  // Per-layer adapters for a batch whose sequence i belongs to tasks[i].
  virtual std::vector<AdapterWeights> ForTasks(const std::vector<int64_t>& tasks) = 0;
};

// X-PEFT: adapter t mod N of every layer serves task t. Only the adapters
// that serve a task are trainable; the others keep their initial values.
class WarmBankAdapters : public MultiTaskAdapters {
 public:
  WarmBankAdapters(const AdapterBank& initial, int64_t num_tasks, const at::Device& device,
                   at::ScalarType dtype)
      : config_(initial.config()),
        trained_(std::min(num_tasks, initial.config().num_adapters)),
        device_(device),
        dtype_(dtype) {
    const int64_t L = config_.num_layers, N = config_.num_adapters, d = config_.hidden_size,
                  b = config_.bottleneck;
    at::Tensor down_cat = initial.down_cat().to(at::kCPU, at::kFloat);
    at::Tensor up_cat = initial.up_cat().to(at::kCPU, at::kFloat);
    initial_down_ = down_cat.narrow(2, 0, d * b).reshape({L, N, d, b});
    initial_down_bias_ = down_cat.narrow(2, d * b, b);
    initial_up_ = up_cat.narrow(2, 0, b * d).reshape({L, N, b, d});
    initial_up_bias_ = up_cat.narrow(2, b * d, d);
    down_ = Parameter(initial_down_.narrow(1, 0, trained_), device);
    down_bias_ = Parameter(initial_down_bias_.narrow(1, 0, trained_), device);
    up_ = Parameter(initial_up_.narrow(1, 0, trained_), device);
    up_bias_ = Parameter(initial_up_bias_.narrow(1, 0, trained_), device);
  }

  int64_t trained() const { return trained_; }
  std::vector<at::Tensor> mask_parameters() override { return {}; }
  std::vector<at::Tensor> weight_parameters() override {
    return {down_, down_bias_, up_, up_bias_};
  }

  std::vector<AdapterWeights> ForTasks(const std::vector<int64_t>& tasks) override {
    std::vector<int64_t> slots;
    for (int64_t t : tasks) slots.push_back(t % trained_);
    at::Tensor index = at::tensor(slots, at::kLong).to(device_);
    std::vector<AdapterWeights> layers(size_t(config_.num_layers));
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      AdapterWeights& w = layers[size_t(l)];
      w.down = down_[l].index_select(0, index).to(dtype_);
      w.down_bias = down_bias_[l].index_select(0, index).to(dtype_);
      w.up = up_[l].index_select(0, index).to(dtype_);
      w.up_bias = up_bias_[l].index_select(0, index).to(dtype_);
    }
    return layers;
  }

  AdapterBank Export(const DeviceSpec& serving) const {
    const int64_t rest = config_.num_adapters - trained_;
    auto full = [&](const at::Tensor& trained, const at::Tensor& initial) {
      return at::cat({trained.detach().to(at::kCPU, at::kFloat), initial.narrow(1, trained_, rest)},
                     1);
    };
    return AdapterBank::FromTensors(config_, full(down_, initial_down_),
                                    full(down_bias_, initial_down_bias_), full(up_, initial_up_),
                                    full(up_bias_, initial_up_bias_), serving, /*warm=*/true);
  }

 private:
  AdapterBankConfig config_;
  int64_t trained_;
  at::Device device_;
  at::ScalarType dtype_;
  at::Tensor initial_down_, initial_down_bias_, initial_up_, initial_up_bias_;
  at::Tensor down_, down_bias_, up_, up_bias_;
};

// ProPETL: one prototype, per-layer mask scores shared by all tasks and one
// task mask score tensor per task; m = m_layer OR m_task.
class PrototypeAdapters : public MultiTaskAdapters {
 public:
  PrototypeAdapters(const PrototypeBank& initial, int64_t num_tasks, at::Generator& gen,
                    const at::Device& device, at::ScalarType dtype)
      : config_(initial.config()), device_(device), dtype_(dtype) {
    const int64_t L = config_.num_layers, d = config_.hidden_size, b = config_.bottleneck;
    down_ = Parameter(initial.down(), device);
    down_bias_ = Parameter(initial.down_bias(), device);
    up_ = Parameter(initial.up(), device);
    up_bias_ = Parameter(initial.up_bias(), device);
    // Scores U(+-1/sqrt(fan_in)), fan_in d for the down and b for the up
    // projection.
    auto scores = [&](std::vector<int64_t> shape, int64_t fan_in) {
      const double bound = 1.0 / std::sqrt(double(fan_in));
      return Parameter(at::rand(shape, gen, at::TensorOptions()) * 2 * bound - bound, device);
    };
    layer_down_scores_ = scores({L, d, b}, d);
    layer_up_scores_ = scores({L, b, d}, b);
    task_down_scores_ = scores({num_tasks, d, b}, d);
    task_up_scores_ = scores({num_tasks, b, d}, b);
  }

  std::vector<at::Tensor> mask_parameters() override {
    return {layer_down_scores_, layer_up_scores_, task_down_scores_, task_up_scores_};
  }
  std::vector<at::Tensor> weight_parameters() override {
    return {down_, down_bias_, up_, up_bias_};
  }

  std::vector<AdapterWeights> ForTasks(const std::vector<int64_t>& tasks) override {
    const double keep = config_.layer_keep_fraction;
    // Masks of the distinct tasks of the batch, each its own top-k% tensor.
    std::vector<int64_t> distinct(tasks.begin(), tasks.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    std::map<int64_t, int64_t> slot;
    for (size_t i = 0; i < distinct.size(); ++i) slot[distinct[i]] = int64_t(i);
    at::Tensor distinct_index = at::tensor(distinct, at::kLong).to(device_);
    at::Tensor task_down = PropetlMask(task_down_scores_.index_select(0, distinct_index), keep, 1);
    at::Tensor task_up = PropetlMask(task_up_scores_.index_select(0, distinct_index), keep, 1);
    std::vector<int64_t> rows;
    for (int64_t t : tasks) rows.push_back(slot[t]);
    at::Tensor row_index = at::tensor(rows, at::kLong).to(device_);
    task_down = task_down.index_select(0, row_index);                  // [B, d, b]
    task_up = task_up.index_select(0, row_index);                      // [B, b, d]
    at::Tensor layer_down = PropetlMask(layer_down_scores_, keep, 1);  // [L, d, b]
    at::Tensor layer_up = PropetlMask(layer_up_scores_, keep, 1);      // [L, b, d]
    const int64_t B = int64_t(tasks.size());
    std::vector<AdapterWeights> layers(size_t(config_.num_layers));
    for (int64_t l = 0; l < config_.num_layers; ++l) {
      AdapterWeights& w = layers[size_t(l)];
      w.down = (MaskOr(layer_down[l].unsqueeze(0), task_down) * down_).to(dtype_);
      w.up = (MaskOr(layer_up[l].unsqueeze(0), task_up) * up_).to(dtype_);
      w.down_bias = down_bias_.unsqueeze(0).expand({B, config_.bottleneck}).to(dtype_);
      w.up_bias = up_bias_.unsqueeze(0).expand({B, config_.hidden_size}).to(dtype_);
    }
    return layers;
  }

  PrototypeBank Export(const DeviceSpec& serving) const {
    auto cpu = [](const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat); };
    const double keep = config_.layer_keep_fraction;
    return PrototypeBank::FromTensors(config_, cpu(down_), cpu(down_bias_), cpu(up_), cpu(up_bias_),
                                      TopFractionMask(cpu(layer_down_scores_), keep, 1),
                                      TopFractionMask(cpu(layer_up_scores_), keep, 1), serving,
                                      /*warm=*/true);
  }

 private:
  PrototypeBankConfig config_;
  at::Device device_;
  at::ScalarType dtype_;
  at::Tensor down_, down_bias_, up_, up_bias_;
  at::Tensor layer_down_scores_, layer_up_scores_, task_down_scores_, task_up_scores_;
};

void CheckShape(const BertModel& model, int64_t num_layers, int64_t hidden_size) {
  const BertConfig& c = model.config();
  if (num_layers != c.num_hidden_layers || hidden_size != c.hidden_size) {
    throw InvalidArgument("bank: num_layers/hidden_size " + std::to_string(num_layers) + "/" +
                          std::to_string(hidden_size) + " do not match the backbone's " +
                          std::to_string(c.num_hidden_layers) + "/" +
                          std::to_string(c.hidden_size));
  }
}

// Trains `adapters` and a shared head on the corpus; returns the head.
BuiltHead TrainMultiTask(const Backbone& backbone, const BankCorpus& corpus,
                         const BankBuildOptions& options, MultiTaskAdapters& adapters,
                         at::Generator& gen, const BankProgressCallback& on_progress,
                         const std::function<bool()>& cancelled, BankBuildReport* report) {
  const auto started = std::chrono::steady_clock::now();
  const BertModel& model = *backbone.model;
  const at::Device device = model.device().device;
  const int64_t num_labels = int64_t(corpus.labels.size());

  // Flatten, and hold out a validation share of every task.
  std::mt19937_64 rng(options.seed);
  std::vector<TrainingExample> flat;
  std::vector<int64_t> task_of, train_rows, val_rows;
  for (size_t t = 0; t < corpus.tasks.size(); ++t) {
    std::vector<int64_t> rows;
    for (const TrainingExample& e : corpus.tasks[t]) {
      rows.push_back(int64_t(flat.size()));
      flat.push_back(e);
      task_of.push_back(int64_t(t));
    }
    std::shuffle(rows.begin(), rows.end(), rng);
    const size_t held = size_t(std::floor(options.validation_fraction * double(rows.size())));
    val_rows.insert(val_rows.end(), rows.begin(), rows.begin() + long(held));
    train_rows.insert(train_rows.end(), rows.begin() + long(held), rows.end());
  }
  if (train_rows.empty())
    throw InvalidArgument("corpus: no training examples left after the validation split");
  const EncodedExamples set(
      *backbone.tokenizer, flat, num_labels,
      std::min(options.max_sequence_length, model.config().max_position_embeddings));
  auto tasks_of = [&](const std::vector<int64_t>& rows) {
    std::vector<int64_t> tasks;
    for (int64_t r : rows) tasks.push_back(task_of[size_t(r)]);
    return tasks;
  };
  auto pooled = [&](const std::vector<int64_t>& rows, const ExampleBatch& batch) {
    std::vector<AdapterWeights> layers = adapters.ForTasks(tasks_of(rows));
    return model.Forward(batch.ids, batch.mask, batch.types, &layers).pooled.to(at::kFloat);
  };

  // Head statistics from (up to 2048) training examples under the initial
  // adapters.
  std::unique_ptr<StandardizedHead> head;
  {
    at::NoGradGuard no_grad;
    std::vector<int64_t> sample(
        train_rows.begin(), train_rows.begin() + long(std::min<size_t>(train_rows.size(), 2048)));
    std::vector<at::Tensor> features;
    for (const auto& chunk : Chunks(sample, 64))
      features.push_back(pooled(chunk, set.Batch(chunk, device)));
    head = std::make_unique<StandardizedHead>(at::cat(features), num_labels, gen);
  }

  BankBuildProgress progress;
  progress.total_epochs = options.epochs;
  const int64_t steps_per_epoch =
      (int64_t(train_rows.size()) + options.batch_size - 1) / options.batch_size;
  progress.total_steps = options.epochs * steps_per_epoch;
  progress.has_validation = !val_rows.empty();
  const int64_t warmup_steps =
      int64_t(std::llround(options.warmup_fraction * double(progress.total_steps)));
  ScheduledAdamW optimizer(warmup_steps, progress.total_steps);
  optimizer.AddGroup(adapters.mask_parameters(), options.mask_learning_rate, 0.0);
  optimizer.AddGroup(adapters.weight_parameters(), options.weight_learning_rate,
                     options.weight_decay);
  optimizer.AddGroup(head->parameters(), options.head_learning_rate, options.weight_decay);
  for (int64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    progress.epoch = epoch;
    std::shuffle(train_rows.begin(), train_rows.end(), rng);
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (const auto& rows : Chunks(train_rows, size_t(options.batch_size))) {
      if (cancelled && cancelled()) throw Cancelled("bank building was cancelled");
      const ExampleBatch batch = set.Batch(rows, device);
      at::Tensor loss = at::cross_entropy_loss(head->Logits(pooled(rows, batch)), batch.labels);
      optimizer.Step(loss, progress.step);
      loss_sum += loss.item<double>() * double(rows.size());
      loss_count += int64_t(rows.size());
      ++progress.step;
      progress.train_loss = loss_sum / double(loss_count);
      if (on_progress) on_progress(progress);
    }
    if (!val_rows.empty()) {
      at::NoGradGuard no_grad;
      std::vector<at::Tensor> logits, labels;
      for (const auto& chunk : Chunks(val_rows, 64)) {
        const ExampleBatch batch = set.Batch(chunk, device);
        logits.push_back(head->Logits(pooled(chunk, batch)));
        labels.push_back(batch.labels);
      }
      progress.validation = ClassificationMetrics(at::cat(logits), at::cat(labels), num_labels);
      report->validation = progress.validation;
    }
    if (on_progress) on_progress(progress);
  }

  report->tasks = int64_t(corpus.tasks.size());
  report->train_examples = int64_t(train_rows.size());
  report->validation_examples = int64_t(val_rows.size());
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  at::Tensor weight = head->FoldedWeight();
  return BuiltHead{corpus.labels, weight.to(at::kCPU), head->FoldedBias(weight).to(at::kCPU)};
}

}  // namespace

void BankBuildOptions::Validate() const {
  Check(epochs >= 1 && epochs <= 1000, "epochs", "must be in 1..1000");
  Check(batch_size >= 1 && batch_size <= 4096, "batch_size", "must be in 1..4096");
  Check(weight_learning_rate > 0 && weight_learning_rate <= 10, "weight_learning_rate",
        "must be in (0, 10]");
  Check(mask_learning_rate > 0 && mask_learning_rate <= 10, "mask_learning_rate",
        "must be in (0, 10]");
  Check(head_learning_rate > 0 && head_learning_rate <= 10, "head_learning_rate",
        "must be in (0, 10]");
  Check(weight_decay >= 0 && weight_decay <= 1, "weight_decay", "must be in [0, 1]");
  Check(warmup_fraction >= 0 && warmup_fraction < 1, "warmup_fraction", "must be in [0, 1)");
  Check(max_sequence_length >= 3 && max_sequence_length <= 4096, "max_sequence_length",
        "must be in 3..4096");
  Check(validation_fraction >= 0 && validation_fraction <= 0.5, "validation_fraction",
        "must be in [0, 0.5]");
}

BuiltAdapterBank BuildWarmAdapterBank(const Backbone& backbone, const BankCorpus& corpus,
                                      const AdapterBankConfig& config,
                                      const BankBuildOptions& options,
                                      const BankProgressCallback& on_progress,
                                      const std::function<bool()>& cancelled) {
  corpus.Validate();
  options.Validate();
  config.Validate();
  const BertModel& model = *backbone.model;
  CheckShape(model, config.num_layers, config.hidden_size);
  at::Generator gen = at::detail::createCPUGenerator(options.seed * 0x9e3779b97f4a7c15ull + 7);
  WarmBankAdapters adapters(AdapterBank::Random(config, DeviceSpec(), options.seed),
                            int64_t(corpus.tasks.size()), model.device().device,
                            model.device().dtype);
  BankBuildReport report;
  BuiltHead head =
      TrainMultiTask(backbone, corpus, options, adapters, gen, on_progress, cancelled, &report);
  report.trained_adapters = adapters.trained();
  return BuiltAdapterBank{adapters.Export(model.device()), std::move(head), report};
}

BuiltPrototype BuildPrototype(const Backbone& backbone, const BankCorpus& corpus,
                              const PrototypeBankConfig& config, const BankBuildOptions& options,
                              const BankProgressCallback& on_progress,
                              const std::function<bool()>& cancelled) {
  corpus.Validate();
  options.Validate();
  config.Validate();
  const BertModel& model = *backbone.model;
  CheckShape(model, config.num_layers, config.hidden_size);
  at::Generator gen = at::detail::createCPUGenerator(options.seed * 0x9e3779b97f4a7c15ull + 7);
  PrototypeAdapters adapters(PrototypeBank::Random(config, DeviceSpec(), options.seed),
                             int64_t(corpus.tasks.size()), gen, model.device().device,
                             model.device().dtype);
  BankBuildReport report;
  BuiltHead head =
      TrainMultiTask(backbone, corpus, options, adapters, gen, on_progress, cancelled, &report);
  return BuiltPrototype{adapters.Export(model.device()), std::move(head), report};
}

}  // namespace maskserve
