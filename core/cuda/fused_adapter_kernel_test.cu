// Tests of LaunchFusedAdapterSublayer against a double-precision host reference. The GPU tests
// skip without a CUDA device; the argument checks run everywhere (validation precedes any CUDA
// call).

#include "core/cuda/fused_adapter_kernel.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace maskserve::cuda {
namespace {

struct Case {
  int64_t batch = 1;
  int64_t seq_len = 1;
  int64_t hidden = 64;
  int64_t bottleneck = 8;
  int64_t num_profiles = 1;
  std::vector<int32_t> profile_of;  // [batch]
  bool adapters_enabled = true;
  bool mid_norm = false;
  std::vector<uint8_t> norm_enabled;  // [num_profiles], or empty for a null pointer
  float eps = 1e-12f;
};

// Every tensor of a case, already rounded to the element type under test.
struct Tensors {
  std::vector<float> h, residual, ln_weight, ln_bias;
  std::vector<float> down, down_bias, up, up_bias, norm_weight, norm_bias;
};

float RoundTo(float v, ElementType type) {
  return type == ElementType::kFloat16 ? __half2float(__float2half(v)) : v;
}

std::vector<float> Random(size_t n, float mean, float stddev, ElementType type, std::mt19937& rng) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = RoundTo(dist(rng), type);
  return v;
}

Tensors MakeTensors(const Case& c, ElementType type, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t rows = c.batch * c.seq_len, d = c.hidden, b = c.bottleneck, p = c.num_profiles;
  Tensors t;
  t.h = Random(rows * d, 0.f, 1.f, type, rng);
  t.residual = Random(rows * d, 0.5f, 1.f, type, rng);  // a nonzero mean, as real activations
  t.ln_weight = Random(d, 1.f, 0.2f, type, rng);
  t.ln_bias = Random(d, 0.f, 0.2f, type, rng);
  t.down = Random(p * d * b, 0.f, 1.f / std::sqrt(static_cast<float>(d)), type, rng);
  t.down_bias = Random(p * b, 0.f, 0.2f, type, rng);
  t.up = Random(p * b * d, 0.f, 1.f / std::sqrt(static_cast<float>(b)), type, rng);
  t.up_bias = Random(p * d, 0.f, 0.2f, type, rng);
  t.norm_weight = Random(p * b, 1.f, 0.2f, type, rng);
  t.norm_bias = Random(p * b, 0.f, 0.2f, type, rng);
  return t;
}

// out = (v - mean) / sqrt(var + eps) * w + b (w, b null: no affine).
void LayerNorm(const double* v, size_t n, double eps, const float* w, const float* b, double* out) {
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += v[i];
  mean /= n;
  double var = 0;
  for (size_t i = 0; i < n; ++i) var += (v[i] - mean) * (v[i] - mean);
  var /= n;
  const double rstd = 1.0 / std::sqrt(var + eps);
  for (size_t i = 0; i < n; ++i) {
    out[i] = (v[i] - mean) * rstd;
    if (w != nullptr) out[i] = out[i] * w[i] + b[i];
  }
}

// The math of the header comment, in double.
std::vector<double> Reference(const Case& c, const Tensors& t) {
  const size_t d = c.hidden, b = c.bottleneck;
  std::vector<double> out(c.batch * c.seq_len * d);
  std::vector<double> s(d), x(d), z(b), a(d);
  for (int64_t row = 0; row < c.batch * c.seq_len; ++row) {
    for (size_t i = 0; i < d; ++i) {
      s[i] = static_cast<double>(t.h[row * d + i]) + t.residual[row * d + i];
    }
    double* o = &out[row * d];
    const int32_t id = c.adapters_enabled ? c.profile_of[row / c.seq_len] : -1;
    if (id < 0 || id >= c.num_profiles) {
      LayerNorm(s.data(), d, c.eps, t.ln_weight.data(), t.ln_bias.data(), o);
      continue;
    }
    const size_t p = id;
    LayerNorm(s.data(), d, c.eps, t.ln_weight.data(), t.ln_bias.data(), x.data());
    for (size_t k = 0; k < b; ++k) {
      double acc = t.down_bias[p * b + k];
      for (size_t i = 0; i < d; ++i) acc += x[i] * t.down[(p * d + i) * b + k];
      z[k] = acc;
    }
    if (c.mid_norm && (c.norm_enabled.empty() || c.norm_enabled[p] != 0)) {
      LayerNorm(z.data(), b, 1e-5, &t.norm_weight[p * b], &t.norm_bias[p * b], z.data());
    }
    for (double& v : z) v = std::max(v, 0.0);
    for (size_t j = 0; j < d; ++j) {
      double acc = t.up_bias[p * d + j];
      for (size_t k = 0; k < b; ++k) acc += z[k] * t.up[(p * b + k) * d + j];
      a[j] = acc + s[j];
    }
    LayerNorm(a.data(), d, c.eps, t.ln_weight.data(), t.ln_bias.data(), o);
  }
  return out;
}

