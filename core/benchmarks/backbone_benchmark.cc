// Backbone forward throughput (sequences/s) for several batch sizes and
// sequence lengths, in one process, the variants taking turns:
//
//   bare     the stock forward (on CUDA through the same fused sublayer
//            kernel, adapters off)
//   pooled   the serving path of a mixed stream: ClassifyPooledBatch over
//            sequences drawn at random from --profiles distinct X-PEFT hard
//            profiles resident in a ProfilePool (adapters composed per
//            batch on the device from the mask rows, fused sublayer, heads
//            as one batched matmul, logits to the host included)
//   *_graph  bare and pooled replayed as CUDA graphs (CudaGraphForward),
//            on CUDA builds; *_aten the ATen sublayer instead of the fused
//            kernel, on builds with the kernel
//   cached   the previous design: the same profiles composed once each and
//            cached (ComposedProfile), gathered per batch (ClassifyMixedBatch)
//
// with each ratio to bare (SPEC section 9 / issue 14: pooled >= 0.95).
// --check=1 first verifies the pooled forward (fused kernel and ATen
// reference) against each profile composed and run alone, and exits 1
// beyond the dtype's tolerance. --million=N also inserts N X-PEFT hard
// profiles with a shared head into a fresh pool and reports its device
// bytes. CPU here; CUDA on a GPU host (--device=cuda).
//
//   backbone_benchmark [--shape=builtin|base] [--model_dir=DIR] [--device=auto]
//                      [--dtype=auto] [--batches=1,8,64,256] [--seq_lens=64,128]
//                      [--min_seconds=1.0] [--bottleneck=0 (d/16)]
//                      [--profiles=1000] [--num_adapters=100] [--top_k=50]
//                      [--rounds=3 (best of)] [--cached=1] [--check=1] [--million=0]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>

#include <random>

#include "core/base/bit_packing.h"
#include "core/base/error.h"
#include "core/base/fp16.h"
#include "core/model/backbone.h"
#include "core/peft/adapter_bank.h"
#include "core/peft/composed_profile.h"
#include "core/peft/mixed_batch.h"
#include "core/peft/profile_pool.h"
#include "core/peft/shared_heads.h"
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

// `count` X-PEFT hard profiles with random k-hot masks and heads (or the
// shared head `shared_head`, when not null).
std::vector<ProfileData> RandomProfiles(const BertModel& model, const ServingBanks& banks,
                                        int64_t count, const SharedHead* shared_head = nullptr) {
  const AdapterBankConfig& c = banks.adapters->config();
  const uint32_t L = uint32_t(c.num_layers), N = uint32_t(c.num_adapters), k = uint32_t(c.top_k);
  std::mt19937 rng(7);
  std::normal_distribution<float> weight(0.0f, 0.02f);
  std::vector<ProfileData> out;
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
    if (shared_head != nullptr) {
      p.shared_head = shared_head->name;
      p.shared_head_fingerprint = shared_head->fingerprint;
    } else {
      for (int64_t j = 0; j < 2 * c.hidden_size; ++j)
        p.head_weight.push_back(FloatToHalf(weight(rng)));
      p.head_bias.assign(2, FloatToHalf(0.0f));
    }
    out.push_back(std::move(p));
  }
  return out;
}

// The batch's distinct profiles, and each sequence's index among them, for
// `batch` sequences drawn at random (as the server's batcher builds them).
struct Draw {
  std::vector<int64_t> distinct;    // indices into the profile list
  std::vector<int64_t> profile_of;  // per sequence, into `distinct`
};
Draw DrawBatch(int64_t batch, int64_t num_profiles, std::mt19937* rng) {
  std::uniform_int_distribution<int64_t> any(0, std::max<int64_t>(0, num_profiles - 1));
  Draw d;
  std::map<int64_t, int64_t> slot;
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t drawn = any(*rng);
    auto [it, added] = slot.emplace(drawn, int64_t(d.distinct.size()));
    if (added) d.distinct.push_back(drawn);
    d.profile_of.push_back(it->second);
  }
  return d;
}

std::string Scientific(double v) {
  std::ostringstream out;
  out << std::scientific << std::setprecision(2) << v;
  return out.str();
}

