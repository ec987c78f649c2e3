// Engine II figures: bytes per profile for each method at BERT-base shape
// (L=12, d=768, b=48, N=100, k=50) next to the papers' formulas; time to
// compose a batch of distinct profiles from the bank; and time to train a
// 50-example profile of each method with its default options (short
// synthetic texts) on the default backbone.
//
//   peft_benchmark [--compose_batches=1,64,256] [--train_examples=50]
//                  [--epochs=0 (method default)] [--device=auto]
//                  [--model_dir=DIR|builtin (default: the default model)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <iostream>

#include "core/base/bit_packing.h"
#include "core/model/backbone.h"
#include "core/peft/peft_composition.h"
#include "core/profile/profile_codec.h"
#include "core/testing/synthetic_task.h"
#include "core/tools/benchmark_util.h"
#include "core/training/profile_trainer.h"

namespace maskserve {
namespace {

constexpr uint32_t kL = 12, kD = 768, kB = 48, kN = 100, kK = 50, kClasses = 2;

// A profile of `method` at BERT-base shape with payloads of the real sizes.
ProfileData BaseShapeProfile(Method method) {
  ProfileData p;
  p.method = method;
  p.backbone_fingerprint = std::string(64, '0');
  p.bank_fingerprint = IsXpeft(method) || IsPropetl(method) ? std::string(64, '1') : "";
  p.shape = {kL,
             kD,
             kB,
             IsXpeft(method) ? kN : 0,
             method == Method::kXpeftHard ? kK : 0,
             method == Method::kPropetlHybrid ? 0.3f
             : IsPropetl(method)              ? 0.5f
                                              : 0.0f};
  p.labels = {"negative", "positive"};
  p.head_weight.assign(kClasses * kD, 0);
  p.head_bias.assign(kClasses, 0);
  switch (method) {
    case Method::kXpeftHard: {
      std::vector<uint8_t> mask(2 * kL * kN, 0);
      for (uint32_t r = 0; r < 2 * kL; ++r) {
        for (uint32_t i = 0; i < kK; ++i) mask[r * kN + i] = 1;
      }
      p.mask_bits = PackBitRows(mask.data(), 2 * kL, kN);
      break;
    }
    case Method::kXpeftSoft:
      p.mask_weights.assign(2 * kL * kN, 0);
      break;
    case Method::kPropetlLayer:
      p.mask_bits.assign(2 * kL * PackedBytes(kD * kB), 0);
      break;
    case Method::kPropetlHybrid:
      p.mask_bits.assign(2 * PackedBytes(kD * kB), 0);
      break;
    case Method::kAdapter:
      p.adapter_params.assign(kL * (2 * kD * kB + kB + kD), 0);
      break;
    default:
      break;
  }
  return p;
}

std::string PaperFormula(Method method) {
  switch (method) {
    case Method::kXpeftHard:
      return "2*ceil(N/8)*L = 312 B";
    case Method::kXpeftSoft:
      return "2*N*L values (fp16: 4800 B)";
    case Method::kPropetlLayer:
      return "2*d*b*L bits = 110592 B";
    case Method::kPropetlHybrid:
      return "2*d*b bits = 9216 B";
    case Method::kAdapter:
      return "L*(2db+b+d) fp16 = 1789440 B";
    default:
      return "head only";
  }
}

int Run(int argc, char** argv) {
  BenchmarkArgs args(argc, argv,
                     {{"compose_batches", "1,64,256"},
                      {"train_examples", "50"},
                      {"epochs", "0"},
                      {"device", "auto"},
                      {"skip_training", "false"},
                      {"model_dir", MASKSERVE_DEFAULT_MODEL_DIR}},
                     "peft_benchmark [--compose_batches=1,64,256] [--train_examples=50] "
                     "[--epochs=0 (method default)] [--device=auto] [--skip_training] "
                     "[--model_dir=DIR|builtin]");
  const Method methods[] = {Method::kXpeftHard,     Method::kXpeftSoft, Method::kPropetlLayer,
                            Method::kPropetlHybrid, Method::kHeadOnly,  Method::kAdapter};

  std::vector<BenchmarkRow> bytes_rows;
  for (Method m : methods) {
    ProfileData p = BaseShapeProfile(m);
    if (IsXpeft(m)) p.norm_params.assign(2 * kL * kB, 0);
    ProfileBytes with_norm = MeasureProfile(p);
    bytes_rows.push_back(BenchmarkRow()
                             .Add("method", MethodName(m))
                             .Add("mask_bytes", int64_t(with_norm.masks))
                             .Add("head_bytes", int64_t(with_norm.head))
                             .Add("metadata_bytes", int64_t(with_norm.metadata))
                             .Add("total_bytes", int64_t(with_norm.total))
                             .Add("paper_formula", PaperFormula(m)));
  }
  {
    ProfileData p = BaseShapeProfile(Method::kXpeftHard);
    p.norm_params.assign(2 * kL * kB, 0);
    p.head_weight.clear();
    p.head_weight_int8.assign(kClasses * kD, 0);
    p.head_weight_scale.assign(kClasses, 0);
    ProfileBytes int8_head = MeasureProfile(p);
    bytes_rows.push_back(BenchmarkRow()
                             .Add("method", "XPEFT_HARD, int8 head")
                             .Add("mask_bytes", int64_t(int8_head.masks))
                             .Add("head_bytes", int64_t(int8_head.head))
                             .Add("metadata_bytes", int64_t(int8_head.metadata))
                             .Add("total_bytes", int64_t(int8_head.total))
                             .Add("paper_formula", PaperFormula(Method::kXpeftHard)));
  }
  {
    ProfileData p = BaseShapeProfile(Method::kXpeftHard);
    p.head_weight.clear();
    p.head_bias.clear();
    p.shared_head = "reviews.1";  // a 9-character name
    p.shared_head_fingerprint = std::string(64, '2');
    ProfileBytes shared = MeasureProfile(p);
    bytes_rows.push_back(BenchmarkRow()
                             .Add("method", "XPEFT_HARD, shared head")
                             .Add("mask_bytes", int64_t(shared.masks))
                             .Add("head_bytes", int64_t(shared.head))
                             .Add("metadata_bytes", int64_t(shared.metadata))
                             .Add("total_bytes", int64_t(shared.total))
                             .Add("paper_formula", PaperFormula(Method::kXpeftHard)));
  }
  PrintBenchmarkReport(
      "profile_bytes",
      {{"shape", "L=12 d=768 b=48 N=100 k=50, 2 classes"},
       {"note", "X-PEFT head_bytes include the per-profile LayerNorm (2*b*L fp16)"}},
      bytes_rows);
  std::cout << "\n";

  const DeviceSpec device = ResolveDevice(args.Get("device"), "auto");
  AdapterBankConfig bank_config;
  bank_config.num_layers = kL;
  bank_config.hidden_size = kD;
  bank_config.bottleneck = kB;
  AdapterBank bank = AdapterBank::Random(bank_config, device, 1);
  std::vector<BenchmarkRow> compose_rows;
  {
    c10::InferenceMode inference;
    for (int64_t profiles : args.GetIntList("compose_batches")) {
      at::Tensor logits = at::randn({kL, profiles, kN});
      at::Tensor mask = XpeftHardMask(logits, kK).to(device.device);
      ComposeXpeft(mask, mask, bank);  // warm-up
      int64_t calls = 0;
      const double start = NowSeconds();
      double elapsed = 0;
      do {
        AdapterStack s = ComposeXpeft(mask, mask, bank);
        s.down.sum().item<double>();  // synchronise
        ++calls;
        elapsed = NowSeconds() - start;
      } while (elapsed < 0.5);
      compose_rows.push_back(
          BenchmarkRow()
              .Add("distinct_profiles", profiles)
              .Add("ms_per_batch", 1000.0 * elapsed / double(calls), 3)
              .Add("us_per_profile", 1e6 * elapsed / double(calls * profiles), 1));
    }
  }
  PrintBenchmarkReport("xpeft_composition",
                       {{"shape", "L=12 d=768 b=48 N=100 k=50"},
                        {"device", DeviceName(device.device)},
                        {"dtype", DtypeName(device.dtype)}},
                       compose_rows);
  std::cout << "\n";
  if (args.Get("skip_training") == "true") return 0;

  Backbone backbone = LoadBackbone(args.Get("model_dir"), device);
  const BertConfig& c = backbone.model->config();
  ServingBanks banks;
  AdapterBankConfig small_bank;
  small_bank.num_layers = c.num_hidden_layers;
  small_bank.hidden_size = c.hidden_size;
  small_bank.bottleneck = DefaultBottleneck(c.hidden_size);
  banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(small_bank, device, 1));
  PrototypeBankConfig proto;
  proto.num_layers = c.num_hidden_layers;
  proto.hidden_size = c.hidden_size;
  proto.bottleneck = DefaultBottleneck(c.hidden_size);
  banks.prototype = std::make_shared<PrototypeBank>(PrototypeBank::Random(proto, device, 2));
  ProfileTrainer trainer(backbone, banks);
  std::vector<TrainingExample> examples;
  for (const auto& e : testing::SyntheticTask(int(args.GetInt("train_examples")), 2, 7)) {
    examples.push_back({e.text, "", e.label});
  }
  std::vector<BenchmarkRow> train_rows;
  for (Method m : methods) {
    TrainingOptions options;
    options.method = m;
    if (args.GetInt("epochs") > 0) options.epochs = args.GetInt("epochs");
    options.early_stopping_patience = 0;
    int64_t steps = 0, epochs = 0;
    const double start = NowSeconds();
    ProfileData p = trainer.Train(
        examples, {"a", "b"}, options,
        [&](const TrainingProgress& progress) {
          steps = progress.step;
          epochs = progress.total_epochs;
        },
        nullptr);
    const double seconds = NowSeconds() - start;
    train_rows.push_back(BenchmarkRow()
                             .Add("method", MethodName(m))
                             .Add("seconds", seconds, 2)
                             .Add("epochs", epochs)
                             .Add("steps", steps)
                             .Add("train_accuracy", double(p.metrics.train_accuracy), 3));
  }
  PrintBenchmarkReport("profile_training",
                       {{"backbone", c.name},
                        {"examples", std::to_string(examples.size())},
                        {"epochs", args.Get("epochs")},
                        {"device", DeviceName(device.device)},
                        {"threads", std::to_string(at::get_num_threads())}},
                       train_rows);
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  return maskserve::RunProgram("peft_benchmark", maskserve::Run, argc, argv);
}
