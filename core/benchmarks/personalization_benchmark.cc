// Per-profile quality on a real multi-profile corpus (HuffPost authors,
// LaMP-2N style; see ../shared/data/README.md): banks are built on the
// training articles of the even-ranked authors, then every odd-ranked author
// gets one profile per configuration, trained on their earliest 70% of
// articles and scored on their latest 30% through the serving path
// (codec -> ComposeProfile -> ClassifyMixedBatch). Prints mean test accuracy
// and macro-F1 over authors, mean accuracy on the profiles' own training
// articles, mean training time and stored bytes per configuration, so the
// methods of both papers compare on one backbone; a per-author bag-of-words
// naive Bayes row (fit on the same training articles) is the floor.
//
//   personalization_benchmark [--huffpost=PATH] [--min_articles=20]
//       [--max_profiles=0] [--bank_epochs=5] [--profile_epochs=0 (trainer default)]
//       [--num_adapters=0 (= bank authors, at most 100)] [--device=auto]
//       [--model_dir=DIR (default: the default model; builtin)] [--pooling=]
//       [--max_train_examples=0 (all)]
#include <iostream>
#include <map>

#include "core/benchmarks/benchmark_eval.h"
#include "core/model/backbone.h"
#include "core/peft/composed_profile.h"
#include "core/peft/mixed_batch.h"
#include "core/peft/shared_heads.h"
#include "core/profile/profile_codec.h"
#include "core/tools/benchmark_util.h"
#include "core/training/bank_builder.h"
#include "core/training/bank_corpus.h"
#include "core/training/profile_trainer.h"

namespace maskserve {
namespace {

struct Config {
  std::string name;
  Method method;
  bool warm = false;         // use the built bank / prototype
  bool shared_head = false;  // reuse the head trained with the bank, frozen
};

struct Totals {
  double accuracy = 0, macro_f1 = 0, train_accuracy = 0, seconds = 0, bytes = 0;
  int64_t profiles = 0;

