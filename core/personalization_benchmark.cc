// Per-profile quality on a real multi-profile corpus (HuffPost authors,
// LaMP-2N style; see ../shared/data/README.md): banks are built on the
// training articles of the even-ranked authors, then every odd-ranked author
// gets one profile per configuration, trained on their earliest 70% of
// articles and scored on their latest 30% through the serving path
// (codec -> ComposeProfile -> ClassifyMixedBatch). Prints mean test accuracy
// and macro-F1 over authors, mean training time and stored bytes per
// configuration, so the methods of both papers compare on one backbone.
//
//   personalization_benchmark [--huffpost=PATH] [--min_articles=20]
//       [--max_profiles=0] [--bank_epochs=5] [--profile_epochs=20]
//       [--num_adapters=0 (= bank authors, at most 100)] [--device=auto]
//       [--model_dir=] [--max_train_examples=0 (all)]
#include <ATen/ATen.h>

#include <iostream>
#include <map>

#include "core/backbone.h"
#include "core/bank_builder.h"
#include "core/bank_corpus.h"
#include "core/benchmark_util.h"
#include "core/classification_metrics.h"
#include "core/composed_profile.h"
#include "core/encoded_examples.h"
#include "core/profile_codec.h"
#include "core/profile_trainer.h"
#include "core/shared_heads.h"

