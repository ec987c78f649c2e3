// File: core/training/bank_builder.h
//
// Bank building: training the shared PEFT parameters that per-profile
// training later selects from, on a corpus of many profiles ("tasks") that
// share one label set (e.g. HuffPost authors labelling news categories).
// The backbone stays frozen throughout.
//
// - BuildWarmAdapterBank (X-PEFT "warm" bank, seed 003 Sec. 4): adapter i of
//   the bank is trained on the examples of the tasks t with t mod N == i
//   (one task per adapter when there are at least N tasks); adapters without
//   a task keep their random initialisation. A head shared by all tasks is
//   trained with them, so that per-profile training can fit masks only.
// - BuildPrototype (ProPETL, seed 000 Sec. 3): the shared prototype adapter,
//   its shared per-layer masks (scores, top-k% straight-through) and one
//   task mask per task (m = m_layer OR m_task) are trained jointly with a
//   shared head; the task masks are then dropped and the prototype with its
//   layer masks becomes the bank PROPETL_HYBRID / PROPETL_LAYER profiles use.
//
// Every training batch mixes tasks; each sequence runs with its own task's
// adapter (per-sequence adapters, one backbone forward). A validation split
// per task is scored after every epoch with each task's adapter; the
// parameters of the last epoch are returned. Deterministic for a seed on
// CPU; progress is reported after every step and epoch and `cancelled` is
// polled every step (throws Cancelled).
//
// Thread safety: the functions are reentrant (the backbone is read-only).
#ifndef MASKSERVE_CORE_TRAINING_BANK_BUILDER_H_
#define MASKSERVE_CORE_TRAINING_BANK_BUILDER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/backbone.h"
#include "core/peft/adapter_bank.h"
#include "core/peft/prototype_bank.h"
#include "core/training/bank_corpus.h"
#include "core/training/classification_metrics.h"

namespace maskserve {

struct BankBuildOptions {
  int64_t epochs = 5;
  int64_t batch_size = 32;
  double weight_learning_rate = 1e-3;  // adapters / prototype weights
  double mask_learning_rate = 3e-3;    // ProPETL layer and task mask scores
  double head_learning_rate = 1e-2;
  double weight_decay = 0.01;
  double warmup_fraction = 0.1;
  int64_t max_sequence_length = 128;
  double validation_fraction = 0.1;  // held out per task
  uint64_t seed = 0;

  // Throws InvalidArgument naming the field.
  void Validate() const;
};

struct BankBuildProgress {
  int64_t epoch = 0;  // 1-based
  int64_t total_epochs = 0;
  int64_t step = 0;
  int64_t total_steps = 0;
  double train_loss = 0;  // mean over the epoch so far
  bool has_validation = false;
  EvalResult validation;  // after the last finished epoch
};

// The shared head trained with a bank, over raw pooled features.
struct BuiltHead {
  std::vector<std::string> labels;
  at::Tensor weight;  // float [C, d], CPU
  at::Tensor bias;    // float [C], CPU
};

struct BankBuildReport {
  int64_t tasks = 0;
  int64_t train_examples = 0;
  int64_t validation_examples = 0;
  int64_t trained_adapters = 0;          // X-PEFT: adapters that had at least one task
  std::optional<EvalResult> validation;  // of the last epoch
  double seconds = 0;
};

struct BuiltAdapterBank {
  AdapterBank bank;
  BuiltHead head;
  BankBuildReport report;
};

struct BuiltPrototype {
  PrototypeBank prototype;
  BuiltHead head;
  BankBuildReport report;
};

using BankProgressCallback = std::function<void(const BankBuildProgress&)>;

// `config` gives N, b and the default k (L and d must match the backbone).
// The initial adapters are AdapterBank::Random(config, seed).
BuiltAdapterBank BuildWarmAdapterBank(const Backbone& backbone, const BankCorpus& corpus,
                                      const AdapterBankConfig& config,
                                      const BankBuildOptions& options,
                                      const BankProgressCallback& on_progress,
                                      const std::function<bool()>& cancelled);

// `config.layer_keep_fraction` is the density of both the layer and the
// task masks (ProPETL hybrid: 0.3). The initial prototype weights are
// PrototypeBank::Random(config, seed)'s.
BuiltPrototype BuildPrototype(const Backbone& backbone, const BankCorpus& corpus,
                              const PrototypeBankConfig& config, const BankBuildOptions& options,
                              const BankProgressCallback& on_progress,
                              const std::function<bool()>& cancelled);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_TRAINING_BANK_BUILDER_H_