  void Add(const EvalResult& test, const EvalResult& train, double train_seconds,
           double profile_bytes) {
    accuracy += test.accuracy;
    macro_f1 += test.macro_f1;
    train_accuracy += train.accuracy;
    seconds += train_seconds;
    bytes += profile_bytes;
    ++profiles;
  }
};

int Run(int argc, char** argv) {
  BenchmarkArgs args(
      argc, argv,
      {{"huffpost", std::string(MASKSERVE_SHARED_DIR) + "/data/huffpost/news_category_10k.jsonl"},
       {"min_articles", "20"},
       {"max_profiles", "0"},
       {"bank_epochs", "5"},
       {"profile_epochs", "0"},
       {"num_adapters", "0"},
       {"device", "auto"},
       {"model_dir", MASKSERVE_DEFAULT_MODEL_DIR},
       {"pooling", ""},
       {"seed", "0"},
       {"max_train_examples", "0"}},
      "personalization_benchmark [--huffpost=PATH] [--min_articles=20] [--max_profiles=0] "
      "[--bank_epochs=5] [--profile_epochs=0 (trainer default)] [--num_adapters=0] "
      "[--device=auto] "
      "[--model_dir=DIR|builtin] [--pooling=] [--seed=0] [--max_train_examples=0 (all; else each "
      "author's earliest n "
      "training articles only)]");
  const SplitCorpus corpus = ReadHuffPostAuthors(args.Get("huffpost"), args.GetInt("min_articles"));
  const DeviceSpec device = ResolveDevice(args.Get("device"), "auto");
  const Backbone backbone = LoadBackbone(args.Get("model_dir"), device,
                                         ParsePoolingOverride(args.Get("pooling"), "--pooling"));
  const BertConfig& c = backbone.model->config();
  const int64_t b = DefaultBottleneck(c.hidden_size);

  // Banks from the even-ranked authors.
  const BankCorpus bank_corpus = corpus.TrainingCorpus(0, 2);
  const int64_t n = args.GetInt("num_adapters") > 0
                        ? args.GetInt("num_adapters")
                        : std::min<int64_t>(100, int64_t(bank_corpus.tasks.size()));
  BankBuildOptions build;
  build.epochs = args.GetInt("bank_epochs");
  build.seed = uint64_t(args.GetInt("seed"));
  AdapterBankConfig bank_config;
  bank_config.num_layers = c.num_hidden_layers;
  bank_config.hidden_size = c.hidden_size;
  bank_config.bottleneck = b;
  bank_config.num_adapters = n;
  bank_config.top_k = std::max<int64_t>(1, n / 2);
  PrototypeBankConfig proto_config;
  proto_config.num_layers = c.num_hidden_layers;
  proto_config.hidden_size = c.hidden_size;
  proto_config.bottleneck = b;

  double t0 = NowSeconds();
  BuiltAdapterBank warm =
      BuildWarmAdapterBank(backbone, bank_corpus, bank_config, build, nullptr, nullptr);
  const double warm_seconds = NowSeconds() - t0;
  t0 = NowSeconds();
  BuiltPrototype proto =
      BuildPrototype(backbone, bank_corpus, proto_config, build, nullptr, nullptr);
  const double proto_seconds = NowSeconds() - t0;
  std::vector<BenchmarkRow> bank_rows;
  bank_rows.push_back(BenchmarkRow()
                          .Add("bank", "xpeft_warm")
                          .Add("profiles", int64_t(bank_corpus.tasks.size()))
                          .Add("examples", bank_corpus.num_examples())
                          .Add("validation_accuracy",
                               warm.report.validation ? warm.report.validation->accuracy : 0.0, 3)
                          .Add("seconds", warm_seconds, 1));
  bank_rows.push_back(BenchmarkRow()
                          .Add("bank", "propetl_prototype")
                          .Add("profiles", int64_t(bank_corpus.tasks.size()))
                          .Add("examples", bank_corpus.num_examples())
                          .Add("validation_accuracy",
                               proto.report.validation ? proto.report.validation->accuracy : 0.0, 3)
                          .Add("seconds", proto_seconds, 1));
  PrintBenchmarkReport("bank_building",
                       {{"backbone", backbone.source},
                        {"pooling", PoolingName(backbone.model->config().pooling)},
                        {"device", DeviceName(device.device)},
                        {"N", std::to_string(n)},
                        {"b", std::to_string(b)}},
                       bank_rows);

  ServingBanks random_banks;
  random_banks.adapters =
      std::make_shared<AdapterBank>(AdapterBank::Random(bank_config, device, 1234));
  random_banks.prototype =
      std::make_shared<PrototypeBank>(PrototypeBank::Random(proto_config, device, 1235));
  ServingBanks warm_banks;
  warm_banks.adapters = std::make_shared<AdapterBank>(warm.bank);
  auto heads = std::make_shared<SharedHeadSet>(backbone.model->fingerprint());
  heads->Add("bank_head", warm.head.labels, warm.head.weight, warm.head.bias);
  heads->Place(device);
  warm_banks.heads = heads;
  warm_banks.prototype = std::make_shared<PrototypeBank>(proto.prototype);

  const std::vector<Config> configs = {
      {"head_only", Method::kHeadOnly},
      {"adapter", Method::kAdapter},
      {"xpeft_hard_random", Method::kXpeftHard},
      {"xpeft_hard_warm", Method::kXpeftHard, true},
      {"xpeft_hard_warm_shared_head", Method::kXpeftHard, true, true},
      {"xpeft_soft_warm", Method::kXpeftSoft, true},
      {"propetl_hybrid_random", Method::kPropetlHybrid},
      {"propetl_hybrid_built", Method::kPropetlHybrid, true},
      {"propetl_layer_built", Method::kPropetlLayer, true},
  };
  std::map<std::string, Totals> totals;
  const int64_t max_profiles = args.GetInt("max_profiles");
  const int64_t max_train = args.GetInt("max_train_examples");
  int64_t evaluated = 0;
  for (size_t a = 1; a < corpus.profiles.size(); a += 2) {
    if (max_profiles > 0 && evaluated >= max_profiles) break;
    const ProfileSplit& author = corpus.profiles[a];
    if (author.train.size() < 4 || author.test.empty()) continue;
    ++evaluated;
    std::vector<TrainingExample> train = author.train;
    if (max_train > 0 && int64_t(train.size()) > max_train) train.resize(size_t(max_train));
    double start = NowSeconds();
    const NaiveBayesClassifier nb = FitNaiveBayes(train, int64_t(corpus.labels.size()));
    totals["naive_bayes"].Add(ScoreNaiveBayes(nb, author.test), ScoreNaiveBayes(nb, train),
                              NowSeconds() - start, 0);
    for (const Config& config : configs) {
      const ServingBanks& banks = config.warm ? warm_banks : random_banks;
      ProfileTrainer trainer(backbone, banks);
      TrainingOptions options;
      options.method = config.method;
      if (args.GetInt("profile_epochs") > 0) options.epochs = args.GetInt("profile_epochs");
      options.seed = uint64_t(args.GetInt("seed"));
      if (config.shared_head) options.shared_head = "bank_head";
      start = NowSeconds();
      ProfileData profile = trainer.Train(train, corpus.labels, options, nullptr, nullptr);
      const double seconds = NowSeconds() - start;
      totals[config.name].Add(
          ScoreServedProfile(backbone, banks, profile, author.test, options.max_sequence_length),
          ScoreServedProfile(backbone, banks, profile, train, options.max_sequence_length), seconds,
          double(MeasureProfile(profile).total));
    }
    std::cerr << "evaluated " << evaluated << " profiles\n";
  }

  std::vector<std::string> names = {"naive_bayes"};
  for (const Config& config : configs) names.push_back(config.name);
  std::vector<BenchmarkRow> rows;
  for (const std::string& name : names) {
    const Totals& t = totals[name];
    const double n_profiles = double(std::max<int64_t>(1, t.profiles));
    BenchmarkRow row;
    row.Add("config", name)
        .Add("profiles", t.profiles)
        .Add("test_accuracy", t.accuracy / n_profiles, 3)
        .Add("test_macro_f1", t.macro_f1 / n_profiles, 3)
        .Add("train_accuracy", t.train_accuracy / n_profiles, 3)
        .Add("train_seconds", t.seconds / n_profiles, 2);
    if (name == "naive_bayes") {
      row.Add("profile_bytes", "");
    } else {
      row.Add("profile_bytes", t.bytes / n_profiles, 0);
    }
    rows.push_back(std::move(row));
  }
  PrintBenchmarkReport("personalization_huffpost",
                       {{"backbone", backbone.source},
                        {"pooling", PoolingName(backbone.model->config().pooling)},
                        {"device", DeviceName(device.device)},
                        {"labels", std::to_string(corpus.labels.size())},
                        {"bank_profiles", std::to_string(bank_corpus.tasks.size())},
                        {"N", std::to_string(n)},
                        {"k", std::to_string(bank_config.top_k)},
                        {"profile_epochs", args.Get("profile_epochs")},
                        {"max_train_examples", args.Get("max_train_examples")}},
                       rows);
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  return maskserve::RunProgram("personalization_benchmark", maskserve::Run, argc, argv);
}
