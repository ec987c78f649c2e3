// Backbone forward throughput (sequences/s) for several batch sizes and
// sequence lengths, with no adapters and with a per-sequence adapter in every
// layer. CPU here; CUDA when run on a GPU host (--device=cuda).
//
//   backbone_benchmark [--shape=builtin|base] [--model_dir=DIR] [--device=auto]
//                      [--dtype=auto] [--batches=1,8,32,128] [--seq_lens=64,128]
//                      [--min_seconds=1.0] [--bottleneck=0 (d/16)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <c10/core/InferenceMode.h>

#include <iostream>

#include "core/backbone.h"
#include "core/benchmark_util.h"
#include "core/error.h"

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

int Run(int argc, char** argv) {
  BenchmarkArgs args(argc, argv,
                     {{"shape", "builtin"}, {"model_dir", ""}, {"device", "auto"},
                      {"dtype", "auto"}, {"batches", "1,8,32,128"}, {"seq_lens", "64,128"},
                      {"min_seconds", "1.0"}, {"bottleneck", "0"}},
                     "backbone_benchmark [--shape=builtin|base] [--model_dir=DIR] "
                     "[--device=auto] [--dtype=auto] [--batches=1,8,32,128] "
                     "[--seq_lens=64,128] [--min_seconds=1.0] [--bottleneck=0]");
  const DeviceSpec device = ResolveDevice(args.Get("device"), args.Get("dtype"));
  BertModel model = !args.Get("model_dir").empty()
                        ? *LoadHfBackbone(args.Get("model_dir"), device).model
                    : args.Get("shape") == "base"
                        ? BertModel::Random(BaseShape(), device, 1)
                        : *BuiltinBackbone(device).model;
  const int64_t d = model.config().hidden_size;
  const int64_t bottleneck = args.GetInt("bottleneck") > 0 ? args.GetInt("bottleneck") : d / 16;
  c10::InferenceMode inference;

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
      const double bare = CallsPerSecond(device, min_seconds, [&] {
        model.Forward(ids, mask, types);
      });
      const double adapted = CallsPerSecond(device, min_seconds, [&] {
        model.Forward(ids, mask, types, &adapters);
      });
      rows.push_back(BenchmarkRow()
                         .Add("seq_len", seq)
                         .Add("batch", batch)
                         .Add("bare_seq_per_s", bare * double(batch), 1)
                         .Add("adapter_seq_per_s", adapted * double(batch), 1)
                         .Add("adapter_ratio", adapted / bare, 3)
                         .Add("bare_ms_per_batch", 1000.0 / bare, 2));
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
                        {"threads", std::to_string(at::get_num_threads())}},
                       rows);
  return 0;
}

}  // namespace
}  // namespace maskserve

int main(int argc, char** argv) {
  try {
    return maskserve::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "backbone_benchmark: " << e.what() << "\n";
    return 1;
  }
}
