// Single-profile quality on real data (../shared/data/README.md): every
// method trains one profile per task with ProfileTrainer over random banks
// (X-PEFT: N=100, k=50, b=d/16; ProPETL: a random prototype, b=d/16) and is
// scored through the serving path (codec -> ComposeProfile ->
// ClassifyMixedBatch) on the task's test set and on its own training
// examples (train_accuracy: all of them, the trainer's validation split
// included); a bag-of-words naive Bayes row per task is the floor.
//
// Tasks: `sst2_N` trains on N class-balanced SST-2 training sentences and
// scores on SST-2 dev (872); `topics_N` is the few-shot HuffPost topic task
// (the --topic_classes most frequent categories, N training articles per
// class, up to --topic_test_per_class held out per class).
//
//   quality_benchmark [--model_dir=DIR (default: the default model; builtin)] [--device=auto]
//       [--pooling= (pooler|cls|mean; empty = the checkpoint's)]
//       [--tasks=sst2_64,sst2_1000,topics_16]
//       [--methods=head_only,adapter,xpeft_hard,xpeft_soft,propetl_hybrid,propetl_layer]
//       [--seed=0] [--epochs=0] [--batch_size=0] [--head_learning_rate=0]
//       [--mask_learning_rate=0] (0 = the trainer's default)
//       [--glue=DIR (holding SST-2/)] [--huffpost=PATH]
//       [--topic_classes=4] [--topic_test_per_class=200]
//       [--sst2_test=dev|heldout_train (872 unseen training sentences, for
//        choosing defaults without looking at dev)]
#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "core/base/error.h"
#include "core/benchmarks/benchmark_eval.h"
#include "core/benchmarks/eval_datasets.h"
#include "core/model/backbone.h"
#include "core/peft/mixed_batch.h"
#include "core/profile/profile_codec.h"
#include "core/tools/benchmark_util.h"
#include "core/training/profile_trainer.h"

