// maskserve_build_bank: trains a warm X-PEFT adapter bank or a ProPETL
// prototype (with its shared layer masks) on a corpus of many profiles that
// share one label set, and writes it as safetensors for the server's
// --adapter_bank / --prototype flags. Optionally also writes the head
// trained with it into a shared-heads file (--shared_heads_out, added to the
// file's heads when it exists) for the server's --shared_heads flag.
//
//   maskserve_build_bank --kind=xpeft --huffpost=news.jsonl --select=even
//       --num_adapters=30 --out=bank.safetensors
//       --shared_heads_out=heads.safetensors --head_name=news
//
// Progress goes to stderr; a JSON summary line goes to stdout.
#include <ATen/ATen.h>

#include <filesystem>
#include <iostream>

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/model/backbone.h"
#include "core/peft/shared_heads.h"
#include "core/profile/profile_data.h"
#include "core/tools/benchmark_util.h"
#include "core/training/bank_builder.h"
#include "core/training/bank_corpus.h"

namespace maskserve {
namespace {

constexpr char kUsage[] =
    R"(usage: maskserve_build_bank --kind=xpeft|propetl --out=PATH (--corpus=PATH | --huffpost=PATH)
  corpus     --corpus=PATH            JSON lines {"profile","text","text_pair"?,"label"}
             --huffpost=PATH          HuffPost News Category JSON lines (profile = authors)
             --min_articles=20        HuffPost: authors with fewer articles are dropped
             --test_fraction=0.3      HuffPost: each author's latest share, never trained on
             --select=all             HuffPost: all | even | odd authors (by article count)
  backbone   --model_dir=DIR          HF model directory (default: the server's default
                                      model); builtin = the built-in tiny backbone
             --pooling=               pooler | cls | mean; empty = the checkpoint's (must
                                      match the server's --pooling)
             --device=auto --dtype=auto
  bank       --num_adapters=100 --top_k=50 --bottleneck=0 (0 = hidden/16)
             --keep_fraction=0.3      ProPETL: density of layer and task masks
  training   --epochs=5 --batch_size=32 --learning_rate=1e-3 --mask_learning_rate=3e-3
             --head_learning_rate=1e-2 --weight_decay=0.01 --warmup_fraction=0.1
             --max_sequence_length=128 --validation_fraction=0.1 --seed=0
  heads      --shared_heads_out=PATH --head_name=NAME)";

int Run(int argc, char** argv) {
  BenchmarkArgs args(argc, argv,
                     {{"kind", ""},
                      {"out", ""},
                      {"corpus", ""},
                      {"huffpost", ""},
                      {"min_articles", "20"},
                      {"test_fraction", "0.3"},
                      {"select", "all"},
                      {"model_dir", MASKSERVE_DEFAULT_MODEL_DIR},
                      {"pooling", ""},
                      {"device", "auto"},
                      {"dtype", "auto"},
                      {"num_adapters", "100"},
                      {"top_k", "50"},
                      {"bottleneck", "0"},
                      {"keep_fraction", "0.3"},
                      {"epochs", "5"},
                      {"batch_size", "32"},
                      {"learning_rate", "1e-3"},
                      {"mask_learning_rate", "3e-3"},
                      {"head_learning_rate", "1e-2"},
                      {"weight_decay", "0.01"},
                      {"warmup_fraction", "0.1"},
                      {"max_sequence_length", "128"},
                      {"validation_fraction", "0.1"},
                      {"seed", "0"},
                      {"shared_heads_out", ""},
                      {"head_name", ""}},
                     kUsage);
  const std::string kind = args.Get("kind");
  if (kind != "xpeft" && kind != "propetl")
    throw InvalidArgument("--kind: must be xpeft or propetl");
  if (args.Get("out").empty()) throw InvalidArgument("--out: the bank file to write is required");
  if (args.Get("corpus").empty() == args.Get("huffpost").empty()) {
    throw InvalidArgument("--corpus / --huffpost: give exactly one");
  }
  if (args.Get("shared_heads_out").empty() != args.Get("head_name").empty()) {
    throw InvalidArgument("--shared_heads_out / --head_name: give both or neither");
  }
  if (!args.Get("head_name").empty()) ValidateSharedHeadName(args.Get("head_name"), "--head_name");

  BankCorpus corpus;
  if (!args.Get("corpus").empty()) {
    corpus = ReadJsonlCorpus(args.Get("corpus"));
  } else {
    const std::string select = args.Get("select");
    if (select != "all" && select != "even" && select != "odd") {
      throw InvalidArgument("--select: must be all, even or odd");
    }
    SplitCorpus split = ReadHuffPostAuthors(args.Get("huffpost"), args.GetInt("min_articles"),
                                            args.GetDouble("test_fraction"));
    corpus = split.TrainingCorpus(select == "odd" ? 1 : 0, select == "all" ? 1 : 2);
  }
  corpus.Validate();

  const DeviceSpec device = ResolveDevice(args.Get("device"), args.Get("dtype"));
  const Backbone backbone = LoadBackbone(args.Get("model_dir"), device,
                                         ParsePoolingOverride(args.Get("pooling"), "--pooling"));
  const BertConfig& c = backbone.model->config();
  const int64_t bottleneck =
      args.GetInt("bottleneck") > 0 ? args.GetInt("bottleneck") : DefaultBottleneck(c.hidden_size);

  BankBuildOptions options;
  options.epochs = args.GetInt("epochs");
  options.batch_size = args.GetInt("batch_size");
  options.weight_learning_rate = args.GetDouble("learning_rate");
  options.mask_learning_rate = args.GetDouble("mask_learning_rate");
  options.head_learning_rate = args.GetDouble("head_learning_rate");
  options.weight_decay = args.GetDouble("weight_decay");
  options.warmup_fraction = args.GetDouble("warmup_fraction");
  options.max_sequence_length = args.GetInt("max_sequence_length");
  options.validation_fraction = args.GetDouble("validation_fraction");
  options.seed = uint64_t(args.GetInt("seed"));

  std::cerr << "building a " << kind << " bank from " << corpus.tasks.size() << " profiles, "
            << corpus.num_examples() << " examples, " << corpus.labels.size() << " labels on "
            << DeviceName(device.device) << "\n";
  auto on_progress = [](const BankBuildProgress& p) {
    if (p.step % 50 == 0 || p.step == p.total_steps) {
      std::cerr << "epoch " << p.epoch << "/" << p.total_epochs << " step " << p.step << "/"
                << p.total_steps << " train loss " << p.train_loss;
      if (p.has_validation && p.validation.examples > 0) {
        std::cerr << " validation accuracy " << p.validation.accuracy;
      }
      std::cerr << "\n";
    }
  };

  std::string fingerprint;
  BuiltHead head;
  BankBuildReport report;
  if (kind == "xpeft") {
    AdapterBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = bottleneck;
    config.num_adapters = args.GetInt("num_adapters");
    config.top_k = args.GetInt("top_k");
    BuiltAdapterBank built =
        BuildWarmAdapterBank(backbone, corpus, config, options, on_progress, nullptr);
    built.bank.Save(args.Get("out"));
    fingerprint = built.bank.fingerprint();
    head = std::move(built.head);
    report = built.report;
  } else {
    PrototypeBankConfig config;
    config.num_layers = c.num_hidden_layers;
    config.hidden_size = c.hidden_size;
    config.bottleneck = bottleneck;
    config.layer_keep_fraction = float(args.GetDouble("keep_fraction"));
    BuiltPrototype built = BuildPrototype(backbone, corpus, config, options, on_progress, nullptr);
    built.prototype.Save(args.Get("out"));
    fingerprint = built.prototype.fingerprint();
    head = std::move(built.head);
    report = built.report;
  }

  std::string head_fingerprint;
  if (!args.Get("shared_heads_out").empty()) {
    const std::string path = args.Get("shared_heads_out");
    SharedHeadSet heads = std::filesystem::exists(path)
                              ? SharedHeadSet::Load(path)
                              : SharedHeadSet(backbone.model->fingerprint());
    if (heads.backbone_fingerprint() != backbone.model->fingerprint()) {
      throw FailedPrecondition(path + ": its heads belong to another backbone");
    }
    head_fingerprint =
        heads.Add(args.Get("head_name"), head.labels, head.weight, head.bias).fingerprint;
    heads.Save(path);
  }

  std::cout << "{\"kind\": " << JsonQuote(kind) << ", \"out\": " << JsonQuote(args.Get("out"))
            << ", \"fingerprint\": " << JsonQuote(fingerprint) << ", \"profiles\": " << report.tasks
            << ", \"labels\": " << head.labels.size()
            << ", \"train_examples\": " << report.train_examples
            << ", \"validation_examples\": " << report.validation_examples;
  if (kind == "xpeft") std::cout << ", \"trained_adapters\": " << report.trained_adapters;
  if (report.validation) {
    std::cout << ", \"validation_accuracy\": " << report.validation->accuracy
              << ", \"validation_macro_f1\": " << report.validation->macro_f1;
  }
  if (!head_fingerprint.empty()) {
    std::cout << ", \"shared_head\": " << JsonQuote(args.Get("head_name"))
              << ", \"shared_head_fingerprint\": " << JsonQuote(head_fingerprint);
  }
  std::cout << ", \"seconds\": " << report.seconds << "}\n";
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  return maskserve::RunProgram("maskserve_build_bank", maskserve::Run, argc, argv);
}
