// Backbone forward throughput (sequences/s) for several batch sizes and
// sequence lengths: bare (no adapters), with a per-sequence adapter in every
// layer, and the serving path of a mixed stream -- ClassifyMixedBatch over
// sequences drawn at random from --profiles distinct composed X-PEFT hard
// profiles (heads and logits to the CPU included) -- with its ratio to the
// bare forward measured in the same run (SPEC section 9: >= 0.92 at batch 64
// and 256). CPU here; CUDA when run on a GPU host (--device=cuda).
//
//   backbone_benchmark [--shape=builtin|base] [--model_dir=DIR] [--device=auto]
//                      [--dtype=auto] [--batches=1,8,64,256] [--seq_lens=64,128]
//                      [--min_seconds=1.0] [--bottleneck=0 (d/16)]
//                      [--profiles=1000] [--num_adapters=100] [--top_k=50]
//                      [--rounds=3 (best of, variants taking turns)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <iostream>
#include <map>
#include <numeric>

#include <random>

#include "core/base/bit_packing.h"
#include "core/base/error.h"
#include "core/base/fp16.h"
#include "core/model/backbone.h"
#include "core/peft/adapter_bank.h"
#include "core/peft/composed_profile.h"
#include "core/peft/mixed_batch.h"
#include "core/tools/benchmark_util.h"

