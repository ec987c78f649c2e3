// The fused adapter sublayer (see the header for the contract).
//
// Design: one block of kThreads threads handles a tile of up to kTileRows consecutive rows of ONE
// sequence (grid = batch * ceil(seq_len / kTileRows)), so the profile is block-uniform.
//   stock block (adapters off or profile -1): one warp per row, LN(h + residual) -> out; no
//     shared memory is touched.
//   adapter block, phases separated by __syncthreads():
//     1. one warp per row: xs[r] = LN(h + residual) in fp32 shared memory (rows past the end of
//        the sequence are zero-filled so later phases read defined values);
//     2. down projection, split over hidden: thread (s, k) with k = tid % b, s = tid / b sums
//        xs[r][i] * down[i][k] over its slice of i for all rows r at once, so each weight element
//        is read once per tile; the partial sums are added in shared memory (fixed order);
//     3. one warp per row: optional mid LayerNorm, then relu, on z in shared memory;
//     4. up projection: thread j computes a[r][j] for all rows, again reading each weight once
//        per tile, and stores a + h + residual over xs;
//     5. one warp per row: out = LN(xs[r]).

#include "core/cuda/fused_adapter_kernel.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

namespace maskserve::cuda {
namespace {

constexpr int kTileRows = 16;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxHidden = 1024;
constexpr int kMaxBottleneck = 256;
constexpr float kMidNormEps = 1e-5f;
constexpr size_t kDefaultSharedBytes = 48 * 1024;
// Phase 2 needs at least one thread per bottleneck column.
static_assert(kMaxBottleneck <= kThreads, "one down-projection column per thread at least");
static_assert(kMaxHidden % 32 == 0 && kMaxBottleneck % 32 == 0, "per-lane register arrays");

__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float v) {
  return __float2half_rn(v);
}

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// LayerNorm without affine of one row of n <= 32 * kPerLane values, by one whole warp (all 32
// lanes must call it): reads column c with load(c), then calls store(c, normalised value). The
// variance is two-pass over registers. Every load happens before any store and a lane stores
// only the columns it loaded, so load and store may address the same memory.
template <int kPerLane, typename Load, typename Store>
__device__ __forceinline__ void WarpNormalize(int n, float eps, Load load, Store store) {
  const int lane = threadIdx.x & 31;
  float v[kPerLane];
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int c = i * 32 + lane;
    v[i] = c < n ? load(c) : 0.f;
    sum += v[i];
  }
  const float mean = WarpSum(sum) / static_cast<float>(n);
  float squares = 0.f;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int c = i * 32 + lane;
    const float centred = c < n ? v[i] - mean : 0.f;
    squares += centred * centred;
  }
  const float rstd = rsqrtf(WarpSum(squares) / static_cast<float>(n) + eps);
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int c = i * 32 + lane;
    if (c < n) store(c, (v[i] - mean) * rstd);
  }
}

template <typename T>
struct Params {
  int seq_len;
  int tiles_per_seq;
  int hidden;
  int bottleneck;
  int num_profiles;  // 0 when the adapters are off
  float eps;
  const T* h;
  const T* residual;
  const T* ln_weight;
  const T* ln_bias;
  const int32_t* profile_of;
  const T* down;
  const T* down_bias;
  const T* up;
  const T* up_bias;
  const T* norm_weight;
  const T* norm_bias;
  const uint8_t* norm_enabled;
  T* out;
};