// A device allocation; null for an empty size.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) {
    if (bytes > 0) {
      EXPECT_EQ(cudaMalloc(&ptr_, bytes), cudaSuccess);
    }
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

template <typename T>
T FromFloat(float v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half(v);
  } else {
    return v;
  }
}

template <typename T>
float ToFloat(T v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __half2float(v);
  } else {
    return v;
  }
}

template <typename T>
DeviceBuffer Upload(const std::vector<float>& values) {
  std::vector<T> host(values.size());
  for (size_t i = 0; i < values.size(); ++i) host[i] = FromFloat<T>(values[i]);
  DeviceBuffer buffer(host.size() * sizeof(T));
  if (!host.empty()) {
    EXPECT_EQ(
        cudaMemcpy(buffer.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
        cudaSuccess);
  }
  return buffer;
}

template <typename U>
DeviceBuffer UploadRaw(const std::vector<U>& values) {
  DeviceBuffer buffer(values.size() * sizeof(U));
  if (!values.empty()) {
    EXPECT_EQ(
        cudaMemcpy(buffer.get(), values.data(), values.size() * sizeof(U), cudaMemcpyHostToDevice),
        cudaSuccess);
  }
  return buffer;
}

// Runs the kernel on `t` and returns its output as floats.
template <typename T>
std::vector<float> RunKernel(const Case& c, const Tensors& t, bool pass_adapter_pointers) {
  const size_t out_count = c.batch * c.seq_len * c.hidden;
  DeviceBuffer h = Upload<T>(t.h), residual = Upload<T>(t.residual);
  DeviceBuffer ln_weight = Upload<T>(t.ln_weight), ln_bias = Upload<T>(t.ln_bias);
  DeviceBuffer down = Upload<T>(t.down), down_bias = Upload<T>(t.down_bias);
  DeviceBuffer up = Upload<T>(t.up), up_bias = Upload<T>(t.up_bias);
  DeviceBuffer norm_weight = Upload<T>(t.norm_weight), norm_bias = Upload<T>(t.norm_bias);
  DeviceBuffer profile_of = UploadRaw(c.profile_of);
  DeviceBuffer norm_enabled = UploadRaw(c.norm_enabled);
  DeviceBuffer out(out_count * sizeof(T));
  // All-ones bytes are NaN in both types: a row the kernel forgets shows up.
  EXPECT_EQ(cudaMemset(out.get(), 0xff, out_count * sizeof(T)), cudaSuccess);

  FusedAdapterArgs args;
  args.type = std::is_same_v<T, __half> ? ElementType::kFloat16 : ElementType::kFloat32;
  args.batch = c.batch;
  args.seq_len = c.seq_len;
  args.hidden = c.hidden;
  args.bottleneck = c.bottleneck;
  args.eps = c.eps;
  args.h = h.get();
  args.residual = residual.get();
  args.ln_weight = ln_weight.get();
  args.ln_bias = ln_bias.get();
  args.adapters_enabled = c.adapters_enabled;
  if (pass_adapter_pointers) {
    args.num_profiles = c.num_profiles;
    args.profile_of = static_cast<const int32_t*>(profile_of.get());
    args.down = down.get();
    args.down_bias = down_bias.get();
    args.up = up.get();
    args.up_bias = up_bias.get();
    if (c.mid_norm) {
      args.norm_weight = norm_weight.get();
      args.norm_bias = norm_bias.get();
      args.norm_enabled = static_cast<const uint8_t*>(norm_enabled.get());
    }
  }
  args.out = out.get();

  cudaStream_t stream = nullptr;
  EXPECT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  EXPECT_EQ(LaunchFusedAdapterSublayer(args, stream), "");
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  cudaStreamDestroy(stream);

  std::vector<T> host(out_count);
  EXPECT_EQ(cudaMemcpy(host.data(), out.get(), out_count * sizeof(T), cudaMemcpyDeviceToHost),
            cudaSuccess);
  std::vector<float> result(out_count);
  for (size_t i = 0; i < out_count; ++i) result[i] = ToFloat(host[i]);
  return result;
}

// |kernel - reference| <= atol + rtol * |reference| everywhere; reports the first few misses.
void ExpectClose(const std::vector<float>& actual, const std::vector<double>& expected,
                 int64_t hidden, double atol, double rtol, const char* label) {
  ASSERT_EQ(actual.size(), expected.size());
  int misses = 0;
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double error = std::fabs(actual[i] - expected[i]);
    const bool ok = error <= atol + rtol * std::fabs(expected[i]);  // false for NaN
    if (!ok && ++misses <= 5) {
      ADD_FAILURE() << label << ": row " << i / hidden << " col " << i % hidden << ": kernel "
                    << actual[i] << " vs reference " << expected[i];
    }
    if (std::isfinite(error)) worst = std::max(worst, error);
  }
  EXPECT_EQ(misses, 0) << label << ": worst finite error " << worst;
}

