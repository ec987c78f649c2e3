// File: core/model/device.h
//
// Where the engine runs and in which precision. All device and CUDA specifics
// of the engine go through this header (in the spirit of leveldb's port/).
//
//   DeviceSpec spec = ResolveDevice("auto", "auto");  // cuda+fp16 or cpu+fp32
//
// Thread safety: free functions, safe to call from any thread.
#ifndef MASKSERVE_CORE_MODEL_DEVICE_H_
#define MASKSERVE_CORE_MODEL_DEVICE_H_

#include <cstdint>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace maskserve {

// The serving device and the dtype the frozen weights are kept in.
struct DeviceSpec {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
};

// Resolves a device request: "auto" (CUDA when available, else CPU), "cpu",
// "cuda" or "cuda:N"; and a dtype request: "auto" (float16 on CUDA, float32
// on CPU), "float32", "float16" or "bfloat16". Throws InvalidArgument naming
// the field for unknown values, an unavailable CUDA device, or a half dtype
// on CPU.
DeviceSpec ResolveDevice(const std::string& device, const std::string& dtype);

// "cpu", "cuda:0", ...
std::string DeviceName(const c10::Device& device);
// "float32", "float16", "bfloat16".
std::string DtypeName(c10::ScalarType dtype);

// Sets the number of threads LibTorch's intra-op parallelism uses for work
// issued from the calling thread (threads >= 1; 0 leaves LibTorch's default,
// one per core). Threads that have not run LibTorch work yet start with the
// last value set by any thread; threads that have keep their own. Call it at
// the start of a thread that runs forwards or training.
void SetIntraOpThreadsForThisThread(int threads);

// True when LibTorch was built with CUDA and a device is visible.
bool CudaAvailable();

// Bytes the engine has allocated on `device` through LibTorch's CUDA
// caching allocator; 0 on the CPU (process memory covers it) or when this
// LibTorch has no CUDA support.
int64_t DeviceMemoryAllocatedBytes(const c10::Device& device);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_MODEL_DEVICE_H_