// Shared memory of an adapter block, in floats: xs [kTileRows][d], partial
// [kThreads / b][kTileRows][b], z [kTileRows][b]. The kernel carves it the same way.
__host__ __device__ inline size_t SharedFloats(int hidden, int bottleneck) {
  const size_t splits = kThreads / bottleneck;
  return static_cast<size_t>(kTileRows) * hidden + splits * kTileRows * bottleneck +
         static_cast<size_t>(kTileRows) * bottleneck;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) FusedAdapterKernel(const Params<T> p) {
  const int seq = static_cast<int>(blockIdx.x) / p.tiles_per_seq;
  const int first = (static_cast<int>(blockIdx.x) % p.tiles_per_seq) * kTileRows;
  const int nrows = min(kTileRows, p.seq_len - first);
  const int64_t row0 = static_cast<int64_t>(seq) * p.seq_len + first;
  const int d = p.hidden;
  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;

  const T* const h = p.h;
  const T* const residual = p.residual;
  const T* const ln_weight = p.ln_weight;
  const T* const ln_bias = p.ln_bias;
  T* const out = p.out;
  const float eps = p.eps;

  int profile = -1;
  if (p.num_profiles > 0) {
    const int id = p.profile_of[seq];
    if (id >= 0 && id < p.num_profiles) profile = id;
  }

  if (profile < 0) {  // Block-uniform: the stock sublayer, no shared memory, no barriers.
    for (int r = warp; r < nrows; r += kWarps) {
      const int64_t base = (row0 + r) * d;
      WarpNormalize<kMaxHidden / 32>(
          d, eps, [=](int c) { return ToFloat(h[base + c]) + ToFloat(residual[base + c]); },
          [=](int c, float v) {
            out[base + c] = FromFloat<T>(v * ToFloat(ln_weight[c]) + ToFloat(ln_bias[c]));
          });
    }
    return;
  }

  const int b = p.bottleneck;
  const int splits = kThreads / b;  // >= 1 since b <= kThreads
  extern __shared__ float shared[];
  float* const xs = shared;                           // [kTileRows][d]
  float* const partial = xs + kTileRows * d;          // [splits][kTileRows][b]
  float* const z = partial + splits * kTileRows * b;  // [kTileRows][b]

  // Phase 1: xs = LN(h + residual).
  for (int r = warp; r < kTileRows; r += kWarps) {
    float* const xr = xs + r * d;
    if (r < nrows) {
      const int64_t base = (row0 + r) * d;
      WarpNormalize<kMaxHidden / 32>(
          d, eps, [=](int c) { return ToFloat(h[base + c]) + ToFloat(residual[base + c]); },
          [=](int c, float v) { xr[c] = v * ToFloat(ln_weight[c]) + ToFloat(ln_bias[c]); });
    } else {
      for (int c = lane; c < d; c += 32) xr[c] = 0.f;
    }
  }
  __syncthreads();

  // Phase 2: partial[s][r][k] = sum over i in slice s of xs[r][i] * down[i][k].
  {
    const T* const down = p.down + static_cast<int64_t>(profile) * d * b;
    if (tid < splits * b) {
      const int k = tid % b;
      const int s = tid / b;
      const int chunk = (d + splits - 1) / splits;
      const int i_begin = min(d, s * chunk);
      const int i_end = min(d, i_begin + chunk);
      float acc[kTileRows];
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) acc[r] = 0.f;
      for (int i = i_begin; i < i_end; ++i) {
        const float w = ToFloat(down[static_cast<int64_t>(i) * b + k]);
#pragma unroll
        for (int r = 0; r < kTileRows; ++r) acc[r] += xs[r * d + i] * w;
      }
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) partial[(s * kTileRows + r) * b + k] = acc[r];
    }
  }
  __syncthreads();

  // z[r][k] = down_bias[k] + the partial sums, added in slice order.
  {
    const T* const down_bias = p.down_bias + static_cast<int64_t>(profile) * b;
    for (int idx = tid; idx < kTileRows * b; idx += kThreads) {
      const int r = idx / b;
      const int k = idx % b;
      float sum = ToFloat(down_bias[k]);
      for (int s = 0; s < splits; ++s) sum += partial[(s * kTileRows + r) * b + k];
      z[idx] = sum;
    }
  }
  __syncthreads();

  // Phase 3: optional mid LayerNorm, then relu.
  const bool mid_norm =
      p.norm_weight != nullptr && (p.norm_enabled == nullptr || p.norm_enabled[profile] != 0);
  if (mid_norm) {
    const T* const norm_weight = p.norm_weight + static_cast<int64_t>(profile) * b;
    const T* const norm_bias = p.norm_bias + static_cast<int64_t>(profile) * b;
    for (int r = warp; r < nrows; r += kWarps) {
      float* const zr = z + r * b;
      WarpNormalize<kMaxBottleneck / 32>(
          b, kMidNormEps, [=](int c) { return zr[c]; },
          [=](int c, float v) {
            zr[c] = fmaxf(v * ToFloat(norm_weight[c]) + ToFloat(norm_bias[c]), 0.f);
          });
    }
  } else {
    for (int idx = tid; idx < kTileRows * b; idx += kThreads) z[idx] = fmaxf(z[idx], 0.f);
  }
  __syncthreads();

  // Phase 4: xs[r][j] = (z[r] @ up)[j] + up_bias[j] + h + residual. xs is free again: its last
  // reads were in phase 2.
  {
    const T* const up = p.up + static_cast<int64_t>(profile) * b * d;
    const T* const up_bias = p.up_bias + static_cast<int64_t>(profile) * d;
    for (int j = tid; j < d; j += kThreads) {
      float acc[kTileRows];
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) acc[r] = 0.f;
      for (int k = 0; k < b; ++k) {
        const float w = ToFloat(up[static_cast<int64_t>(k) * d + j]);
#pragma unroll
        for (int r = 0; r < kTileRows; ++r) acc[r] += z[r * b + k] * w;
      }
      const float bias = ToFloat(up_bias[j]);
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) {
        if (r < nrows) {
          const int64_t at = (row0 + r) * d + j;
          xs[r * d + j] = acc[r] + bias + (ToFloat(h[at]) + ToFloat(residual[at]));
        }
      }
    }
  }
  __syncthreads();

  // Phase 5: out = LN(a + s).
  for (int r = warp; r < nrows; r += kWarps) {
    const float* const xr = xs + r * d;
    const int64_t base = (row0 + r) * d;
    WarpNormalize<kMaxHidden / 32>(
        d, eps, [=](int c) { return xr[c]; },
        [=](int c, float v) {
          out[base + c] = FromFloat<T>(v * ToFloat(ln_weight[c]) + ToFloat(ln_bias[c]));
        });
  }
}