// Runs `c` in fp32 and fp16 and compares each with the reference.
void CheckCase(const Case& c, bool pass_adapter_pointers = true) {
  {
    const Tensors t = MakeTensors(c, ElementType::kFloat32, 1234);
    ExpectClose(RunKernel<float>(c, t, pass_adapter_pointers), Reference(c, t), c.hidden, 1e-4,
                1e-4, "fp32");
  }
  {
    const Tensors t = MakeTensors(c, ElementType::kFloat16, 1234);
    ExpectClose(RunKernel<__half>(c, t, pass_adapter_pointers), Reference(c, t), c.hidden, 2e-2, 0,
                "fp16");
  }
}

TEST(FusedAdapterKernelTest, MixedProfilesWithSelectiveMidNorm) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 5;
  c.seq_len = 37;  // two full tiles and a partial one per sequence
  c.hidden = 384;
  c.bottleneck = 24;
  c.num_profiles = 3;
  c.profile_of = {0, -1, 2, 1, 0};
  c.mid_norm = true;
  c.norm_enabled = {1, 0, 1};
  CheckCase(c);
}

TEST(FusedAdapterKernelTest, BatchOfOneLargerHiddenNoMidNorm) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 1;
  c.seq_len = 50;
  c.hidden = 768;
  c.bottleneck = 48;  // over 48 KB of shared memory: the opt-in path
  c.num_profiles = 2;
  c.profile_of = {1};
  CheckCase(c);
}

TEST(FusedAdapterKernelTest, MidNormForAllAndTinySizes) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 5;
  c.seq_len = 5;  // shorter than a tile
  c.hidden = 64;
  c.bottleneck = 7;
  c.num_profiles = 4;
  c.profile_of = {3, -1, 0, 2, 1};
  c.mid_norm = true;  // norm_enabled null: everyone
  CheckCase(c);
}

TEST(FusedAdapterKernelTest, BareSublayerWithNullAdapterPointers) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 5;
  c.seq_len = 37;
  c.hidden = 384;
  c.bottleneck = 24;
  c.adapters_enabled = false;
  c.profile_of = {0, 0, 0, 0, 0};  // ignored
  CheckCase(c, /*pass_adapter_pointers=*/false);
}

TEST(FusedAdapterKernelTest, DisabledFlagIgnoresAdapterPointers) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 2;
  c.seq_len = 20;
  c.hidden = 384;
  c.bottleneck = 24;
  c.num_profiles = 1;
  c.profile_of = {0, 0};
  c.mid_norm = true;
  c.adapters_enabled = false;
  CheckCase(c);
}

TEST(FusedAdapterKernelTest, LargestSizesAndSingleBottleneckUnit) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 2;
  c.seq_len = 17;
  c.hidden = 1024;
  c.bottleneck = 256;
  c.num_profiles = 2;
  c.profile_of = {1, 0};
  c.mid_norm = true;
  c.norm_enabled = {0, 1};
  CheckCase(c);
  c.bottleneck = 1;
  c.hidden = 8;
  c.seq_len = 33;
  CheckCase(c);
}

TEST(FusedAdapterKernelTest, LongSequencesAndOutOfRangeProfileIsStock) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 3;
  c.seq_len = 128;
  c.hidden = 768;
  c.bottleneck = 48;
  c.num_profiles = 2;
  c.profile_of = {1, 7, 0};  // 7 >= num_profiles: treated as -1 (the reference does the same)
  c.mid_norm = true;
  CheckCase(c);
}

