#include "core/model/device.h"

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace maskserve {
namespace {

TEST(ResolveDeviceTest, CpuDefaultsToFloat32) {
  DeviceSpec spec = ResolveDevice("cpu", "auto");
  EXPECT_TRUE(spec.device.is_cpu());
  EXPECT_EQ(spec.dtype, c10::kFloat);
  EXPECT_EQ(DeviceName(spec.device), "cpu");
  EXPECT_EQ(DtypeName(spec.dtype), "float32");
}

TEST(ResolveDeviceTest, AutoPicksCudaOnlyWhenAvailable) {
  DeviceSpec spec = ResolveDevice("auto", "auto");
  EXPECT_EQ(spec.device.is_cuda(), CudaAvailable());
  EXPECT_EQ(spec.dtype, CudaAvailable() ? c10::kHalf : c10::kFloat);
}

TEST(ResolveDeviceTest, RejectsUnknownValuesNamingTheField) {
  try {
    ResolveDevice("tpu", "auto");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("device:"), std::string::npos);
  }
  try {
    ResolveDevice("cpu", "int4");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("dtype:"), std::string::npos);
  }
}

TEST(ResolveDeviceTest, HalfPrecisionNeedsCuda) {
  EXPECT_THROW(ResolveDevice("cpu", "float16"), EngineError);
  EXPECT_THROW(ResolveDevice("cpu", "bfloat16"), EngineError);
}

TEST(ResolveDeviceTest, CudaRequestFailsClearlyWithoutCuda) {
  if (CudaAvailable()) GTEST_SKIP() << "CUDA present";
  EXPECT_THROW(ResolveDevice("cuda:0", "auto"), EngineError);
}

}  // namespace
}  // namespace maskserve
