// Fused FFN output sublayer of a post-LN BERT layer with per-sequence Pfeiffer adapters, as one
// CUDA kernel. Plain C++17 header: no CUDA or LibTorch types; a stream is a `void*` holding a
// cudaStream_t (nullptr = the legacy default stream).
//
// Rows are tokens: rows = batch * seq_len, row r belongs to sequence r / seq_len. With
// s = h + residual and LN(v) = (v - mean) / sqrt(var + eps) * ln_weight + ln_bias (biased
// variance, as torch.layer_norm), every row gets, accumulating in fp32:
//   stock (adapters disabled, or profile -1):  out = LN(s)
//   adapter p:  x = LN(s);  z = x @ down[p] + down_bias[p];
//               if the mid norm applies to p:  z = (z - mean(z)) / sqrt(var(z) + 1e-5)
//                                                  * norm_weight[p] + norm_bias[p];
//               z = relu(z);  a = z @ up[p] + up_bias[p];  out = LN(a + s)
// Shapes (row-major, contiguous, all in `type`): h, residual, out [rows, hidden];
// ln_weight, ln_bias [hidden]; down [P, hidden, bottleneck]; down_bias [P, bottleneck];
// up [P, bottleneck, hidden]; up_bias [P, hidden]; norm_weight, norm_bias [P, bottleneck]
// (both null: no mid norm for anyone); norm_enabled uint8 [P] (null: every profile uses the mid
// norm when norm_weight is given; 0: that profile skips it); profile_of int32 [batch], each in
// -1..P-1 (ids outside [0, P) are treated as -1, so a bad id never reads out of bounds).
// Limits: hidden % 8 == 0 and 8 <= hidden <= 1024; 1 <= bottleneck <= 256 when adapters are used.
// `out` must not overlap any input.
//
// Thread safety: reentrant (no global state besides a per-call cudaFuncSetAttribute on the
// kernel); the work is stream-ordered on `stream`, so inputs must stay valid and outputs must not
// be read until the stream reaches it.

#ifndef MASKSERVE_CORE_CUDA_FUSED_ADAPTER_KERNEL_H_
#define MASKSERVE_CORE_CUDA_FUSED_ADAPTER_KERNEL_H_

#include <cstdint>
#include <string>

namespace maskserve::cuda {

// Element type of every floating-point tensor of one call (inputs, weights and output alike).
enum class ElementType { kFloat32, kFloat16 };

// All pointers are device pointers.
struct FusedAdapterArgs {
  ElementType type = ElementType::kFloat32;
  int64_t batch = 0;       // B sequences
  int64_t seq_len = 0;     // T tokens each
  int64_t hidden = 0;      // d
  int64_t bottleneck = 0;  // b (ignored when the adapters are off)
  float eps = 1e-12f;      // the output LayerNorm's eps

  const void* h = nullptr;          // [B*T, d] FFN output (after its dense layer and bias)
  const void* residual = nullptr;   // [B*T, d] attention sublayer output
  const void* ln_weight = nullptr;  // [d]
  const void* ln_bias = nullptr;    // [d]

  // False: the bare sublayer for every row; the adapter fields below may then be null/zero.
  // True with num_profiles == 0 behaves the same.
  bool adapters_enabled = false;
  int64_t num_profiles = 0;               // P
  const int32_t* profile_of = nullptr;    // [B]
  const void* down = nullptr;             // [P, d, b]
  const void* down_bias = nullptr;        // [P, b]
  const void* up = nullptr;               // [P, b, d]
  const void* up_bias = nullptr;          // [P, d]
  const void* norm_weight = nullptr;      // [P, b] or null
  const void* norm_bias = nullptr;        // [P, b] or null (null exactly when norm_weight is)
  const uint8_t* norm_enabled = nullptr;  // [P] or null

  void* out = nullptr;  // [B*T, d]
};

// Validates `args` (before any CUDA call) and enqueues the fused sublayer on `stream` (a
// cudaStream_t). Returns an empty string on success, else a message naming the bad argument
// (in backquotes, e.g. "`hidden`") or the CUDA error. An empty batch (B*T == 0) is a no-op.
// Never throws, never exits.
std::string LaunchFusedAdapterSublayer(const FusedAdapterArgs& args, void* stream);

// True when a CUDA device is visible to this process.
bool CudaDeviceAvailable();

}  // namespace maskserve::cuda

#endif  // MASKSERVE_CORE_CUDA_FUSED_ADAPTER_KERNEL_H_