namespace maskserve {
namespace {

const std::vector<std::pair<std::string, Method>>& MethodNames() {
  static const auto* names = new std::vector<std::pair<std::string, Method>>{
      {"head_only", Method::kHeadOnly},           {"adapter", Method::kAdapter},
      {"xpeft_hard", Method::kXpeftHard},         {"xpeft_soft", Method::kXpeftSoft},
      {"propetl_hybrid", Method::kPropetlHybrid}, {"propetl_layer", Method::kPropetlLayer}};
  return *names;
}

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

Method ParseMethod(const std::string& name) {
  for (const auto& [n, method] : MethodNames()) {
    if (n == name) return method;
  }
  throw InvalidArgument("--methods: unknown method '" + name + "'");
}

// The count N of a task named `prefix` + N, or 0 when `name` is not one.
int64_t TaskSize(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return 0;
  const std::string digits = name.substr(prefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(digits);
}

// Loads the tasks named on the command line (SST-2 files read once).
class TaskLoader {
 public:
  explicit TaskLoader(const BenchmarkArgs& args) : args_(args) {}

  // Throws InvalidArgument unless `name` is sst2_N or topics_N (N >= 1).
  static void CheckName(const std::string& name) {
    if (TaskSize(name, "sst2_") == 0 && TaskSize(name, "topics_") == 0) {
      throw InvalidArgument("--tasks: unknown task '" + name + "' (sst2_N or topics_N)");
    }
  }

  EvalTask Load(const std::string& name) {
    CheckName(name);
    const uint64_t seed = uint64_t(args_.GetInt("seed"));
    if (const int64_t n = TaskSize(name, "sst2_")) {
      if (sst2_train_.examples.empty()) {
        const std::string dir = args_.Get("glue") + "/SST-2/";
        sst2_train_ = ReadSst2(dir + "train.tsv");
        sst2_dev_ = ReadSst2(dir + "dev.tsv");
      }
      EvalTask task;
      task.labels = sst2_train_.labels;
      task.train = BalancedSubsample(sst2_train_.examples, int64_t(task.labels.size()), n, seed);
      if (args_.Get("sst2_test") == "dev") {
        task.test = sst2_dev_.examples;
        return task;
      }
      // For choosing defaults: score on held-out *training* sentences, so
      // that dev stays unseen.
      std::set<std::string> trained;
      for (const TrainingExample& e : task.train) trained.insert(e.text);
      std::vector<TrainingExample> rest;
      for (const TrainingExample& e : sst2_train_.examples) {
        if (!trained.count(e.text)) rest.push_back(e);
      }
      task.test = BalancedSubsample(rest, int64_t(task.labels.size()),
                                    int64_t(sst2_dev_.examples.size()), seed + 1);
      return task;
    }
    TopicTaskOptions options;  // topics_N
    options.num_classes = args_.GetInt("topic_classes");
    options.per_class = TaskSize(name, "topics_");
    options.test_per_class = args_.GetInt("topic_test_per_class");
    options.seed = seed;
    return ReadHuffPostTopicTask(args_.Get("huffpost"), options);
  }

 private:
  const BenchmarkArgs& args_;
  LabelledExamples sst2_train_, sst2_dev_;
};

TrainingOptions OptionsFor(const BenchmarkArgs& args, Method method) {
  TrainingOptions options;
  options.method = method;
  options.seed = uint64_t(args.GetInt("seed"));
  // Flags at 0 leave the trainer's defaults.
  if (args.GetInt("epochs") > 0) options.epochs = args.GetInt("epochs");
  if (args.GetInt("batch_size") > 0) options.batch_size = args.GetInt("batch_size");
  if (args.GetDouble("head_learning_rate") > 0) {
    options.head_learning_rate = args.GetDouble("head_learning_rate");
  }
  if (args.GetDouble("mask_learning_rate") > 0) {
    options.mask_learning_rate = args.GetDouble("mask_learning_rate");
  }
  return options;
}

BenchmarkRow Row(const std::string& task, const std::string& method, const EvalTask& data,
                 const EvalResult& test, const EvalResult& train, double seconds) {
  return BenchmarkRow()
      .Add("task", task)
      .Add("method", method)
      .Add("train_examples", int64_t(data.train.size()))
      .Add("test_examples", int64_t(data.test.size()))
      .Add("test_accuracy", test.accuracy, 3)
      .Add("test_macro_f1", test.macro_f1, 3)
      .Add("train_accuracy", train.accuracy, 3)
      .Add("train_seconds", seconds, 2);
}

int Run(int argc, char** argv) {
  const std::string shared = MASKSERVE_SHARED_DIR;
  BenchmarkArgs args(
      argc, argv,
      {{"model_dir", MASKSERVE_DEFAULT_MODEL_DIR},
       {"pooling", ""},
       {"device", "auto"},
       {"tasks", "sst2_64,sst2_1000,topics_16"},
       {"methods", "head_only,adapter,xpeft_hard,xpeft_soft,propetl_hybrid,propetl_layer"},
       {"seed", "0"},
       {"epochs", "0"},
       {"batch_size", "0"},
       {"head_learning_rate", "0"},
       {"mask_learning_rate", "0"},
       {"glue", shared + "/data/glue"},
       {"huffpost", shared + "/data/huffpost/news_category_10k.jsonl"},
       {"topic_classes", "4"},
       {"topic_test_per_class", "200"},
       {"sst2_test", "dev"}},
      "quality_benchmark [--model_dir=DIR (default: the default model; builtin)] [--pooling= "
      "(pooler|cls|mean; "
      "empty = the checkpoint's)] [--device=auto] "
      "[--tasks=sst2_64,sst2_1000,topics_16] "
      "[--methods=head_only,adapter,xpeft_hard,xpeft_soft,propetl_hybrid,propetl_layer] "
      "[--seed=0] [--epochs=0] [--batch_size=0] [--head_learning_rate=0] "
      "[--mask_learning_rate=0] (0 = trainer default) [--glue=DIR] [--huffpost=PATH] "
      "[--topic_classes=4] [--topic_test_per_class=200] [--sst2_test=dev|heldout_train "
      "(872 training sentences not trained on: for choosing defaults without seeing dev)]");
  if (args.Get("sst2_test") != "dev" && args.Get("sst2_test") != "heldout_train") {
    throw InvalidArgument("--sst2_test: must be dev or heldout_train");
  }
  const std::vector<std::string> tasks = SplitList(args.Get("tasks"));
  for (const std::string& name : tasks) TaskLoader::CheckName(name);
  std::vector<std::pair<std::string, Method>> methods;
  for (const std::string& name : SplitList(args.Get("methods"))) {
    methods.emplace_back(name, ParseMethod(name));
  }

  const DeviceSpec device = ResolveDevice(args.Get("device"), "auto");
  const Backbone backbone = LoadBackbone(args.Get("model_dir"), device,
                                         ParsePoolingOverride(args.Get("pooling"), "--pooling"));
  const BertConfig& c = backbone.model->config();
  AdapterBankConfig bank_config;
  bank_config.num_layers = c.num_hidden_layers;
  bank_config.hidden_size = c.hidden_size;
  bank_config.bottleneck = DefaultBottleneck(c.hidden_size);
  bank_config.num_adapters = 100;
  bank_config.top_k = 50;
  PrototypeBankConfig proto_config;
  proto_config.num_layers = c.num_hidden_layers;
  proto_config.hidden_size = c.hidden_size;
  proto_config.bottleneck = bank_config.bottleneck;
  ServingBanks banks;
  banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank_config, device, 1234));
  banks.prototype =
      std::make_shared<PrototypeBank>(PrototypeBank::Random(proto_config, device, 1235));
  const ProfileTrainer trainer(backbone, banks);