// The largest |difference| between the pooled forward (fused kernel where
// this build has one, and the ATen reference) and each sequence run alone
// with its profile composed by itself.
struct CheckResult {
  double fused_vs_alone = 0, aten_vs_alone = 0, fused_vs_aten = 0, graph_vs_alone = 0;
};
CheckResult CheckPooled(const BertModel& model, const ServingBanks& banks, const ProfilePool& pool,
                        const std::vector<ProfileData>& data,
                        const std::vector<std::shared_ptr<const PooledProfile>>& pooled,
                        int64_t seq, CudaGraphForward* graphs, std::mt19937* rng) {
  const int64_t batch = 16;
  const Draw draw = DrawBatch(batch, int64_t(pooled.size()), rng);
  std::vector<const PooledProfile*> distinct;
  for (int64_t j : draw.distinct) distinct.push_back(pooled[size_t(j)].get());
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor ids = at::randint(1000, {batch, seq}, long_opts);
  at::Tensor mask = at::ones({batch, seq}, long_opts);
  for (int64_t i = 0; i < batch; ++i) {  // ragged lengths: padding must not leak
    mask[i].narrow(0, seq - (i * 7) % (seq / 2), (i * 7) % (seq / 2)).zero_();
  }
  at::Tensor types = at::zeros({batch, seq}, long_opts);
  auto fused = ClassifyPooledBatch(model, pool, distinct, draw.profile_of, ids, mask, types);
  auto aten = ClassifyPooledBatch(model, pool, distinct, draw.profile_of, ids, mask, types,
                                  SublayerKernel::kAten);
  auto graph = graphs == nullptr ? fused
                                 : ClassifyPooledBatch(model, pool, distinct, draw.profile_of, ids,
                                                       mask, types, SublayerKernel::kAuto, graphs);
  CheckResult r;
  for (int64_t i = 0; i < batch; ++i) {
    const ProfileData& p = data[size_t(draw.distinct[size_t(draw.profile_of[size_t(i)])])];
    ComposedProfile alone = ComposeProfile(p, model, banks);
    at::Tensor one = ClassifyMixedBatch(model, {&alone}, {0}, ids.narrow(0, i, 1),
                                        mask.narrow(0, i, 1), types.narrow(0, i, 1))[0];
    for (int64_t c = 0; c < one.numel(); ++c) {
      const double want = one[c].item<double>();
      r.fused_vs_alone = std::max(r.fused_vs_alone, std::fabs(fused[size_t(i)][size_t(c)] - want));
      r.aten_vs_alone = std::max(r.aten_vs_alone, std::fabs(aten[size_t(i)][size_t(c)] - want));
      r.graph_vs_alone = std::max(r.graph_vs_alone, std::fabs(graph[size_t(i)][size_t(c)] - want));
      r.fused_vs_aten =
          std::max(r.fused_vs_aten,
                   double(std::fabs(fused[size_t(i)][size_t(c)] - aten[size_t(i)][size_t(c)])));
    }
  }
  return r;
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
                      {"rounds", "3"},
                      {"cached", "1"},
                      {"check", "1"},
                      {"million", "0"}},
                     "backbone_benchmark [--shape=builtin|base] [--model_dir=DIR] "
                     "[--device=auto] [--dtype=auto] [--batches=1,8,64,256] "
                     "[--seq_lens=64,128] [--min_seconds=1.0] [--bottleneck=0] "
                     "[--profiles=1000 (0 = bare only)] [--num_adapters=100] "
                     "[--top_k=50] [--rounds=3] [--cached=1] [--check=1] [--million=0]");
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
  AdapterBankConfig bank;
  bank.num_layers = model.config().num_hidden_layers;
  bank.hidden_size = d;
  bank.bottleneck = bottleneck;
  bank.num_adapters = args.GetInt("num_adapters");
  bank.top_k = args.GetInt("top_k");
  banks.adapters = std::make_shared<AdapterBank>(AdapterBank::Random(bank, device, 3));
  const std::vector<ProfileData> data = RandomProfiles(model, banks, num_profiles);
  ProfilePool pool(model, banks);
  std::vector<std::shared_ptr<const PooledProfile>> pooled;
  for (const ProfileData& p : data) pooled.push_back(pool.Insert(p));
  std::vector<ComposedProfile> cached;
  if (args.GetInt("cached") != 0) {
    for (const ProfileData& p : data) cached.push_back(ComposeProfile(p, model, banks));
  }
  std::mt19937 pick(11);
  // CUDA graphs, per (batch, length) bucket, where this LibTorch has CUDA.
  std::unique_ptr<CudaGraphForward> graphs;
  if (CudaGraphForward::Available() && device.device.is_cuda()) {
    graphs = std::make_unique<CudaGraphForward>(model, CudaGraphForward::Options());
  }

  std::vector<std::pair<std::string, std::string>> context = {
      {"model", model.config().name},
      {"layers", std::to_string(model.config().num_hidden_layers)},
      {"hidden", std::to_string(d)},
      {"bottleneck", std::to_string(bottleneck)},
      {"device", DeviceName(device.device)},
      {"dtype", DtypeName(device.dtype)},
      {"torch", TORCH_VERSION},
      {"threads", std::to_string(at::get_num_threads())},
      {"fused_kernel", HasFusedAdapterKernel() && device.device.is_cuda() ? "yes" : "no (ATen)"},
      {"cuda_graphs", graphs ? "yes" : "no"},
      {"mixed_profiles", std::to_string(num_profiles)}};
  if (!pooled.empty()) {
    context.push_back(
        {"device_bytes_per_resident_profile", std::to_string(pooled[0]->device_bytes())});
    if (!cached.empty()) {
      context.push_back(
          {"device_bytes_per_cached_composed_profile", std::to_string(cached[0].device_bytes())});
    }
  }
  int exit_code = 0;
  if (args.GetInt("check") != 0 && !pooled.empty()) {
    const CheckResult r = CheckPooled(model, banks, pool, data, pooled,
                                      args.GetIntList("seq_lens").back(), graphs.get(), &pick);
    const double tolerance = device.dtype == at::kFloat ? 1e-3 : 3e-2;
    const bool ok = r.fused_vs_alone <= tolerance && r.aten_vs_alone <= tolerance &&
                    r.graph_vs_alone <= tolerance;
    context.push_back({"check_max_abs_fused_vs_alone", Scientific(r.fused_vs_alone)});
    context.push_back({"check_max_abs_aten_vs_alone", Scientific(r.aten_vs_alone)});
    context.push_back({"check_max_abs_fused_vs_aten", Scientific(r.fused_vs_aten)});
    if (graphs) context.push_back({"check_max_abs_graph_vs_alone", Scientific(r.graph_vs_alone)});
    context.push_back({"check", ok ? "pass" : "FAIL"});
    if (!ok) exit_code = 1;
  }
  if (args.GetInt("million") > 0) {
    // Profiles that share a head hold nothing on the device but their mask
    // bits; a few hundred distinct mask sets, inserted over and over.
    auto heads = std::make_shared<SharedHeadSet>(model.fingerprint());
    heads->Add("shared", {"negative", "positive"}, at::randn({2, d}) * 0.02, at::zeros({2}));
    heads->Place(device);
    ServingBanks with_head = banks;
    with_head.heads = heads;
    const std::vector<ProfileData> masks =
        RandomProfiles(model, with_head, 256, &heads->heads()[0]);
    Synchronize(device);
    const int64_t before = DeviceMemoryAllocatedBytes(device.device);
    const double start = NowSeconds();
    ProfilePool big(model, with_head);
    std::vector<std::shared_ptr<const PooledProfile>> held;
    const int64_t n = args.GetInt("million");
    held.reserve(size_t(n));
    for (int64_t i = 0; i < n; ++i) held.push_back(big.Insert(masks[size_t(i % 256)]));
    Synchronize(device);
    const double seconds = NowSeconds() - start;
    context.push_back({"million_profiles", std::to_string(n)});
    context.push_back({"million_pool_device_bytes", std::to_string(big.device_bytes())});
    context.push_back({"million_device_allocated_bytes",
                       std::to_string(DeviceMemoryAllocatedBytes(device.device) - before)});
    context.push_back({"million_bytes_per_profile", std::to_string(held[0]->device_bytes())});
    context.push_back({"million_inserts_per_s", std::to_string(double(n) / seconds)});
  }

  std::vector<BenchmarkRow> rows;
  for (int64_t seq : args.GetIntList("seq_lens")) {
    for (int64_t batch : args.GetIntList("batches")) {
      const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device.device);
      at::Tensor ids = at::randint(1000, {batch, seq}, long_opts);
      at::Tensor mask = at::ones({batch, seq}, long_opts);
      at::Tensor types = at::zeros({batch, seq}, long_opts);
      const double min_seconds = args.GetDouble("min_seconds");
      // A new draw of profiles for every batch, as a mixed stream brings.
      auto run_bare = [&] { model.Forward(ids, mask, types); };
      // The serving path through `kernel` (and `with_graphs`).
      auto pooled_path = [&](SublayerKernel kernel, CudaGraphForward* with_graphs) {
        return [&, kernel, with_graphs] {
          const Draw draw = DrawBatch(batch, num_profiles, &pick);
          std::vector<const PooledProfile*> distinct;
          for (int64_t j : draw.distinct) distinct.push_back(pooled[size_t(j)].get());
          ClassifyPooledBatch(model, pool, distinct, draw.profile_of, ids, mask, types, kernel,
                              with_graphs);
        };
      };
      auto run_pooled = pooled_path(SublayerKernel::kAuto, nullptr);
      auto run_cached = [&] {
        const Draw draw = DrawBatch(batch, num_profiles, &pick);
        std::vector<const ComposedProfile*> distinct;
        for (int64_t j : draw.distinct) distinct.push_back(&cached[size_t(j)]);
        ClassifyMixedBatch(model, distinct, draw.profile_of, ids, mask, types);
      };
      // On CUDA with the fused kernel, the ATen reference is measured too.
      const bool both_kernels = HasFusedAdapterKernel() && device.device.is_cuda();
      auto run_bare_aten = [&] {
        model.Forward(ids, mask, types, BatchAdapters(), SublayerKernel::kAten);
      };
      auto run_pooled_aten = pooled_path(SublayerKernel::kAten, nullptr);
      struct Variant {
        std::string name;
        std::function<void()> run;
        double best = 0;
      };
      std::vector<Variant> variants = {{"bare", run_bare}};
      if (!pooled.empty()) variants.push_back({"pooled", run_pooled});
      if (!cached.empty()) variants.push_back({"cached", run_cached});
      if (both_kernels) {
        variants.push_back({"bare_aten", run_bare_aten});
        if (!pooled.empty()) variants.push_back({"pooled_aten", run_pooled_aten});
      }
      auto run_bare_graph = [&] {
        if (!graphs->Pooled(ids, mask, types, BatchAdapters()).defined()) run_bare();
      };
      auto run_pooled_graph = pooled_path(SublayerKernel::kAuto, graphs.get());
      if (graphs) {
        variants.push_back({"bare_graph", run_bare_graph});
        if (!pooled.empty()) variants.push_back({"pooled_graph", run_pooled_graph});
      }
      // The variants take turns for --rounds rounds, each round starting
      // with the next variant, and each keeps its best round, so that load
      // drifting on a shared machine and warm-up order hit all alike.
      for (int64_t round = 0; round < args.GetInt("rounds"); ++round) {
        for (size_t i = 0; i < variants.size(); ++i) {
          Variant& v = variants[(size_t(round) + i) % variants.size()];
          v.best = std::max(v.best, CallsPerSecond(device, min_seconds, v.run));
        }
      }
      BenchmarkRow row;
      row.Add("seq_len", seq).Add("batch", batch);
      auto best_of = [&](const std::string& name) {
        for (const Variant& v : variants) {
          if (v.name == name) return v.best;
        }
        return 0.0;
      };
      const double bare = best_of("bare");
      for (const Variant& v : variants) {
        row.Add(v.name + "_seq_per_s", v.best * double(batch), 1);
        // Each adapter path against the bare forward on the same kernel.
        const double base = v.name == "pooled_aten"    ? best_of("bare_aten")
                            : v.name == "pooled_graph" ? best_of("bare_graph")
                                                       : bare;
        if (v.name.rfind("bare", 0) != 0) row.Add(v.name + "_ratio", v.best / base, 3);
      }
      if (both_kernels) row.Add("bare_fused_vs_aten", bare / best_of("bare_aten"), 3);
      row.Add("bare_ms_per_batch", 1000.0 / bare, 2);
      rows.push_back(row);
    }
  }
  PrintBenchmarkReport("backbone_forward", context, rows);
  return exit_code;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  return maskserve::RunProgram("backbone_benchmark", maskserve::Run, argc, argv);
}