std::string Bad(const std::string& what) { return "LaunchFusedAdapterSublayer: " + what; }

std::string CudaFailure(const char* call, cudaError_t error) {
  return std::string("LaunchFusedAdapterSublayer: ") + call +
         " failed: " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error);
}

// Checks everything that can be checked without CUDA. Sets *use_adapters.
std::string Validate(const FusedAdapterArgs& a, bool* use_adapters) {
  if (a.type != ElementType::kFloat32 && a.type != ElementType::kFloat16) {
    return Bad("`type` is not a known ElementType");
  }
  if (a.batch < 0 || a.batch > INT_MAX) {
    return Bad("`batch` must be in [0, INT_MAX], got " + std::to_string(a.batch));
  }
  if (a.seq_len < 0 || a.seq_len > INT_MAX) {
    return Bad("`seq_len` must be in [0, INT_MAX], got " + std::to_string(a.seq_len));
  }
  if (a.hidden <= 0 || a.hidden % 8 != 0 || a.hidden > kMaxHidden) {
    return Bad("`hidden` must be a positive multiple of 8 up to " + std::to_string(kMaxHidden) +
               ", got " + std::to_string(a.hidden));
  }
  if (!std::isfinite(a.eps) || a.eps < 0.f) {
    return Bad("`eps` must be finite and >= 0, got " + std::to_string(a.eps));
  }
  if (a.adapters_enabled && (a.num_profiles < 0 || a.num_profiles > INT_MAX)) {
    return Bad("`num_profiles` must be in [0, INT_MAX], got " + std::to_string(a.num_profiles));
  }
  *use_adapters = a.adapters_enabled && a.num_profiles > 0;
  if (*use_adapters && (a.bottleneck < 1 || a.bottleneck > kMaxBottleneck)) {
    return Bad("`bottleneck` must be in [1, " + std::to_string(kMaxBottleneck) + "], got " +
               std::to_string(a.bottleneck));
  }
  const int64_t tiles_per_seq = (a.seq_len + kTileRows - 1) / kTileRows;
  if (tiles_per_seq > 0 && a.batch > INT_MAX / tiles_per_seq) {
    return Bad("`batch` * ceil(`seq_len` / " + std::to_string(kTileRows) +
               ") exceeds the grid limit");
  }
  if (a.batch == 0 || a.seq_len == 0) return "";  // Nothing to read or write.

  const std::pair<const void*, const char*> required[] = {{a.h, "`h`"},
                                                          {a.residual, "`residual`"},
                                                          {a.ln_weight, "`ln_weight`"},
                                                          {a.ln_bias, "`ln_bias`"},
                                                          {a.out, "`out`"}};
  for (const auto& [pointer, name] : required) {
    if (pointer == nullptr) return Bad(std::string(name) + " is null");
  }
  if (a.out == a.h || a.out == a.residual) {
    return Bad("`out` must not alias `h` or `residual`");
  }
  if (*use_adapters) {
    const std::pair<const void*, const char*> adapter[] = {{a.profile_of, "`profile_of`"},
                                                           {a.down, "`down`"},
                                                           {a.down_bias, "`down_bias`"},
                                                           {a.up, "`up`"},
                                                           {a.up_bias, "`up_bias`"}};
    for (const auto& [pointer, name] : adapter) {
      if (pointer == nullptr) return Bad(std::string(name) + " is null with adapters enabled");
    }
    if ((a.norm_weight == nullptr) != (a.norm_bias == nullptr)) {
      return Bad("`norm_weight` and `norm_bias` must be both null or both set");
    }
  }
  return "";
}

