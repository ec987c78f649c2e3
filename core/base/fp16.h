// File: core/base/fp16.h
//
// IEEE 754 binary16 <-> binary32 conversion (round to nearest even,
// subnormals, inf and NaN preserved), standard library only. Profiles store
// heads and adapter weights as fp16.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_CORE_BASE_FP16_H_
#define MASKSERVE_CORE_BASE_FP16_H_

#include <cstdint>

namespace maskserve {

uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);

}  // namespace maskserve

#endif  // MASKSERVE_CORE_BASE_FP16_H_
