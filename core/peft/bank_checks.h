// File: core/peft/bank_checks.h
//
// The argument checks the adapter bank and the prototype share: a positive
// configuration field, and a tensor of an expected shape. Both throw
// InvalidArgument naming the field or tensor ("bank.bottleneck: must be
// positive", "prototype.down: shape mismatch").
#ifndef MASKSERVE_CORE_PEFT_BANK_CHECKS_H_
#define MASKSERVE_CORE_PEFT_BANK_CHECKS_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/base/error.h"

namespace maskserve {

inline void RequirePositive(int64_t value, const char* field) {
  if (value <= 0) throw InvalidArgument(std::string("bank.") + field + ": must be positive");
}

inline void RequireShape(const at::Tensor& t, at::IntArrayRef shape, const std::string& what) {
  if (t.sizes() != shape) throw InvalidArgument(what + ": shape mismatch");
}

}  // namespace maskserve

#endif  // MASKSERVE_CORE_PEFT_BANK_CHECKS_H_