template <typename T>
std::string Launch(const FusedAdapterArgs& a, bool use_adapters, cudaStream_t stream) {
  Params<T> p{};
  p.seq_len = static_cast<int>(a.seq_len);
  p.tiles_per_seq = static_cast<int>((a.seq_len + kTileRows - 1) / kTileRows);
  p.hidden = static_cast<int>(a.hidden);
  p.bottleneck = use_adapters ? static_cast<int>(a.bottleneck) : 0;
  p.num_profiles = use_adapters ? static_cast<int>(a.num_profiles) : 0;
  p.eps = a.eps;
  p.h = static_cast<const T*>(a.h);
  p.residual = static_cast<const T*>(a.residual);
  p.ln_weight = static_cast<const T*>(a.ln_weight);
  p.ln_bias = static_cast<const T*>(a.ln_bias);
  p.out = static_cast<T*>(a.out);
  if (use_adapters) {
    p.profile_of = a.profile_of;
    p.down = static_cast<const T*>(a.down);
    p.down_bias = static_cast<const T*>(a.down_bias);
    p.up = static_cast<const T*>(a.up);
    p.up_bias = static_cast<const T*>(a.up_bias);
    p.norm_weight = static_cast<const T*>(a.norm_weight);
    p.norm_bias = static_cast<const T*>(a.norm_bias);
    p.norm_enabled = a.norm_enabled;
  }

  const size_t shared_bytes =
      use_adapters ? sizeof(float) * SharedFloats(p.hidden, p.bottleneck) : 0;
  const void* kernel = reinterpret_cast<const void*>(&FusedAdapterKernel<T>);
  if (shared_bytes > kDefaultSharedBytes) {
    const cudaError_t error = cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes));
    if (error != cudaSuccess) {
      cudaGetLastError();  // Clear it: this call's failure is reported here.
      return CudaFailure("cudaFuncSetAttribute(MaxDynamicSharedMemorySize)", error);
    }
  }
  const dim3 grid(static_cast<unsigned>(a.batch * p.tiles_per_seq));
  const dim3 block(kThreads);
  void* kernel_args[] = {&p};
  const cudaError_t error =
      cudaLaunchKernel(kernel, grid, block, kernel_args, shared_bytes, stream);
  if (error != cudaSuccess) {
    cudaGetLastError();
    return CudaFailure("cudaLaunchKernel", error);
  }
  return "";
}

}  // namespace

std::string LaunchFusedAdapterSublayer(const FusedAdapterArgs& args, void* stream) {
  bool use_adapters = false;
  if (std::string error = Validate(args, &use_adapters); !error.empty()) return error;
  if (args.batch == 0 || args.seq_len == 0) return "";
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (args.type == ElementType::kFloat16) return Launch<__half>(args, use_adapters, cuda_stream);
  return Launch<float>(args, use_adapters, cuda_stream);
}

bool CudaDeviceAvailable() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    cudaGetLastError();  // No driver or no device: not an error for the caller.
    return false;
  }
  return count > 0;
}

}  // namespace maskserve::cuda
