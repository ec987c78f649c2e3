// File: core/fp16.h
//
// IEEE 754 binary16 <-> binary32 conversion (round to nearest even,
// subnormals, inf and NaN preserved), standard library only. Profiles store
// heads and adapter weights as fp16.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_FP16_H_
#define MASKSERVE_CORE_FP16_H_

#include <cstdint>
#include <vector>

namespace maskserve {

uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);

std::vector<uint16_t> FloatsToHalves(const std::vector<float>& values);
std::vector<float> HalvesToFloats(const std::vector<uint16_t>& halves);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_FP16_H_