namespace maskserve {
namespace {

BertConfig BaseShape() {
  BertConfig c;
  c.name = "random-bert-base-shape";
  c.vocab_size = 30522;
  c.hidden_size = 768;
  c.num_hidden_layers = 12;
  c.num_attention_heads = 12;
  c.intermediate_size = 3072;
  c.max_position_embeddings = 512;
  return c;
}

void Synchronize(const DeviceSpec& device) {
#if TORCH_VERSION_MAJOR >= 2
  if (device.device.is_cuda()) torch::cuda::synchronize();
#else
  (void)device;
#endif
}

// Runs `forward` repeatedly for at least `min_seconds` (after 2 warm-up
// calls) and returns calls per second.
template <typename Fn>
double CallsPerSecond(const DeviceSpec& device, double min_seconds, Fn&& forward) {
  for (int i = 0; i < 2; ++i) forward();
  Synchronize(device);
  int64_t calls = 0;
  const double start = NowSeconds();
  double elapsed = 0;
  do {
    forward();
    ++calls;
    Synchronize(device);
    elapsed = NowSeconds() - start;
  } while (elapsed < min_seconds);
  return double(calls) / elapsed;
}

// `count` X-PEFT hard profiles with random k-hot masks and heads, composed
// through the serving path (ProfileData -> ComposeProfile).
std::vector<ComposedProfile> RandomProfiles(const BertModel& model, const ServingBanks& banks,
                                            int64_t count) {
  const AdapterBankConfig& c = banks.adapters->config();
  const uint32_t L = uint32_t(c.num_layers), N = uint32_t(c.num_adapters), k = uint32_t(c.top_k);
  std::mt19937 rng(7);
  std::normal_distribution<float> weight(0.0f, 0.02f);
  std::vector<ComposedProfile> out;
  out.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    ProfileData p;
    p.method = Method::kXpeftHard;
    p.backbone_fingerprint = model.fingerprint();
    p.bank_fingerprint = banks.adapters->fingerprint();
    p.shape = {L, uint32_t(c.hidden_size), uint32_t(c.bottleneck), N, k, 0};
    p.labels = {"negative", "positive"};
    std::vector<uint8_t> mask(size_t(2 * L * N), 0);
    std::vector<uint32_t> order(N);
    for (uint32_t row = 0; row < 2 * L; ++row) {
      std::iota(order.begin(), order.end(), 0u);
      std::shuffle(order.begin(), order.end(), rng);
      for (uint32_t j = 0; j < k; ++j) mask[row * N + order[j]] = 1;
    }
    p.mask_bits = PackBitRows(mask.data(), 2 * L, N);
    for (int64_t j = 0; j < 2 * c.hidden_size; ++j)
      p.head_weight.push_back(FloatToHalf(weight(rng)));
    p.head_bias.assign(2, FloatToHalf(0.0f));
    out.push_back(ComposeProfile(p, model, banks));
  }
  return out;
}

int Run(int argc, char** argv) {
  BenchmarkArgs args(argc, argv,
                     {{"shape", "builtin"},
                      {"model_dir", ""},
                      {"device", "auto"},
                      {"dtype", "auto"},
                      {"batches", "1,8,64,256"},
                      {"seq_lens", "64,128"},
                      {"min_seconds", "1.0"},
                      {"bottleneck", "0"},
                      {"profiles", "1000"},
                      {"num_adapters", "100"},
                      {"top_k", "50"},
                      {"rounds", "3"}},
                     "backbone_benchmark [--shape=builtin|base] [--model_dir=DIR] "
                     "[--device=auto] [--dtype=auto] [--batches=1,8,64,256] "
                     "[--seq_lens=64,128] [--min_seconds=1.0] [--bottleneck=0] "
                     "[--profiles=1000 (0 = skip the mixed stream)] [--num_adapters=100] "
                     "[--top_k=50] [--rounds=3]");
  const DeviceSpec device = ResolveDevice(args.Get("device"), args.Get("dtype"));
  BertModel model = !args.Get("model_dir").empty()
                        ? *LoadHfBackbone(args.Get("model_dir"), device).model
                    : args.Get("shape") == "base" ? BertModel::Random(BaseShape(), device, 1)
                                                  : *BuiltinBackbone(device).model;
  const int64_t d = model.config().hidden_size;
  const int64_t bottleneck =
      args.GetInt("bottleneck") > 0 ? args.GetInt("bottleneck") : DefaultBottleneck(d);
  c10::InferenceMode inference;

  const int64_t num_profiles = args.GetInt("profiles");
  ServingBanks banks;
  std::vector<ComposedProfile> profiles;
  if (num_profiles > 0) {
    AdapterBankConfig bank;
    bank.num_layers = model.config().num_hidden_layers;
    bank.hidden_size = d;
    bank.bottleneck = bottleneck;
    bank.num_adapters = args.GetInt("num_adapters");
    bank.top_k = args.GetInt("top_k");
    banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, device, 3));
    profiles = RandomProfiles(model, banks, num_profiles);
  }
  std::mt19937 pick(11);

  std::vector<BenchmarkRow> rows;
  for (int64_t seq : args.GetIntList("seq_lens")) {
    for (int64_t batch : args.GetIntList("batches")) {
      const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device.device);
      at::Tensor ids = at::randint(1000, {batch, seq}, long_opts);
      at::Tensor mask = at::ones({batch, seq}, long_opts);
      at::Tensor types = at::zeros({batch, seq}, long_opts);
      const auto w_opts = at::TensorOptions().dtype(device.dtype).device(device.device);
      std::vector<AdapterWeights> adapters(model.config().num_hidden_layers);
      for (AdapterWeights& a : adapters) {
        a.down = at::randn({batch, d, bottleneck}, w_opts) * 0.02;
        a.down_bias = at::zeros({batch, bottleneck}, w_opts);
        a.up = at::randn({batch, bottleneck, d}, w_opts) * 0.02;
        a.up_bias = at::zeros({batch, d}, w_opts);
      }
      const double min_seconds = args.GetDouble("min_seconds");
      // A new draw of profiles for every batch, as a mixed stream brings.
      std::uniform_int_distribution<int64_t> any(0, std::max<int64_t>(0, num_profiles - 1));
      std::vector<int64_t> profile_of(static_cast<size_t>(batch));
      // The variants take turns for --rounds rounds, each round starting
      // with the next variant, and each keeps its best round, so that load
      // drifting on a shared machine and warm-up order hit all alike.
      auto run_bare = [&] { model.Forward(ids, mask, types); };
      auto run_adapted = [&] { model.Forward(ids, mask, types, &adapters); };
      auto run_mixed = [&] {
        // As the server's batcher does: the batch's distinct profiles, and
        // each sequence's index among them.
        std::map<int64_t, int64_t> slot;
        std::vector<const ComposedProfile*> distinct;
        for (int64_t& p : profile_of) {
          const int64_t drawn = any(pick);
          auto [it, added] = slot.emplace(drawn, int64_t(distinct.size()));
          if (added) distinct.push_back(&profiles[size_t(drawn)]);
          p = it->second;
        }
        ClassifyMixedBatch(model, distinct, profile_of, ids, mask, types);
      };
      const int variants = profiles.empty() ? 2 : 3;
      double best[3] = {0, 0, 0};
      for (int64_t round = 0; round < args.GetInt("rounds"); ++round) {
        for (int i = 0; i < variants; ++i) {
          const int v = int((round + i) % variants);
          const double rate = v == 0   ? CallsPerSecond(device, min_seconds, run_bare)
                              : v == 1 ? CallsPerSecond(device, min_seconds, run_adapted)
                                       : CallsPerSecond(device, min_seconds, run_mixed);
          best[v] = std::max(best[v], rate);
        }
      }
      const double bare = best[0], adapted = best[1], mixed = best[2];
      BenchmarkRow row;
      row.Add("seq_len", seq)
          .Add("batch", batch)
          .Add("bare_seq_per_s", bare * double(batch), 1)
          .Add("adapter_seq_per_s", adapted * double(batch), 1)
          .Add("adapter_ratio", adapted / bare, 3);
      if (!profiles.empty()) {
        row.Add("mixed_seq_per_s", mixed * double(batch), 1).Add("mixed_ratio", mixed / bare, 3);
      }
      row.Add("bare_ms_per_batch", 1000.0 / bare, 2);
      rows.push_back(row);
    }
  }
  PrintBenchmarkReport("backbone_forward",
                       {{"model", model.config().name},
                        {"layers", std::to_string(model.config().num_hidden_layers)},
                        {"hidden", std::to_string(d)},
                        {"bottleneck", std::to_string(bottleneck)},
                        {"device", DeviceName(device.device)},
                        {"dtype", DtypeName(device.dtype)},
                        {"torch", TORCH_VERSION},
                        {"threads", std::to_string(at::get_num_threads())},
                        {"mixed_profiles", std::to_string(num_profiles)}},
                       rows);
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  return maskserve::RunProgram("backbone_benchmark", maskserve::Run, argc, argv);
}