  TaskLoader loader(args);
  std::vector<BenchmarkRow> rows;
  for (const std::string& task_name : tasks) {
    const EvalTask task = loader.Load(task_name);
    const int64_t num_labels = int64_t(task.labels.size());

    double start = NowSeconds();
    const NaiveBayesClassifier nb = FitNaiveBayes(task.train, num_labels);
    const double nb_seconds = NowSeconds() - start;
    rows.push_back(Row(task_name, "naive_bayes", task, ScoreNaiveBayes(nb, task.test),
                       ScoreNaiveBayes(nb, task.train), nb_seconds)
                       .Add("profile_bytes", ""));

    for (const auto& [method_name, method] : methods) {
      const TrainingOptions options = OptionsFor(args, method);
      start = NowSeconds();
      const ProfileData profile = trainer.Train(task.train, task.labels, options, nullptr, nullptr);
      const double seconds = NowSeconds() - start;
      const EvalResult test =
          ScoreServedProfile(backbone, banks, profile, task.test, options.max_sequence_length);
      const EvalResult train =
          ScoreServedProfile(backbone, banks, profile, task.train, options.max_sequence_length);
      rows.push_back(Row(task_name, method_name, task, test, train, seconds)
                         .Add("profile_bytes", int64_t(MeasureProfile(profile).total)));
      std::cerr << task_name << " " << method_name << ": test accuracy " << test.accuracy << " ("
                << seconds << " s)\n";
    }
  }
  PrintBenchmarkReport("quality",
                       {{"backbone", backbone.source},
                        {"backbone_origin", backbone.origin},
                        {"pooling", PoolingName(c.pooling)},
                        {"device", DeviceName(device.device)},
                        {"seed", args.Get("seed")},
                        {"epochs", args.Get("epochs")},
                        {"batch_size", args.Get("batch_size")},
                        {"head_learning_rate", args.Get("head_learning_rate")},
                        {"mask_learning_rate", args.Get("mask_learning_rate")},
                        {"N", std::to_string(bank_config.num_adapters)},
                        {"k", std::to_string(bank_config.top_k)},
                        {"b", std::to_string(bank_config.bottleneck)}},
                       rows);
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  return maskserve::RunProgram("quality_benchmark", maskserve::Run, argc, argv);
}
