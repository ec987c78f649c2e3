#include "core/model/device.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "core/base/error.h"

#ifdef MASKSERVE_WITH_CUDA  // set by CMake for a CUDA LibTorch
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace maskserve {

void SetIntraOpThreadsForThisThread(int threads) {
  if (threads <= 0) return;
  at::init_num_threads();  // this thread's own setting, from now on
  at::set_num_threads(threads);
}

bool CudaAvailable() { return torch::cuda::is_available(); }

int64_t DeviceMemoryAllocatedBytes(const c10::Device& device) {
#ifdef MASKSERVE_WITH_CUDA
  if (device.is_cuda() && CudaAvailable()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].current;  // aggregate pool
  }
#endif
  (void)device;
  return 0;
}

DeviceSpec ResolveDevice(const std::string& device, const std::string& dtype) {
  DeviceSpec spec;
  if (device == "auto" || device.empty()) {
    spec.device = CudaAvailable() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  } else if (device == "cpu") {
    spec.device = c10::Device(c10::kCPU);
  } else if (device.rfind("cuda", 0) == 0) {
    if (!CudaAvailable()) {
      throw InvalidArgument("device: '" + device + "' requested but CUDA is not available");
    }
    int index = 0;
    if (device.size() > 4) {
      if (device[4] != ':' || device.size() == 5) {
        throw InvalidArgument("device: expected cuda or cuda:N, got '" + device + "'");
      }
      try {
        size_t used = 0;
        index = std::stoi(device.substr(5), &used);
        if (used != device.size() - 5 || index < 0) throw std::invalid_argument("");
      } catch (const std::exception&) {
        throw InvalidArgument("device: bad CUDA index in '" + device + "'");
      }
      if (index >= static_cast<int>(torch::cuda::device_count())) {
        throw InvalidArgument("device: '" + device + "' does not exist");
      }
    }
    spec.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  } else {
    throw InvalidArgument("device: expected auto, cpu, cuda or cuda:N, got '" + device + "'");
  }

  if (dtype == "auto" || dtype.empty()) {
    spec.dtype = spec.device.is_cuda() ? c10::kHalf : c10::kFloat;
  } else if (dtype == "float32" || dtype == "fp32") {
    spec.dtype = c10::kFloat;
  } else if (dtype == "float16" || dtype == "fp16") {
    spec.dtype = c10::kHalf;
  } else if (dtype == "bfloat16" || dtype == "bf16") {
    spec.dtype = c10::kBFloat16;
  } else {
    throw InvalidArgument("dtype: expected auto, float32, float16 or bfloat16, got '" + dtype +
                          "'");
  }
  if (spec.device.is_cpu() && spec.dtype != c10::kFloat) {
    throw InvalidArgument("dtype: " + DtypeName(spec.dtype) +
                          " is only supported on CUDA; use float32 on cpu");
  }
  return spec;
}

std::string DeviceName(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
}

std::string DtypeName(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat:
      return "float32";
    case c10::kHalf:
      return "float16";
    case c10::kBFloat16:
      return "bfloat16";
    default:
      return c10::toString(dtype);
  }
}

}  // namespace maskserve