TEST(FusedAdapterKernelTest, ProfileMinusOneMatchesBareExactly) {
  if (!CudaDeviceAvailable()) GTEST_SKIP() << "no CUDA device";
  Case c;
  c.batch = 2;
  c.seq_len = 19;
  c.hidden = 384;
  c.bottleneck = 24;
  c.num_profiles = 1;
  c.profile_of = {-1, -1};
  const Tensors t = MakeTensors(c, ElementType::kFloat32, 99);
  const std::vector<float> with_adapters = RunKernel<float>(c, t, true);
  c.adapters_enabled = false;
  const std::vector<float> bare = RunKernel<float>(c, t, false);
  ASSERT_EQ(with_adapters.size(), bare.size());
  EXPECT_EQ(std::memcmp(with_adapters.data(), bare.data(), bare.size() * sizeof(float)), 0);
}

// No device needed: every rejected call returns before touching CUDA.
TEST(FusedAdapterKernelTest, ArgumentChecksNameTheArgument) {
  static float fake[16];  // never dereferenced: every call below fails validation
  FusedAdapterArgs good;
  good.type = ElementType::kFloat16;
  good.batch = 2;
  good.seq_len = 3;
  good.hidden = 64;
  good.bottleneck = 8;
  good.h = fake;
  good.residual = fake + 1;
  good.ln_weight = fake + 2;
  good.ln_bias = fake + 3;
  good.out = fake + 4;
  good.adapters_enabled = true;
  good.num_profiles = 2;
  good.profile_of = reinterpret_cast<const int32_t*>(fake + 5);
  good.down = fake + 6;
  good.down_bias = fake + 7;
  good.up = fake + 8;
  good.up_bias = fake + 9;

  auto expect_names = [](const FusedAdapterArgs& args, const std::string& name) {
    const std::string message = LaunchFusedAdapterSublayer(args, nullptr);
    EXPECT_NE(message.find("`" + name + "`"), std::string::npos)
        << "message for " << name << ": '" << message << "'";
  };
  for (int64_t hidden : {0, -8, 100, 2048}) {
    FusedAdapterArgs a = good;
    a.hidden = hidden;
    expect_names(a, "hidden");
  }
  for (int64_t bottleneck : {0, 257}) {
    FusedAdapterArgs a = good;
    a.bottleneck = bottleneck;
    expect_names(a, "bottleneck");
  }
  {
    FusedAdapterArgs a = good;
    a.batch = -1;
    expect_names(a, "batch");
  }
  {
    FusedAdapterArgs a = good;
    a.seq_len = -1;
    expect_names(a, "seq_len");
  }
  {
    FusedAdapterArgs a = good;
    a.eps = std::nanf("");
    expect_names(a, "eps");
  }
  {
    FusedAdapterArgs a = good;
    a.num_profiles = -1;
    expect_names(a, "num_profiles");
  }
  using PointerField = const void* FusedAdapterArgs::*;
  const std::pair<PointerField, const char*> required[] = {
      {&FusedAdapterArgs::h, "h"},
      {&FusedAdapterArgs::residual, "residual"},
      {&FusedAdapterArgs::ln_weight, "ln_weight"},
      {&FusedAdapterArgs::ln_bias, "ln_bias"},
      {&FusedAdapterArgs::down, "down"},
      {&FusedAdapterArgs::down_bias, "down_bias"},
      {&FusedAdapterArgs::up, "up"},
      {&FusedAdapterArgs::up_bias, "up_bias"}};
  for (const auto& [member, name] : required) {
    FusedAdapterArgs a = good;
    a.*member = nullptr;
    expect_names(a, name);
  }
  {
    FusedAdapterArgs a = good;
    a.out = nullptr;
    expect_names(a, "out");
  }
  {
    FusedAdapterArgs a = good;
    a.profile_of = nullptr;
    expect_names(a, "profile_of");
  }
  {
    FusedAdapterArgs a = good;
    a.out = const_cast<void*>(a.h);
    expect_names(a, "out");
  }
  {
    FusedAdapterArgs a = good;
    a.norm_weight = fake + 10;
    expect_names(a, "norm_bias");
  }
  {
    // Adapters off: the adapter fields are not looked at, but the sublayer's still are.
    FusedAdapterArgs a = good;
    a.adapters_enabled = false;
    a.bottleneck = 0;
    a.ln_bias = nullptr;
    expect_names(a, "ln_bias");
  }
  {
    // An empty batch is a no-op that needs no CUDA call.
    FusedAdapterArgs a = good;
    a.batch = 0;
    EXPECT_EQ(LaunchFusedAdapterSublayer(a, nullptr), "");
  }
}

}  // namespace
}  // namespace maskserve::cuda