namespace maskserve {
namespace {

struct Config {
  std::string name;
  Method method;
  bool warm = false;         // use the built bank / prototype
  bool shared_head = false;  // reuse the head trained with the bank, frozen
};

struct Totals {
  double accuracy = 0, macro_f1 = 0, seconds = 0, bytes = 0;
  int64_t profiles = 0;
};

EvalResult Score(const Backbone& backbone, const ServingBanks& banks, const ProfileData& profile,
                 const std::vector<TrainingExample>& test, int64_t max_length) {
  ComposedProfile composed =
      ComposeProfile(DecodeProfile(EncodeProfile(profile)), *backbone.model, banks);
  EncodedExamples set(*backbone.tokenizer, test, int64_t(profile.labels.size()), max_length);
  std::vector<int64_t> rows(test.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int64_t(i);
  std::vector<at::Tensor> logits;
  at::InferenceMode guard;
  for (const auto& chunk : Chunks(rows, 64)) {
    ExampleBatch batch = set.Batch(chunk, backbone.model->device().device);
    for (at::Tensor& l : ClassifyMixedBatch(*backbone.model, {&composed},
                                            std::vector<int64_t>(chunk.size(), 0), batch.ids,
                                            batch.mask, batch.types)) {
      logits.push_back(l.unsqueeze(0));
    }
  }
  return ClassificationMetrics(at::cat(logits), at::tensor(set.labels(), at::kLong),
                               int64_t(profile.labels.size()));
}

int Run(int argc, char** argv) {
  BenchmarkArgs args(
      argc, argv,
      {{"huffpost", std::string(MASKSERVE_SHARED_DIR) + "/data/huffpost/news_category_10k.jsonl"},
       {"min_articles", "20"}, {"max_profiles", "0"}, {"bank_epochs", "5"},
       {"profile_epochs", "20"}, {"num_adapters", "0"}, {"device", "auto"}, {"model_dir", ""},
       {"seed", "0"}, {"max_train_examples", "0"}},
      "personalization_benchmark [--huffpost=PATH] [--min_articles=20] [--max_profiles=0] "
      "[--bank_epochs=5] [--profile_epochs=20] [--num_adapters=0] [--device=auto] "
      "[--model_dir=] [--seed=0] [--max_train_examples=0 (all; else each author's earliest n "
      "training articles only)]");
  const SplitCorpus corpus = ReadHuffPostAuthors(args.Get("huffpost"), args.GetInt("min_articles"));
  const DeviceSpec device = ResolveDevice(args.Get("device"), "auto");
  const Backbone backbone = args.Get("model_dir").empty()
                                ? BuiltinBackbone(device)
                                : LoadHfBackbone(args.Get("model_dir"), device);
  const BertConfig& c = backbone.model->config();
  const int64_t b = std::max<int64_t>(1, c.hidden_size / 16);

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
  BuiltAdapterBank warm = BuildWarmAdapterBank(backbone, bank_corpus, bank_config, build, nullptr, nullptr);
  const double warm_seconds = NowSeconds() - t0;
  t0 = NowSeconds();
  BuiltPrototype proto = BuildPrototype(backbone, bank_corpus, proto_config, build, nullptr, nullptr);
  const double proto_seconds = NowSeconds() - t0;
  std::vector<BenchmarkRow> bank_rows;
  bank_rows.push_back(BenchmarkRow()
                          .Add("bank", "xpeft_warm")
                          .Add("profiles", int64_t(bank_corpus.tasks.size()))
                          .Add("examples", bank_corpus.num_examples())
                          .Add("validation_accuracy", warm.report.validation ? warm.report.validation->accuracy : 0.0, 3)
                          .Add("seconds", warm_seconds, 1));
  bank_rows.push_back(BenchmarkRow()
                          .Add("bank", "propetl_prototype")
                          .Add("profiles", int64_t(bank_corpus.tasks.size()))
                          .Add("examples", bank_corpus.num_examples())
                          .Add("validation_accuracy", proto.report.validation ? proto.report.validation->accuracy : 0.0, 3)
                          .Add("seconds", proto_seconds, 1));
  PrintBenchmarkReport("bank_building",
                       {{"backbone", args.Get("model_dir").empty() ? "builtin" : args.Get("model_dir")},
                        {"device", DeviceName(device.device)},
                        {"N", std::to_string(n)},
                        {"b", std::to_string(b)}},
                       bank_rows);

  ServingBanks random_banks;
  random_banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank_config, device, 1234));
  random_banks.prototype = std::make_shared<PrototypeBank>(PrototypeBank::Random(proto_config, device, 1235));
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
    for (const Config& config : configs) {
      const ServingBanks& banks = config.warm ? warm_banks : random_banks;
      ProfileTrainer trainer(backbone, banks);
      TrainingOptions options;
      options.method = config.method;
      options.epochs = args.GetInt("profile_epochs");
      options.seed = uint64_t(args.GetInt("seed"));
      if (config.shared_head) options.shared_head = "bank_head";
      std::vector<TrainingExample> train = author.train;
      if (max_train > 0 && int64_t(train.size()) > max_train) train.resize(size_t(max_train));
      const double start = NowSeconds();
      ProfileData profile = trainer.Train(train, corpus.labels, options, nullptr, nullptr);
      Totals& t = totals[config.name];
      t.seconds += NowSeconds() - start;
      const EvalResult r = Score(backbone, banks, profile, author.test, options.max_sequence_length);
      t.accuracy += r.accuracy;
      t.macro_f1 += r.macro_f1;
      t.bytes += double(MeasureProfile(profile).total);
      ++t.profiles;
    }
    std::cerr << "evaluated " << evaluated << " profiles\n";
  }

  std::vector<BenchmarkRow> rows;
  for (const Config& config : configs) {
    const Totals& t = totals[config.name];
    const double n_profiles = double(std::max<int64_t>(1, t.profiles));
    rows.push_back(BenchmarkRow()
                       .Add("config", config.name)
                       .Add("profiles", t.profiles)
                       .Add("test_accuracy", t.accuracy / n_profiles, 3)
                       .Add("test_macro_f1", t.macro_f1 / n_profiles, 3)
                       .Add("train_seconds", t.seconds / n_profiles, 2)
                       .Add("profile_bytes", t.bytes / n_profiles, 0));
  }
  PrintBenchmarkReport("personalization_huffpost",
                       {{"backbone", args.Get("model_dir").empty() ? "builtin" : args.Get("model_dir")},
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
  try {
    return maskserve::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "personalization_benchmark: " << e.what() << "\n";
    return 1;
  }
}
